/**
 * examples/tcp-echo with node:net clients and, where installed, nc
 * (netcat-openbsd): bytes come back unchanged, for several clients at once
 * and for more data than any buffer holds; and the server stops gracefully.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { RawClient, requireOpenBsdNetcat, run, withClient } from '../helpers/clients';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);

/** nc -N: half-closes after its input, then prints what came back until the server's FIN. */
function nc(port: number, input: string) {
  return run('nc', ['-N', '127.0.0.1', String(port)], { input, timeoutMs: 10_000 });
}

/**
 * What nc -N does, with node:net: sends `input`, half-closes (or, with
 * `halfClose` false, waits for the echo and closes, as nc -q does), and
 * resolves with everything received until the server's FIN.
 */
function netEcho(port: number, input: string, halfClose = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (!halfClose && received >= Buffer.byteLength(input)) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
    if (halfClose) socket.end(input);
    else socket.write(input);
  });
}

test.serial('node:net gets its lines back, with and without a half-close', async (t) => {
  const ex = await start('tcp-echo/main.js');
  t.is(await netEcho(ex.port, 'hello\nworld\n'), 'hello\nworld\n');
  t.is(await netEcho(ex.port, 'once more\n', false), 'once more\n');
  t.is(await ex.stop(), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});

test.serial('8 node:net clients at once, 1.3 MB each, each gets exactly its own bytes back', async (t) => {
  const ex = await start('tcp-echo/main.js');
  const inputs = Array.from({ length: 8 }, () => randomBytes(1024 * 1024).toString('base64'));
  const results = await Promise.all(inputs.map((input) => netEcho(ex.port, input)));
  results.forEach((r, i) => t.true(r === inputs[i], `client ${i}: ${r.length} of ${inputs[i].length} bytes, equal: ${r === inputs[i]}`));
  t.is(await ex.stop(), 0, ex.output());
});

if (withClient('nc')) test.serial('nc gets its lines back, and -q 1 (no half-close) works too', async (t) => {
  requireOpenBsdNetcat();
  const ex = await start('tcp-echo/main.js');
  const r = await nc(ex.port, 'hello\nworld\n');
  t.is(r.code, 0);
  t.is(r.stdout, 'hello\nworld\n');
  // -q 1: nc never half-closes; it quits a second after its input ends.
  const q = await run('nc', ['-q', '1', '127.0.0.1', String(ex.port)], { input: 'once more\n' });
  t.is(q.stdout, 'once more\n');
  t.is(await ex.stop(), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});

if (withClient('nc')) test.serial('8 nc clients at once, 1.3 MB each, each gets exactly its own bytes back', async (t) => {
  requireOpenBsdNetcat();
  const ex = await start('tcp-echo/main.js');
  const inputs = Array.from({ length: 8 }, () => randomBytes(1024 * 1024).toString('base64'));
  const results = await Promise.all(inputs.map((input) => nc(ex.port, input)));
  results.forEach((r, i) => {
    t.is(r.code, 0);
    t.true(r.stdout === inputs[i], `client ${i}: ${r.stdout.length} of ${inputs[i].length} bytes, equal: ${r.stdout === inputs[i]}`);
  });
  t.is(await ex.stop(), 0, ex.output());
});

test.serial('SIGTERM: an idle client gets a FIN; bytes it sends after that do not crash the server; exit code 0', async (t) => {
  const ex = await start('tcp-echo/main.js');
  const c = await RawClient.connect(ex.port);
  try {
    c.write('before\n');
    await c.waitFor(/before\n/);
    const exit = ex.stop('SIGTERM');
    await c.waitEnded();
    c.write('after the FIN\n');
    c.socket.end();
    t.is(await exit, 0, ex.output());
    t.is(c.text, 'before\n');
  } finally {
    await c.destroy();
  }
});

test.serial('SIGINT exits with 0 too', async (t) => {
  const ex = await start('tcp-echo/main.js');
  t.is(await ex.stop('SIGINT'), 0, ex.output());
});
