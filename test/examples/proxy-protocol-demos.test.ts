/**
 * The demos' shared flags (examples/common/cli.ts): --proxy-protocol and
 * --trusted-proxies on the http and tcp-echo demos, the proxy demo's
 * --send-proxy-protocol passing its client's address on, and --handoff
 * replacing a tcp-echo instance with one that takes its socket over.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { encodeProxyHeader } from '../../index';
import { startExample, type RunningExample } from '../helpers/example';
import { assertNoFdLeak, openFds } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { receive } from '../helpers/streams';

const CLIENT = '127.0.0.9';

function whoami(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/whoami', localAddress: CLIENT, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

async function stopAll(t: import('ava').ExecutionContext, examples: RunningExample[]): Promise<void> {
  for (const ex of examples) t.is(await ex.stop(), 0, ex.output());
}

test.serial('http --proxy-protocol v2 behind proxy --send-proxy-protocol v2: /whoami names the client; a direct request is refused', async (t) => {
  const before = openFds();
  const app = await startExample('http/main.js', ['--proxy-protocol', 'v2', '--trusted-proxies', '127.0.0.1/32']);
  const front = await startExample('proxy/main.js', ['--upstream', `127.0.0.1:${app.port}`, '--send-proxy-protocol', 'v2']);
  try {
    const r = await whoami(front.port);
    t.is(r.status, 200);
    t.regex(r.body, new RegExp(`^${CLIENT.replace(/\./g, '\\.')} \\d+\\n$`));
    // Straight to the app, without a header: closed unread, never answered.
    await t.throwsAsync(whoami(app.port), { code: 'ECONNRESET' });
  } finally {
    await stopAll(t, [front, app]);
  }
  await assertNoFdLeak(t, before);
});

test.serial('tcp-echo --proxy-protocol any: the header is not echoed; a bad flag value is refused', async (t) => {
  const before = openFds();
  const echo = await startExample('tcp-echo/main.js', ['--proxy-protocol', 'any']);
  try {
    for (const version of ['v1', 'v2'] as const) {
      const socket = net.connect(echo.port, '127.0.0.1');
      const got = receive(socket);
      socket.end(Buffer.concat([encodeProxyHeader(version, { source: { address: '192.0.2.1', port: 1 }, destination: { address: '192.0.2.2', port: 2 } }), Buffer.from('hi')]));
      t.is((await got.end()).toString(), 'hi');
      socket.destroy();
    }
  } finally {
    await stopAll(t, [echo]);
  }
  await t.throwsAsync(startExample('tcp-echo/main.js', ['--proxy-protocol', 'v3']), { message: /bad --proxy-protocol v3/ });
  await assertNoFdLeak(t, before);
});

test.serial('tcp-echo --handoff: a second instance takes the port over, the first drains and exits 0', async (t) => {
  const before = openFds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-demo-handoff-'));
  const sock = path.join(dir, 'echo.sock');
  const first = await startExample('tcp-echo/main.js', ['--handoff', sock]);
  // The same flags: --port 0 is ignored when there is a socket to take over.
  const second = await startExample('tcp-echo/main.js', ['--handoff', sock]);
  try {
    t.is(second.port, first.port);
    t.regex(second.output(), new RegExp(`taken over from pid ${first.proc.pid}`));
    // It exits by itself once drained; stop() then only collects the exit code.
    await until(() => first.proc.exitCode !== null || first.proc.signalCode !== null, 'the first instance to exit', 10_000);
    t.is(await first.stop(), 0);
    t.regex(first.output(), /handed off to pid \d+; draining/);
    const socket = net.connect(second.port, '127.0.0.1');
    const got = receive(socket);
    socket.end('still served');
    t.is((await got.end()).toString(), 'still served');
    socket.destroy();
  } finally {
    await stopAll(t, [second]);
    await first.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await assertNoFdLeak(t, before);
});
