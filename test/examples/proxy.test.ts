/**
 * The proxy example: node:http (and curl where installed) through it to the
 * http example, byte-exact large transfers with a slow reader, half-close
 * and reset propagation against a node:net upstream, and a dead upstream.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sys } from '../../index';
import { run, withClient } from '../helpers/clients';
import { serverSockets, serverSocketsBackTo, socketStates } from '../helpers/deadlines';
import type { RunningExample } from '../helpers/example';
import { startExample } from '../helpers/example';
import { httpTools, sha256 } from '../helpers/http-client';
import { assertNoFdLeak, delay, openFds } from '../helpers/leaks';
import { listener } from '../helpers/sockets';

let tmp = '';
let http: RunningExample | null = null;
let proxy: RunningExample | null = null;
/** A proxy in front of `upstream`, the test's own scripted server. */
let relay: RunningExample | null = null;
let upstream: net.Server | null = null;
let big: Buffer;
const running: RunningExample[] = [];
/** Upstream's sockets, in accept order, and what each received before its peer's FIN. */
const upSockets: net.Socket[] = [];
const upReceived: string[] = [];

async function start(script: string, args: string[]): Promise<RunningExample> {
  const ex = await startExample(script, args);
  running.push(ex);
  return ex;
}

/**
 * The scripted upstream: the first bytes a client sends through the relay
 * pick what it does.
 *   echo-fin:... after the client's FIN, answers `got:<all it received>` and FINs.
 *   fin-first    FINs at once (after "bye"), keeps reading until the client's FIN.
 *   reset        resets the connection.
 *   tick         writes a line every 20 ms until closed.
 *   anything else: reads and records.
 */
function scriptedUpstream(): Promise<net.Server & { port: number }> {
  return new Promise((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      upSockets.push(s);
      s.on('error', () => {});
      let got = '';
      let timer: NodeJS.Timeout | null = null;
      s.on('close', () => timer && clearInterval(timer));
      s.on('data', (d) => {
        const first = got === '';
        got += d;
        if (!first) return;
        if (got.startsWith('fin-first')) s.end('bye');
        else if (got.startsWith('reset')) s.resetAndDestroy();
        else if (got.startsWith('tick')) timer = setInterval(() => s.write('tick\n'), 20);
      });
      s.on('end', () => {
        upReceived.push(got);
        if (got.startsWith('echo-fin:')) s.end(`got:${got}`);
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(Object.assign(server, { port: (server.address() as net.AddressInfo).port })));
  });
}

test.before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-proxy-'));
  big = Buffer.from(Array.from({ length: 8 * 1024 * 1024 }, () => (Math.random() * 256) | 0));
  fs.writeFileSync(path.join(tmp, 'big.bin'), big);
  const up = await scriptedUpstream();
  upstream = up;
  [http, relay] = await Promise.all([start('http/main.js', ['--root', tmp]), start('proxy/main.js', ['--upstream', `127.0.0.1:${up.port}`])]);
  proxy = await start('proxy/main.js', ['--upstream', `127.0.0.1:${http.port}`]);
});

test.after.always(async () => {
  for (const ex of running) await ex.stop('SIGKILL');
  for (const s of upSockets) s.destroy();
  upstream?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Resolves once `socket` has closed: with the error code, or null for a clean close. */
function closedWith(socket: net.Socket): Promise<string | null> {
  return new Promise((resolve) => {
    let code: string | null = null;
    socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code ?? 'error'));
    socket.on('close', () => resolve(code));
  });
}

/** A half-open-capable client: the tests decide when to send their FIN. */
const connectTo = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });

const ended = (s: net.Socket) => new Promise<void>((resolve) => s.once('end', () => resolve()));

/** Runs the proxy without the harness: for runs that must fail before listening. */
function runProxy(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'proxy', 'main.js'), ...args], { timeout: 10000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr });
    });
  });
}

test.serial('--upstream is required: a usage error, exit code 2', async (t) => {
  const [missing, bad] = await Promise.all([runProxy(['--port', '0']), runProxy(['--port', '0', '--upstream', 'nope'])]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^proxy: --upstream HOST:PORT is required\nusage: /);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^proxy: bad --upstream nope\n/);
});

