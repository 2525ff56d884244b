/**
 * On io_uring, datagrams arrive by multishot recvmsg, stream bytes by
 * multishot recv, and outgoing connections are made by IORING_OP_CONNECT:
 * in the ring, not by syscalls. Proven by running the work under a seccomp
 * filter that refuses recvmmsg, recvmsg, recvfrom and connect with EPERM
 * (test/fixtures/c/deny-syscalls.c): the kernel runs a ring's requests
 * without the syscall entry a filter sees, so any receive or connect that
 * still went through a syscall fails. Before the datagram path, UDP on
 * io_uring was readiness plus recvmmsg; before the connect path, connect(2)
 * plus a poll for writability.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { Reactor } from '../../index';
import { dgramClient } from '../helpers/udp';
import { until } from '../helpers/readiness';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SOURCE = path.join(ROOT, 'test', 'fixtures', 'c', 'deny-syscalls.c');
const CHILD = path.join(__dirname, '..', 'fixtures', 'streams', 'ring-only-io.js');
const DENIED = 'recvmmsg,recvmsg,recvfrom,connect';

// Once, in the io_uring run of the suite (the child picks its backend itself).
const here = Reactor.available.includes('io_uring') && (process.env.RXNET_BACKEND ?? 'io_uring') === 'io_uring';

(here ? test.serial : test.skip)('io_uring receives datagrams and stream bytes and connects with recvmmsg, recvmsg, recvfrom and connect refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-seccomp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const exe = path.join(dir, 'deny-syscalls');
  const cc = spawnSync('cc', ['-O1', '-Wall', '-Wextra', '-o', exe, SOURCE], { encoding: 'utf8' });
  t.is(cc.status, 0, `cc: ${cc.stderr}`);

  // The filter works: node:net's connect(2) under it fails with EPERM.
  const probe = spawnSync(exe, ['EPERM', DENIED, process.execPath, '-e', "require('node:net').connect(9, '127.0.0.1').on('error', (e) => console.log(e.code))"], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.is(probe.stdout.trim(), 'EPERM', `a plain connect under the filter: ${probe.stdout} ${probe.stderr}`);

  const child = spawn(exe, ['EPERM', DENIED, process.execPath, CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  await until(() => out.includes('\n') || child.exitCode !== null, 'the child to report', 20_000);
  t.is(child.exitCode, null, `the child is serving: ${err}`);
  const ready = JSON.parse(out.split('\n')[0]) as { udp: number; small: number; tcp: number; roundTrip: string; refused: string };
  t.is(ready.roundTrip, 'ping over the ring', 'connect() and a round trip');
  t.regex(ready.refused, /^ECONNREFUSED connect connect ECONNREFUSED 127\.0\.0\.1:\d+$/, 'a refused connect is a Node-shaped ECONNREFUSED');

  const client = await dgramClient();
  t.teardown(() => client.close());
  // Small and large datagrams, an empty one, and one of 60,000 bytes.
  const sent = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(1400, 7), Buffer.alloc(60_000, 9)];
  for (let i = 0; i < 200; i++) sent.push(Buffer.from(`datagram ${i}`));
  // In groups, each echoed before the next goes: what is tested is the
  // path, not how much a socket buffer holds on a busy machine.
  for (let i = 0; i < sent.length; i += 25) {
    for (const d of sent.slice(i, i + 25)) await client.send(d, ready.udp);
    const want = Math.min(i + 25, sent.length);
    await until(() => client.received.length >= want, `echoes of the first ${want} datagrams (${client.received.length} so far)`, 10_000);
  }
  const key = (b: Buffer) => b.toString('hex');
  t.deepEqual(client.received.map((r) => key(r.data)).sort(), sent.map(key).sort(), 'every datagram came back whole');
  t.true(client.received.every((r) => r.address === '127.0.0.1' && r.port === ready.udp));

  // maxMessageSize 8: cut to 8 bytes and flagged, as with recvmmsg.
  await client.send(Buffer.from('0123456789abcdef'), ready.small);
  await client.send(Buffer.from('short'), ready.small);
  await until(() => client.received.length === sent.length + 2, 'the small socket\'s answers', 10_000);
  const answers = client.received.slice(sent.length).map((r) => JSON.parse(r.data.toString()) as { length: number; truncated: boolean; hex: string });
  t.deepEqual(answers, [
    { length: 8, truncated: true, hex: Buffer.from('01234567').toString('hex') },
    { length: 5, truncated: false, hex: Buffer.from('short').toString('hex') },
  ]);

  child.stdin.end();
  t.is(await exited, 0, `the child exits by itself once its sockets close: ${err}`);
});
