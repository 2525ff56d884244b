/**
 * The http example's close-delimited responses and deadlines, against
 * node:http, node:net and (where installed) curl clients: a download is
 * never cut by the linger or the keep-alive timeout, a reader that stops for
 * good is closed by the send timeout, and peers dribbling a head byte by byte
 * get 408 and are closed while everyone else is served.
 *
 * The big file is larger than loopback's socket buffers absorb (~15 MB
 * measured here), so its tail is still queued in the server while the client
 * reads: that is when a close or a timeout would cut it.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Dribbler, serverSockets, serverSocketsBackTo } from '../helpers/deadlines';
import type { RunningExample } from '../helpers/example';
import { httpTools, sha256 } from '../helpers/http-client';
import { assertNoFdLeak, delay, openFds } from '../helpers/leaks';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);
const BIG = 24_000_000;
let tmp = '';
let root = '';
let bigHash = '';

test.before(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-http-deadlines-')));
  root = path.join(tmp, 'root');
  fs.mkdirSync(root);
  const big = randomBytes(BIG);
  bigHash = sha256(big);
  fs.writeFileSync(path.join(root, 'big.bin'), big);
});

test.after.always(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function stopped(t: import('ava').ExecutionContext, ex: RunningExample): Promise<void> {
  t.is(await ex.stop(), 0, ex.output());
}

// Regression: the 2 s linger after a close-delimited response started when
// the response was queued, so the server closed with most of a large file
// unsent and curl stopped with exit 18 (partial file). A 100 ms linger makes
// the old bug certain; the fix starts it after the last byte has left.
for (const client of httpTools()) {
  test.serial(`HTTP/1.0 and Connection: close at a limited rate get the whole 24 MB file (the linger starts after the last byte) (${client.name})`, async (t) => {
    const before = openFds();
    const ex = await start('http/main.js', ['--root', root, '--lingering-time', '100']);
    const idle = serverSockets(ex); // the listener, and stdout and stderr (socket pairs)
    const url = `http://127.0.0.1:${ex.port}/static/big.bin`;
    for (const [mode, options] of [['HTTP/1.0', { http10: true }], ['Connection: close', { headers: { Connection: 'close' } }]] as const) {
      const out = path.join(tmp, 'download.bin');
      const r = await client.download(url, out, { ...options, bytesPerSecond: 16 * 1024 * 1024 });
      t.deepEqual(r, { status: 200, size: BIG }, mode);
      t.is(sha256(fs.readFileSync(out)), bigHash, mode);
      fs.rmSync(out);
    }
    t.is(await serverSocketsBackTo(ex, idle), idle, 'the server closed both connections');
    await stopped(t, ex);
    await assertNoFdLeak(t, before);
  });
}

/** A keep-alive GET on a raw socket that reads `pauseAfter` body bytes, pauses `pauseMs`, then reads the rest. */
function pausingDownload(port: number, pauseAfter: number, pauseMs: number) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  let head = '';
  let body = 0;
  let length = -1;
  let paused = false;
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const done = new Promise<{ status: string; body: number }>((resolve) => {
    socket.on('data', (d: Buffer) => {
      let chunk = d;
      if (length < 0) {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
        chunk = Buffer.from(head.slice(end + 4), 'latin1');
        head = head.slice(0, end);
      }
      body += chunk.length;
      if (!paused && body >= pauseAfter) {
        paused = true;
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
      if (body >= length) resolve({ status: head.split('\r\n')[0], body });
    });
    socket.on('close', () => resolve({ status: head.split('\r\n')[0], body }));
  });
  socket.write('GET /static/big.bin HTTP/1.1\r\nHost: a\r\n\r\n');
  return { socket, done, closed };
}

// Regression: serve()'s idle sweeper saw no traffic while the reader paused
// and closed the connection with the rest of the file still queued.
test.serial('a keep-alive download whose reader pauses longer than --keep-alive-timeout completes; then the idle connection closes', async (t) => {
  const before = openFds();
  const ex = await start('http/main.js', ['--root', root, '--keep-alive-timeout', '300']);
  const idle = serverSockets(ex); // the listener, and stdout and stderr (socket pairs)
  const d = pausingDownload(ex.port, 1024 * 1024, 1000);
  const got = await d.done;
  t.is(got.status, 'HTTP/1.1 200 OK');
  t.is(got.body, BIG);
  const idleStart = Date.now();
  await d.closed; // the keep-alive timeout, now that nothing is pending
  t.true(Date.now() - idleStart < 2000, `closed ${Date.now() - idleStart} ms after the download`);
  t.is(await serverSocketsBackTo(ex, idle), idle);
  await stopped(t, ex);
  await assertNoFdLeak(t, before);
});