for (const client of httpTools()) {
  test.serial(`${client.name} through the proxy to the http example, with keep-alive`, async (t) => {
    const base = `http://127.0.0.1:${proxy!.port}`;
    const r = await client.request(`${base}/`);
    t.is(r.status, 200);
    t.is(r.body.toString(), 'Hello, World!');
    const ranged = await client.request(`${base}/static/big.bin`, { headers: { Range: 'bytes=10-19' } });
    t.is(ranged.status, 206);
    t.deepEqual(ranged.body, big.subarray(10, 20));
    const two = await client.keepAlive([`${base}/`, `${base}/nope`]);
    t.true(two.reused, 'the second request went on the first one\'s connection');
    t.deepEqual(two.responses.map((x) => x.status), [200, 404]);
  });

  test.serial(`an 8 MiB static file through the proxy is byte-exact (${client.name})`, async (t) => {
    const out = path.join(tmp, 'download.bin');
    t.deepEqual(await client.download(`http://127.0.0.1:${proxy!.port}/static/big.bin`, out), { status: 200, size: big.length });
    t.is(sha256(fs.readFileSync(out)), sha256(big));
  });
}

test.serial('an 8 MiB static file through the proxy is byte-exact for a reader that stalls', async (t) => {
  // A reader that stops for a while: backpressure pauses the upstream side
  // instead of losing or reordering bytes.
  const socket = await connectTo(proxy!.port);
  const chunks: Buffer[] = [];
  let received = 0;
  let stalled = false;
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    received += d.length;
    if (!stalled && received > 1024 * 1024) {
      stalled = true;
      socket.pause();
      setTimeout(() => socket.resume(), 300);
    }
  });
  const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
  socket.write('GET /static/big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  await ended;
  socket.destroy();
  const all = Buffer.concat(chunks);
  const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
  t.true(stalled);
  t.is(body.length, big.length);
  t.is(sha256(body), sha256(big));
});

test.serial("either side's FIN half-closes the other; data still flows the other way", async (t) => {
  // The client FINs first; upstream answers on its still-open half, then FINs.
  const c1 = await connectTo(relay!.port);
  let reply = '';
  c1.on('data', (d) => (reply += d));
  const c1closed = closedWith(c1);
  const c1ended = ended(c1);
  c1.end('echo-fin:hello');
  await c1ended;
  t.is(reply, 'got:echo-fin:hello');
  t.is(await c1closed, null);

  // Upstream FINs first; the client can still send until its own FIN.
  const c2 = await connectTo(relay!.port);
  let reply2 = '';
  c2.on('data', (d) => (reply2 += d));
  const c2ended = ended(c2);
  c2.write('fin-first');
  await c2ended;
  t.is(reply2, 'bye');
  const c2closed = closedWith(c2);
  await new Promise((r) => setTimeout(r, 20));
  c2.end(', late words');
  t.is(await c2closed, null);
  while (upReceived.length < 2) await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(upReceived.slice(0, 2), ['echo-fin:hello', 'fin-first, late words']);
});

test.serial('a reset propagates in both directions', async (t) => {
  // Upstream resets: the client sees ECONNRESET.
  const c1 = await connectTo(relay!.port);
  const c1closed = closedWith(c1);
  c1.write('reset');
  t.is(await c1closed, 'ECONNRESET');

  // The client resets: upstream sees ECONNRESET.
  const n = upSockets.length;
  const c2 = await connectTo(relay!.port);
  c2.write('hello');
  while (upSockets.length === n) await new Promise((r) => setTimeout(r, 5));
  const upClosed = closedWith(upSockets[n]);
  await new Promise((r) => setTimeout(r, 20));
  c2.resetAndDestroy();
  t.is(await upClosed, 'ECONNRESET');
});

test.serial('a dead upstream: the client is closed cleanly, one line on stderr, the proxy lives on', async (t) => {
  // A port that was free a moment ago: connecting to it is refused.
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const p = await start('proxy/main.js', ['--upstream', `127.0.0.1:${deadPort}`]);
  for (let i = 0; i < 2; i++) {
    const c = await connectTo(p.port);
    let got = 0;
    c.on('data', (d) => (got += d.length));
    const closed = closedWith(c);
    // Bytes the proxy never reads must not turn its close into a reset.
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await ended(c);
    c.end();
    t.is(await closed, null, 'closed without a reset');
    t.is(got, 0);
  }
  const lines = p.output().split('\n').filter((l) => /ECONNREFUSED/.test(l));
  t.is(lines.length, 2, p.output());
  t.regex(lines[0], new RegExp(`^proxy: upstream 127\\.0\\.0\\.1:${deadPort}: ECONNREFUSED$`));
  t.is(await p.stop(), 0, p.output());
});

