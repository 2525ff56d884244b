/**
 * The dns example over TCP: its message framing (linear in the input however
 * it is split) and its per-query deadline, against dig and raw node:net
 * peers that dribble queries a byte at a time.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { Class, encode, message, parse, Rcode, Type } from '../../examples/dns/message';
import { MessageFramer, tcpMessages } from '../../examples/dns/tcp';
import { Dribbler, serverSockets, serverSocketsBackTo } from '../helpers/deadlines';
import { withClient } from '../helpers/clients';
import { digShort, framed, resolverFor, TcpDnsClient } from '../helpers/dig';
import { assertNoFdLeak, backend, delay, openFds } from '../helpers/leaks';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);
const withDig = withClient('dig');

function query(id: number, name: string, type: number = Type.A): Buffer {
  return encode(message({ id, rd: true, questions: [{ name, type, class: Class.IN }] }));
}

/** Frames `input` split into `sizes` (cycled), collecting the messages. */
function frameIn(input: Buffer, sizes: number[]): Buffer[] {
  const framer = new MessageFramer();
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const n = sizes[i % sizes.length];
    framer.push(input.subarray(at, at + n), (m) => (out.push(Buffer.from(m)), true));
    at += n;
  }
  return out;
}

test('framing: the same messages however the input is split, empty and 64 KiB ones included', (t) => {
  const messages = [Buffer.alloc(0), Buffer.from('a'), query(1, 'www.example.test.'), Buffer.alloc(65535, 7), Buffer.from('xy'), Buffer.alloc(1000, 3)];
  const input = Buffer.concat(messages.map(framed));
  for (const sizes of [[input.length], [1], [2], [3], [1, 2], [7, 1, 300], [65536], [65537, 1], [4096]]) {
    t.deepEqual(frameIn(input, sizes), messages, `chunks of ${sizes.join(',')}`);
  }
});

test('framing: a message that arrives whole is passed on without a copy', (t) => {
  const chunk = Buffer.concat([framed(Buffer.from('abc')), framed(Buffer.from('de'))]);
  const seen: Buffer[] = [];
  new MessageFramer().push(chunk, (m) => (seen.push(m), true));
  t.is(seen.length, 2);
  t.is(seen[0].buffer, chunk.buffer);
  t.is(seen[1].buffer, chunk.buffer);
});

// Regression: lengthPrefixed() re-concatenated everything pending on every
// chunk, so a 64 KiB message dribbled a byte at a time cost ~0.6 s of CPU
// (quadratic; 1.46 s measured with rxjs from() feeding it here); gathering
// is now linear (~50 ms, most of it from() itself).
test('framing: a 64 KiB message fed one byte at a time costs time linear in its size', async (t) => {
  const input = framed(Buffer.alloc(65535, 9));
  const chunks = Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1));
  const cpu = process.cpuUsage();
  const out = await lastValueFrom(from(chunks).pipe(tcpMessages({ timeoutMs: 0 }), toArray()));
  const used = process.cpuUsage(cpu);
  const ms = (used.user + used.system) / 1000;
  t.is(out.length, 1);
  t.true(out[0].equals(Buffer.alloc(65535, 9)));
  t.true(ms < 400, `${ms.toFixed(1)} ms of CPU`);
});

test('framing: input that ends inside a message errors with ERR_DNS_PARTIAL_MESSAGE', async (t) => {
  const input = framed(query(1, 'www.example.test.'));
  for (const cut of [1, 2, 10]) {
    const err = await t.throwsAsync(lastValueFrom(from([input.subarray(0, cut)]).pipe(tcpMessages({ timeoutMs: 0 }))));
    t.is((err as Error & { code?: string }).code, 'ERR_DNS_PARTIAL_MESSAGE', `cut at ${cut}`);
  }
});

// ---- the server --------------------------------------------------------------