test.serial('--send-timeout: a reader that stops for good is closed once nothing has left for that long', async (t) => {
  const before = openFds();
  const ex = await start('http/main.js', ['--root', root, '--keep-alive-timeout', '200', '--send-timeout', '600']);
  const idle = serverSockets(ex); // the listener, and stdout and stderr (socket pairs)
  const socket = net.connect({ port: ex.port, host: '127.0.0.1' });
  socket.on('error', () => {});
  socket.pause();
  socket.write('GET /static/big.bin HTTP/1.1\r\nHost: a\r\n\r\n');
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = Date.now();
  while (serverSockets(ex) !== idle + 1 && Date.now() - started < 2000) await delay(5);
  t.is(serverSockets(ex), idle + 1, 'connected');
  // Not the 200 ms keep-alive timeout: output is pending.
  await delay(400);
  t.is(serverSockets(ex), idle + 1, 'still open after the keep-alive timeout');
  t.is(await serverSocketsBackTo(ex, idle, 3000), idle, 'closed by the send timeout');
  const elapsed = Date.now() - started;
  t.true(elapsed >= 550 && elapsed < 2500, `closed after ${elapsed} ms`);
  socket.destroy();
  await stopped(t, ex);
  await assertNoFdLeak(t, before);
});

// Regression: each dribbled byte reset the idle timeout, so a peer sending a
// byte every second held its connection forever (Slowloris).
for (const client of httpTools()) {
  test.serial(`--header-timeout: peers dribbling heads get 408 and are closed; others are served meanwhile (${client.name})`, async (t) => {
    const before = openFds();
    const headerTimeout = 700;
    const ex = await start('http/main.js', ['--root', root, '--header-timeout', String(headerTimeout), '--keep-alive-timeout', '400', '--lingering-time', '200']);
    const idle = serverSockets(ex); // the listener, and stdout and stderr (socket pairs)
    const dribblers = [
      // An endless header value, one byte every 50 ms: never idle, never complete.
      ...Array.from({ length: 15 }, () => new Dribbler(ex.port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ', 'a', 50)),
      // Blank lines before a request line (RFC 9112 §2.2 lets a server skip them): never a request.
      ...Array.from({ length: 5 }, () => new Dribbler(ex.port, '\r\n', '\r\n', 50)),
    ];
    try {
      // Meanwhile a client is served, promptly, on fresh connections and on a kept-alive one.
      let served = 0;
      const started = Date.now();
      while (Date.now() - started < headerTimeout + 300) {
        const r = await client.keepAlive([`http://127.0.0.1:${ex.port}/`, `http://127.0.0.1:${ex.port}/`]);
        t.deepEqual(r.responses.map((x) => x.status), [200, 200]);
        served++;
        await delay(50);
      }
      t.true(served >= 3, `${served} rounds served during the dribble`);
      const deadline = Date.now() + 3000;
      while (dribblers.some((d) => d.goneAfter === null) && Date.now() < deadline) await delay(20);
      for (const [i, d] of dribblers.entries()) {
        t.regex(d.received, /^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*Connection: close\r\n/, `dribbler ${i}`);
        t.true(d.finAfter !== null && d.finAfter >= headerTimeout - 50 && d.finAfter < headerTimeout + 1000, `dribbler ${i}: FIN after ${d.finAfter} ms`);
        // It kept dribbling after the FIN: the linger, which bytes do not reset, closed it.
        t.true(d.goneAfter !== null && d.goneAfter < headerTimeout + 2000, `dribbler ${i}: gone after ${d.goneAfter} ms`);
      }
      t.is(await serverSocketsBackTo(ex, idle), idle, 'the server holds no dribbler');
    } finally {
      await Promise.all(dribblers.map((d) => d.stop()));
    }
    await stopped(t, ex);
    await assertNoFdLeak(t, before);
  });
}

test.serial('requests spread over longer than --header-timeout on one connection are all answered (the clock restarts per request)', async (t) => {
  const before = openFds();
  // A head takes ~100 ms, a tenth of the deadline (timers run late on a loaded
  // machine); all 8 take 1.6 s, longer than it.
  const ex = await start('http/main.js', ['--root', root, '--header-timeout', '1000', '--keep-alive-timeout', '3000']);
  const idle = serverSockets(ex); // the listener, and stdout and stderr (socket pairs)
  const socket = net.connect({ port: ex.port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await new Promise((resolve) => socket.once('connect', resolve));
  // Each request sent in two halves 100 ms apart, 8 in a row: 1.6 s in all.
  for (let i = 0; i < 8; i++) {
    socket.write('GET / HTTP/1.1\r\n');
    await delay(100);
    socket.write('Host: a\r\n\r\n');
    await delay(100);
  }
  const deadline = Date.now() + 2000;
  while ((text.match(/HTTP\/1\.1 200 OK/g) ?? []).length < 8 && Date.now() < deadline) await delay(10);
  t.is((text.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 8);
  t.notRegex(text, /408/);
  await new Promise<void>((resolve) => socket.end(() => resolve()));
  socket.destroy();
  t.is(await serverSocketsBackTo(ex, idle), idle);
  await stopped(t, ex);
  await assertNoFdLeak(t, before);
});

test.serial('bad deadline flags are usage errors (exit code 2)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const main = path.resolve(__dirname, '../../examples/http/main.js');
  for (const [flag, value] of [['--header-timeout', '-1'], ['--keep-alive-timeout', '1.5'], ['--send-timeout', 'soon'], ['--lingering-time', '']]) {
    const r = spawnSync(process.execPath, [main, '--port', '0', `${flag}=${value}`], { encoding: 'utf8', timeout: 10_000 });
    t.is(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    t.regex(r.stderr, new RegExp(`^http: ${flag} must be a whole number of milliseconds`), flag);
  }
});