// Regression: the http example closed a close-delimited response 2 s after
// queuing it, so a slow client through the proxy got a truncated file.
for (const client of httpTools()) {
  test.serial(`a slow HTTP/1.0 client (${client.name}, rate-limited) through the proxy gets the whole 24 MB file`, async (t) => {
    const before = openFds();
    const root = path.join(tmp, 'slow');
    fs.mkdirSync(root);
    const data = randomBytes(24_000_000);
    fs.writeFileSync(path.join(root, 'big.bin'), data);
    // A short linger makes the old truncation certain: loopback buffers absorb ~15 MB.
    const origin = await start('http/main.js', ['--root', root, '--lingering-time', '100']);
    const front = await start('proxy/main.js', ['--upstream', `127.0.0.1:${origin.port}`]);
    const out = path.join(tmp, 'slow-download.bin');
    const r = await client.download(`http://127.0.0.1:${front.port}/static/big.bin`, out, { http10: true, bytesPerSecond: 16 * 1024 * 1024 });
    t.deepEqual(r, { status: 200, size: data.length });
    t.is(sha256(fs.readFileSync(out)), sha256(data));
    fs.rmSync(out);
    fs.rmSync(root, { recursive: true });
    for (const ex of [front, origin]) t.is(await ex.stop(), 0, ex.output());
    await assertNoFdLeak(t, before);
  });
}

// Regression: the client was not read while the upstream connect was
// pending, so its leaving went unnoticed and both sockets stayed open until
// the 5 s connect timeout.
test.serial('a client that leaves while the upstream connect is pending aborts the connect at once (a FIN, a reset, and nc -z where installed)', async (t) => {
  const before = openFds();
  // An upstream that never accepts, its accept queue full (backlog 0 holds
  // one): the kernel drops further SYNs, so a connect to it stays pending.
  const stalled = listener(0);
  const filler = new net.Socket();
  filler.on('error', () => {});
  await new Promise<void>((resolve) => filler.connect(stalled.port, '127.0.0.1', () => resolve()));
  const p = await start('proxy/main.js', ['--upstream', `127.0.0.1:${stalled.port}`]);
  const idle = serverSockets(p); // the listener, and stdout and stderr (socket pairs)
  try {
    // nc -z connects and closes without sending anything, as a port scan
    // does (the 'fin' client below does the same with node:net).
    if (withClient('nc')) {
      const nc = await run('nc', ['-z', '127.0.0.1', String(p.port)]);
      t.is(nc.code, 0, nc.stderr);
      // nc -z exits as soon as its handshake is done, possibly before the
      // proxy has accepted: a count read then is idle with both sockets yet
      // to come; serverSocketsBackTo waits for the accept queue to empty too.
      const left = await serverSocketsBackTo(p, idle, 1000);
      t.is(left, idle, `nc -z: both sockets closed within 1 s${left === idle ? '' : `; left open: ${socketStates(p)}`}`);
    }

    for (const leave of ['fin', 'reset'] as const) {
      const c = await connectTo(p.port);
      c.on('error', () => {});
      const gone = closedWith(c);
      if (leave === 'reset') c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      // The client, and the proxy's socket connecting upstream.
      t.is(await serverSocketsBackTo(p, idle + 2, 1000), idle + 2, `${leave}: connecting`);
      await delay(100);
      t.is(serverSockets(p), idle + 2, `${leave}: the connect is pending`);
      const left = Date.now();
      if (leave === 'reset') c.resetAndDestroy();
      else c.end();
      const open = await serverSocketsBackTo(p, idle, 1000);
      t.is(open, idle, `${leave}: both sockets closed within 1 s${open === idle ? '' : `; left open: ${socketStates(p)}`}`);
      t.true(Date.now() - left < 1000);
      c.destroy();
      await gone;
    }
    t.notRegex(p.output(), /ETIMEDOUT/, 'no connect ran into its timeout');
    t.is(await p.stop(), 0, p.output());
  } finally {
    filler.destroy();
    sys.close(stalled.fd);
  }
  await assertNoFdLeak(t, before);
});

// Regression: server.shutdown() half-closed connections it thought idle
// although pipeTo was still relaying into them, and pipeTo's next write threw
// ERR_STREAM_WRITE_AFTER_END inside a data$ subscriber, crashing the process.
// Writes after a shutdown's FIN now return false.
test.serial('SIGTERM while relaying to a half-open client exits 0', async (t) => {
  const c = await connectTo(relay!.port);
  c.on('error', () => {});
  c.on('data', () => {});
  c.write('tick');
  await new Promise((r) => setTimeout(r, 100));
  const code = await relay!.stop();
  c.destroy();
  t.is(code, 0, relay!.output());
});

test.serial('SIGTERM: the proxy and the http example exit with code 0, one listening line each', async (t) => {
  for (const ex of [proxy!, http!]) {
    t.is(await ex.stop(), 0, ex.output());
    t.is((ex.output().match(/listening on /g) ?? []).length, 1);
  }
});