// Regression: every dribbled byte reset the 10 s idle timeout, so a peer
// sending a byte a second held its connection forever.
test.serial('--tcp-query-timeout: peers dribbling queries are reset; others are answered meanwhile over UDP and TCP', async (t) => {
  const before = openFds();
  const timeoutMs = 600;
  const ex = await start('dns/main.js', ['--tcp-query-timeout', String(timeoutMs)]);
  const idle = serverSockets(ex); // the listener, the UDP socket, stdout and stderr
  const q = framed(query(0x77, 'www.example.test.'));
  const dribblers = [
    // The length prefix, then the query one byte every 50 ms: 33 bytes would take 1.6 s.
    ...Array.from({ length: 8 }, () => new Dribbler(ex.port, q.subarray(0, 2).toString('latin1'), 'a', 50)),
    // A prefix announcing 64 KiB, then a byte every 50 ms.
    ...Array.from({ length: 4 }, () => new Dribbler(ex.port, '\xff\xff', 'b', 50)),
  ];
  try {
    let answered = 0;
    const started = Date.now();
    const resolver = resolverFor(ex.port);
    // At least two rounds, however slow the machine: the first comes during the dribble.
    while (Date.now() - started < timeoutMs + 300 || answered < 2) {
      // Over TCP on a fresh connection, and over UDP with Node's resolver; with dig too where installed.
      const tcp = await TcpDnsClient.connect(ex.port);
      tcp.socket.write(framed(query(0x78, 'www.example.test.')));
      t.deepEqual((await tcp.waitFor(1)).map((m) => parse(m).answers.map((a) => a.data)), [[{ kind: 'address', address: '192.0.2.10' }]]);
      await tcp.close();
      t.deepEqual(await resolver.resolve6('www.example.test'), ['2001:db8::10']);
      if (withDig) {
        t.deepEqual(await digShort(ex.port, ['+tcp', 'www.example.test']), ['192.0.2.10']);
        t.deepEqual(await digShort(ex.port, ['www.example.test', 'AAAA']), ['2001:db8::10']);
      }
      answered++;
    }
    t.true(answered >= 2, `${answered} rounds of queries during the dribble`);
    const deadline = Date.now() + 3000;
    while (dribblers.some((d) => d.goneAfter === null) && Date.now() < deadline) await delay(20);
    for (const [i, d] of dribblers.entries()) {
      t.true(d.goneAfter !== null && d.goneAfter >= timeoutMs - 50 && d.goneAfter < timeoutMs + 1500, `dribbler ${i}: gone after ${d.goneAfter} ms`);
      t.is(d.received, '', `dribbler ${i}: nothing was answered`);
    }
    t.is(await serverSocketsBackTo(ex, idle), idle, 'the server holds no dribbler');
  } finally {
    await Promise.all(dribblers.map((d) => d.stop()));
  }
  t.is(await ex.stop(), 0, ex.output());
  await assertNoFdLeak(t, before);
});

test.serial('--tcp-query-timeout: queries each split over 100 ms, on one connection for longer than the timeout, are all answered', async (t) => {
  const before = openFds();
  const ex = await start('dns/main.js', ['--tcp-query-timeout', '300']);
  const c = await TcpDnsClient.connect(ex.port);
  try {
    c.socket.setNoDelay(true);
    for (let i = 0; i < 8; i++) {
      const q = framed(query(100 + i, 'example.test.', Type.MX));
      c.socket.write(q.subarray(0, 5));
      await delay(100);
      c.socket.write(q.subarray(5));
      await delay(100);
    }
    const replies = (await c.waitFor(8)).map((m) => parse(m));
    t.deepEqual(
      replies.map((r) => [r.id, r.rcode, r.answers.length]),
      Array.from({ length: 8 }, (_, i) => [100 + i, Rcode.NOERROR, 2]),
    );
    t.false(c.ended, 'the connection is still open');
  } finally {
    await c.close();
  }
  t.is(await ex.stop(), 0, ex.output());
  await assertNoFdLeak(t, before);
});

test.serial('a bad --tcp-query-timeout is a usage error (exit code 2)', (t) => {
  const main = path.resolve(__dirname, '../../examples/dns/main.js');
  const r = spawnSync(process.execPath, [main, '--port', '0', '--backend', backend, '--tcp-query-timeout=-5'], { encoding: 'utf8', timeout: 10_000 });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /^dns: --tcp-query-timeout must be a whole number of milliseconds/);
});
