/**
 * The http example against real clients: node:http, and curl where
 * installed, for what they do; raw sockets for pipelining and malformed input. One server serves the whole
 * file (started once, stopped with SIGTERM by the last test).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunningExample } from '../helpers/example';
import { startExample } from '../helpers/example';
import { exchange, get, httpTools, nodeHttp, sha256 } from '../helpers/http-client';
import { RequestError, RequestReader, type HttpRequest } from '../../examples/http/parser';
import { parseRange } from '../../examples/http/static';

const IDLE_MS = 600;
const OLD = new Date('2020-01-02T03:04:05Z');

let ex: RunningExample | null = null;
let base = '';
let tmp = '';
let root = '';
const files: Record<string, Buffer> = {};

test.before(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-http-')));
  root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  const put = (name: string, bytes: Buffer) => {
    fs.writeFileSync(path.join(root, name), bytes);
    files[name] = bytes;
  };
  put('hello.txt', Buffer.from('hello from a file\n'));
  put('page.html', Buffer.from('<!doctype html><title>x</title>\n'));
  put('sub/data.json', Buffer.from('{"a":1}\n'));
  put('blob.xyz', Buffer.from([0, 1, 2, 255]));
  put('empty.txt', Buffer.alloc(0));
  // Random bytes, several times the socket buffers and the high-water mark.
  put('big.bin', Buffer.from(Array.from({ length: 4 * 1024 * 1024 }, () => (Math.random() * 256) | 0)));
  fs.utimesSync(path.join(root, 'hello.txt'), OLD, OLD);
  // Outside the root, and a symlink inside the root that leads there.
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'SECRET\n');
  fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(root, 'escape.txt'));
  fs.symlinkSync('hello.txt', path.join(root, 'alias.txt'));
  ex = await startExample('http/main.js', ['--root', root, '--keep-alive-timeout', String(IDLE_MS)]);
  base = `http://127.0.0.1:${ex.port}`;
});

test.after.always(async () => {
  if (ex) await ex.stop('SIGKILL');
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const port = () => ex!.port;

for (const client of httpTools()) {
  test.serial(`GET / answers Hello, World! with Content-Type and Content-Length (${client.name})`, async (t) => {
    const r = await client.request(`${base}/`);
    t.is(r.status, 200);
    t.is(r.headers['content-type'], 'text/plain');
    t.is(r.headers['content-length'], '13');
    t.truthy(r.headers.date);
    t.is(r.body.toString(), 'Hello, World!');
  });
}

for (const client of httpTools()) {
  test.serial(`static files are byte-exact, with Content-Type by extension, Content-Length and Last-Modified (${client.name})`, async (t) => {
    const types: Record<string, string> = {
      'hello.txt': 'text/plain; charset=utf-8',
      'page.html': 'text/html; charset=utf-8',
      'sub/data.json': 'application/json',
      'blob.xyz': 'application/octet-stream',
      'empty.txt': 'text/plain; charset=utf-8',
      'big.bin': 'application/octet-stream',
    };
    for (const [name, type] of Object.entries(types)) {
      const r = await client.request(`${base}/static/${name}`);
      t.is(r.status, 200, name);
      t.is(r.headers['content-type'], type, name);
      t.is(r.headers['content-length'], String(files[name].length), name);
      t.is(sha256(r.body), sha256(files[name]), name);
    }
    const hello = await client.request(`${base}/static/hello.txt`);
    t.is(hello.headers['last-modified'], OLD.toUTCString());
    t.is(hello.headers['accept-ranges'], 'bytes');
    // A symlink that stays inside the root is served.
    t.is((await client.request(`${base}/static/alias.txt`)).body.toString(), files['hello.txt'].toString());
    // The query string is not part of the path.
    t.is((await client.request(`${base}/static/hello.txt?v=2`)).status, 200);
  });
}

for (const client of httpTools()) {
  test.serial(`a 4 MiB file downloaded to disk matches sha256 (${client.name})`, async (t) => {
    const out = path.join(tmp, 'download.bin');
    t.deepEqual(await client.download(`${base}/static/big.bin`, out), { status: 200, size: files['big.bin'].length });
    t.is(sha256(fs.readFileSync(out)), sha256(files['big.bin']));
  });
}

for (const client of httpTools()) {
  test.serial(`Range: a-b, a- and -n give 206 with Content-Range; unsatisfiable gives 416; invalid ones are ignored (${client.name})`, async (t) => {
    const big = files['big.bin'];
    const size = big.length;
    const r1 = await client.request(`${base}/static/big.bin`, { headers: { Range: 'bytes=0-99' } });
    t.is(r1.status, 206);
    t.is(r1.headers['content-range'], `bytes 0-99/${size}`);
    t.is(r1.headers['content-length'], '100');
    t.deepEqual(r1.body, big.subarray(0, 100));

    const cases: [string, number, number][] = [
      ['bytes=1000-', 1000, size - 1],
      ['bytes=-50', size - 50, size - 1],
      [`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
      [`bytes=-${size * 2}`, 0, size - 1],
    ];
    for (const [range, a, b] of cases) {
      const r = await client.request(`${base}/static/big.bin`, { headers: { Range: range } });
      t.is(r.status, 206, range);
      t.is(r.headers['content-range'], `bytes ${a}-${b}/${size}`, range);
      t.is(sha256(r.body), sha256(big.subarray(a, b + 1)), range);
    }
    for (const range of [`bytes=${size}-`, 'bytes=-0', `bytes=${size + 5}-${size + 9}`]) {
      const r = await client.request(`${base}/static/big.bin`, { headers: { Range: range } });
      t.is(r.status, 416, range);
      t.is(r.headers['content-range'], `bytes */${size}`, range);
    }
    t.is((await client.request(`${base}/static/empty.txt`, { headers: { Range: 'bytes=0-0' } })).status, 416);
    // Reversed, multi-range and other units: served whole (RFC 9110 allows ignoring Range).
    for (const range of ['bytes=9-2', 'bytes=0-1,5-6', 'items=0-1', 'bytes=x-y']) {
      const r = await client.request(`${base}/static/hello.txt`, { headers: { Range: range } });
      t.is(r.status, 200, range);
      t.deepEqual(r.body, files['hello.txt'], range);
    }
    // If-Range with another date: the client's copy is stale, so the whole file.
    const stale = await client.request(`${base}/static/hello.txt`, { headers: { Range: 'bytes=0-3', 'If-Range': 'Mon, 01 Jan 2001 00:00:00 GMT' } });
    t.is(stale.status, 200);
    const fresh = await client.request(`${base}/static/hello.txt`, { headers: { Range: 'bytes=0-3', 'If-Range': OLD.toUTCString() } });
    t.is(fresh.status, 206);
    t.is(fresh.body.toString(), 'hell');
  });
}

for (const client of httpTools()) {
  test.serial(`If-Modified-Since: 304 when not modified, 200 when modified or the date is bad (${client.name})`, async (t) => {
    const url = `${base}/static/hello.txt`;
    const z = await client.request(url, { headers: { 'If-Modified-Since': OLD.toUTCString() } });
    t.is(z.status, 304);
    t.is(z.body.length, 0);
    t.is(z.headers['last-modified'], OLD.toUTCString());
    const later = await client.request(url, { headers: { 'If-Modified-Since': new Date(OLD.getTime() + 86400e3).toUTCString() } });
    t.is(later.status, 304);
    const earlier = await client.request(url, { headers: { 'If-Modified-Since': new Date(OLD.getTime() - 1000).toUTCString() } });
    t.is(earlier.status, 200);
    t.deepEqual(earlier.body, files['hello.txt']);
    t.is((await client.request(url, { headers: { 'If-Modified-Since': 'yesterday-ish' } })).status, 200);
  });
}

for (const client of httpTools()) {
  test.serial(`HEAD: the GET headers without a body (the next pipelined response parses) (${client.name})`, async (t) => {
    const r = await client.request(`${base}/static/big.bin`, { method: 'HEAD' });
    t.is(r.status, 200);
    t.is(r.headers['content-length'], String(files['big.bin'].length));
    const x = await exchange(port(), [`HEAD /static/big.bin HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\n${get('/')}`], {
      expect: 3,
      bodiless: [true, true, false],
    });
    t.deepEqual(
      x.responses.map((r) => [r.status, r.headers['content-length'], r.body.toString()]),
      [
        [200, String(files['big.bin'].length), ''],
        [200, '13', ''],
        [200, '13', 'Hello, World!'],
      ],
    );
  });
}

for (const client of httpTools()) {
  test.serial(`path traversal is refused and never leaves the root (${client.name})`, async (t) => {
    const attempts = [
      '/static/../package.json',
      '/static/../../package.json',
      '/static/%2e%2e/secret.txt',
      '/static/%2E%2E/%2e%2e/package.json',
      '/static/..%2fsecret.txt',
      '/static/sub/..%2F..%2Fsecret.txt',
      '/static/%2e%2e%5csecret.txt',
      '/static/sub/../../secret.txt',
      '/static/escape.txt',
      '/static//etc/passwd',
      '/static/%2fetc%2fpasswd',
      '/static/hello.txt%00.html',
      '/static/%c0%ae%c0%ae/secret.txt',
      '/static/%',
    ];
    for (const p of attempts) {
      const r = await client.request(`${base}${p}`);
      t.true([400, 403, 404].includes(r.status), `${p} -> ${r.status}`);
      t.false(r.body.includes('SECRET'), p);
      t.false(r.body.includes('root:'), p);
    }
    // What curl would not send as is: a raw backslash, a raw NUL.
    for (const target of ['/static/..\\secret.txt', '/static\\..\\..\\package.json']) {
      const x = await exchange(port(), [`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`]);
      t.true([400, 403, 404].includes(x.responses[0]?.status), target);
    }
    const nul = await exchange(port(), [Buffer.from('GET /static/hello.txt\0 HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1')], { untilClose: true });
    t.is(nul.responses[0]?.status, 400);
  });
}

for (const client of httpTools()) {
  test.serial(`404 for missing paths and directories; 405 with Allow for other methods (${client.name})`, async (t) => {
    for (const p of ['/nope', '/static/missing.txt', '/static/sub', '/static/sub/', '/static/', '/staticx']) {
      t.is((await client.request(`${base}${p}`)).status, 404, p);
    }
    for (const method of ['POST', 'DELETE', 'PUT', 'OPTIONS', 'BREW']) {
      const r = await client.request(`${base}/static/hello.txt`, { method });
      t.is(r.status, 405, method);
      t.is(r.headers.allow, 'GET, HEAD', method);
    }
  });
}

for (const client of httpTools()) {
  test.serial(`keep-alive: a client reuses one connection for two URLs (${client.name})`, async (t) => {
    const r = await client.keepAlive([`${base}/`, `${base}/static/hello.txt`]);
    t.true(r.reused, 'the second request went on the first one\'s connection');
    t.is(r.responses.map((x) => x.body.toString()).join(''), `Hello, World!${files['hello.txt']}`);
  });
}

test.serial('pipelining: requests in one write are answered in order', async (t) => {
  const x = await exchange(
    port(),
    [get('/') + get('/static/hello.txt') + get('/nope') + get('/static/big.bin', 'Range: bytes=0-9\r\n') + get('/static/page.html') + get('/')],
    { expect: 6 },
  );
  t.deepEqual(
    x.responses.map((r) => r.status),
    [200, 200, 404, 206, 200, 200],
  );
  t.is(x.responses[1].body.toString(), files['hello.txt'].toString());
  t.deepEqual(x.responses[3].body, files['big.bin'].subarray(0, 10));
  t.deepEqual(x.responses[4].body, files['page.html']);
  t.false(x.closed);
  // A big file between small responses: nothing interleaves.
  const y = await exchange(port(), [get('/static/big.bin') + get('/') + get('/static/big.bin') + get('/static/hello.txt')], { expect: 4 });
  t.deepEqual(
    y.responses.map((r) => r.status),
    [200, 200, 200, 200],
  );
  t.is(sha256(y.responses[0].body), sha256(files['big.bin']));
  t.is(y.responses[1].body.toString(), 'Hello, World!');
  t.is(sha256(y.responses[2].body), sha256(files['big.bin']));
  t.deepEqual(y.responses[3].body, files['hello.txt']);
});

test.serial('pipelining: requests split at odd places across writes', async (t) => {
  const all = get('/') + get('/static/hello.txt') + get('/');
  const pieces = [all.slice(0, 3), all.slice(3, 20), all.slice(20, 41), all.slice(41, 42), all.slice(42)];
  const x = await exchange(port(), pieces, { expect: 3, gapMs: 15 });
  t.deepEqual(
    x.responses.map((r) => r.status),
    [200, 200, 200],
  );
});

test.serial('malformed requests get the right status and a closed connection; the server keeps serving', async (t) => {
  const cases: [string, string | Buffer, number][] = [
    ['bad request line', 'GARBAGE\r\n\r\n', 400],
    ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
    ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['header without colon', 'GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n', 400],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n', 400],
    ['bare LF', 'GET / HTTP/1.1\nHost: a\n\n', 400],
    ['control character in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x01\r\n\r\n', 400],
    ['missing Host in HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['conflicting Content-Length', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
    ['bad Content-Length', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400],
    ['raw UTF-8 in the target', Buffer.from('GET /caf\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n', 'utf8'), 400],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505],
    ['a body (Content-Length)', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello', 413],
    ['a body (chunked)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 413],
    ['a 3 KiB request-target', get(`/${'a'.repeat(3000)}`), 414],
    ['a 16 KiB head', get('/', `X-Big: ${'b'.repeat(16 * 1024)}\r\n`), 431],
    ['many headers past 8 KiB', get('/', Array.from({ length: 300 }, (_, i) => `X-H${i}: ${'v'.repeat(30)}\r\n`).join('')), 431],
  ];
  for (const [name, bytes, status] of cases) {
    const x = await exchange(port(), [bytes], { untilClose: true });
    t.is(x.responses[0]?.status, status, `${name}: ${x.raw.toString('latin1').slice(0, 80)}`);
    t.is(x.responses[0]?.headers.connection, 'close', name);
    t.is(x.responses.length, 1, name);
    t.true(x.closed, `${name}: the server closes`);
  }
  // Still serving, on a new connection.
  t.is((await nodeHttp.request(`${base}/`)).status, 200);
});

test.serial('oversized heads and URIs are refused before the rest arrives', async (t) => {
  // 9 KiB of headers and no blank line: 431 at once, not after a timeout.
  const head = await exchange(port(), [`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(9 * 1024)}`], { untilClose: true, timeoutMs: 2000 });
  t.is(head.responses[0]?.status, 431);
  t.true(head.ms < IDLE_MS, `answered after ${head.ms} ms`);
  // A 3 KiB target still arriving (no space, no CRLF yet): 414 at once.
  const uri = await exchange(port(), [`GET /${'u'.repeat(3 * 1024)}`], { untilClose: true, timeoutMs: 2000 });
  t.is(uri.responses[0]?.status, 414);
  t.true(uri.ms < IDLE_MS, `answered after ${uri.ms} ms`);
  // Garbage that never ends a line and has no space: 400, not a wait.
  const junk = await exchange(port(), ['x'.repeat(100)], { untilClose: true, timeoutMs: 2000 });
  t.is(junk.responses[0]?.status, 400);
  // A request after a refused one on the same connection is not answered.
  const after = await exchange(port(), [`GARBAGE\r\n\r\n${get('/')}`], { untilClose: true });
  t.is(after.responses.length, 1);
  t.is((await nodeHttp.request(`${base}/`)).status, 200);
});

for (const client of httpTools()) {
  test.serial(`Connection: close and HTTP/1.0 close after the response; HTTP/1.0 keep-alive stays open (${client.name})`, async (t) => {
    const close11 = await exchange(port(), [get('/', 'Connection: close\r\n') + get('/')], { untilClose: true });
    t.is(close11.responses.length, 1, 'nothing after Connection: close is answered');
    t.is(close11.responses[0].headers.connection, 'close');
    t.true(close11.closed);
    t.true(close11.ms < IDLE_MS);

    const http10 = await exchange(port(), ['GET / HTTP/1.0\r\n\r\n'], { untilClose: true });
    t.is(http10.responses[0]?.status, 200);
    t.is(http10.responses[0].headers.connection, 'close');
    t.true(http10.closed);
    t.true(http10.ms < IDLE_MS);

    const keep10 = await exchange(port(), ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 'GET /static/hello.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n'], { expect: 2, gapMs: 50 });
    t.deepEqual(
      keep10.responses.map((r) => [r.status, r.headers.connection]),
      [
        [200, 'keep-alive'],
        [200, 'keep-alive'],
      ],
    );
    t.false(keep10.closed);
    // The client's HTTP/1.0 mode (curl -0)
    const c = await client.request(`${base}/static/hello.txt`, { http10: true });
    t.deepEqual(c.body, files['hello.txt']);
  });
}

test.serial('an idle keep-alive connection is closed after --keep-alive-timeout', async (t) => {
  const x = await exchange(port(), [get('/')], { untilClose: true, timeoutMs: IDLE_MS * 5 });
  t.is(x.responses[0]?.status, 200);
  t.true(x.closed, 'closed by the server');
  t.true(x.ms >= IDLE_MS * 0.9 && x.ms < IDLE_MS * 3, `closed after ${x.ms} ms`);
});

// Regression: sendfile progress did not count as activity, so serve()'s idle
// sweeper killed a download that was making steady progress.
for (const client of httpTools()) {
  test.serial(`a download longer than the idle timeout still completes (sendFile progress is activity) (${client.name})`, async (t) => {
    // 48 MB read at 64 MB/s takes ~0.75 s, well past a 300 ms idle timeout,
    // and far more than loopback's socket buffers (~10 MB) absorb. (Loopback
    // frees buffer space in bursts, ~10 MB / rate apart: the rate must keep
    // those gaps well under the timeout, or even a fixed server would cut it.)
    const name = 'long.bin';
    const size = 48_000_000;
    fs.writeFileSync(path.join(root, name), Buffer.alloc(size, 7));
    const quick = await startExample('http/main.js', ['--root', root, '--keep-alive-timeout', '300']);
    try {
      const r = await client.download(`http://127.0.0.1:${quick.port}/static/${name}`, '/dev/null', { bytesPerSecond: 64 * 1024 * 1024 });
      t.is(r.size, size);
    } finally {
      t.is(await quick.stop(), 0);
      fs.rmSync(path.join(root, name));
    }
  });
}

for (const client of httpTools()) {
  test.serial(`no file of the root is left open by the server (${client.name})`, async (t) => {
    // Aborted downloads too: the client gives up on the 4 MiB file after its head.
    for (let i = 0; i < 3; i++) await client.abandon(`${base}/static/big.bin`);
    await exchange(port(), [get('/static/big.bin') + get('/static/big.bin')], { expect: 0, timeoutMs: 50 });
    const fdDir = `/proc/${ex!.proc.pid}/fd`;
    if (!fs.existsSync(fdDir)) return t.pass('no /proc here');
    const deadline = Date.now() + 2000;
    let open: string[] = [];
    do {
      open = [];
      for (const fd of fs.readdirSync(fdDir)) {
        try {
          const target = fs.readlinkSync(path.join(fdDir, fd));
          if (target.startsWith(tmp)) open.push(target);
        } catch {
          // closed meanwhile
        }
      }
      if (open.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    } while (Date.now() < deadline);
    t.deepEqual(open, []);
  });
}

test.serial('SIGTERM with a keep-alive connection open: graceful, exit code 0, one listening line', async (t) => {
  const pending = exchange(port(), [get('/')], { untilClose: true, timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 50));
  const code = await ex!.stop();
  const x = await pending;
  t.is(x.responses[0]?.status, 200);
  t.true(x.closed);
  t.is(code, 0, ex!.output());
  t.is((ex!.output().match(/listening on /g) ?? []).length, 1);
  ex = null;
});

// ---- the parser alone ---------------------------------------------------

const drain = (reader: RequestReader): (HttpRequest | RequestError)[] => {
  const out: (HttpRequest | RequestError)[] = [];
  for (let r = reader.next(); r !== null; r = reader.next()) {
    out.push(r);
    if (r instanceof RequestError) break;
  }
  return out;
};

test.serial('parser: pipelined requests give the same result however the input is split', (t) => {
  const input = Buffer.from(`\r\n${get('/a')}HEAD /b?c=d HTTP/1.0\r\nConnection: keep-alive\r\nX-Y:  spaced  \r\n\r\n${get('/c', 'Connection: close\r\nX-Y: 1\r\nx-y: 2\r\n')}`);
  const whole = new RequestReader();
  whole.push(input);
  const expected = drain(whole);
  t.deepEqual(
    expected.map((r) => (r instanceof RequestError ? r.status : [r.method, r.target, r.minor, r.keepAlive])),
    [
      ['GET', '/a', 1, true],
      ['HEAD', '/b?c=d', 0, true],
      ['GET', '/c', 1, false],
    ],
  );
  t.is((expected[1] as HttpRequest).headers['x-y'], 'spaced');
  t.is((expected[2] as HttpRequest).headers['x-y'], '1, 2');
  for (let cut = 1; cut < input.length; cut++) {
    const reader = new RequestReader();
    reader.push(input.subarray(0, cut));
    const got = drain(reader);
    reader.push(input.subarray(cut));
    got.push(...drain(reader));
    t.deepEqual(got, expected, `cut at ${cut}`);
  }
  // Byte by byte.
  const reader = new RequestReader();
  const got: (HttpRequest | RequestError)[] = [];
  for (let i = 0; i < input.length; i++) {
    reader.push(input.subarray(i, i + 1));
    got.push(...drain(reader));
  }
  t.deepEqual(got, expected);
  t.is(reader.buffered, 0);
});

test.serial('parser: limits are enforced without buffering past them', (t) => {
  const reader = new RequestReader({ maxHeadBytes: 100, maxTargetBytes: 20 });
  reader.push(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX: '));
  t.is(reader.next(), null);
  reader.push(Buffer.alloc(80, 0x61));
  const r = reader.next();
  t.true(r instanceof RequestError && r.status === 431);
  t.is(reader.buffered, 0, 'the refused input is dropped');
  t.is(reader.next(), r, 'and the error sticks');

  const uri = new RequestReader({ maxHeadBytes: 100, maxTargetBytes: 20 });
  uri.push(Buffer.from(`GET /${'a'.repeat(20)}`));
  const u = uri.next();
  t.true(u instanceof RequestError && u.status === 414);

  const body = new RequestReader();
  body.push(Buffer.from(get('/', 'Content-Length: 0\r\n') + get('/', 'Content-Length: 3\r\n') + get('/', 'Transfer-Encoding: chunked\r\n')));
  t.deepEqual(
    drain(body).map((r) => (r as HttpRequest).hasBody),
    [false, true, true],
  );
});

test.serial('parseRange', (t) => {
  t.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  t.deepEqual(parseRange('bytes=990-', 1000), { start: 990, end: 999 });
  t.deepEqual(parseRange('bytes=-10', 1000), { start: 990, end: 999 });
  t.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
  t.deepEqual(parseRange('bytes=5-99999999999999999999', 1000), { start: 5, end: 999 });
  t.is(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  t.is(parseRange('bytes=-0', 1000), 'unsatisfiable');
  t.is(parseRange('bytes=0-0', 0), 'unsatisfiable');
  t.is(parseRange('bytes=5-1', 1000), null);
  t.is(parseRange('bytes=-', 1000), null);
  t.is(parseRange('bytes=0-1,3-4', 1000), null);
  t.is(parseRange('lines=0-1', 1000), null);
});

test.serial('parser: the one-pass fast path and the line-by-line path agree, on good and bad heads', (t) => {
  const heads = [
    get('/'),
    get('/x?y', 'Connection: close\r\nX-A: 1\r\nx-a: 2\r\nAccept:\r\n'),
    'GET / HTTP/1.0\r\n\r\n',
    'GET / HTTP/1.0\r\nCONNECTION: Keep-Alive\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
    'GET http://h/a HTTP/1.1\r\nHOST: h\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n',
    get('/', 'Content-Length: 5\r\n'),
    get('/', 'Transfer-Encoding: chunked\r\n'),
    get('/', 'X: \x80\xff obs-text\t\r\n'),
    'GET / HTTP/1.1\r\n\r\n', // no Host
    get('/', 'Host: again\r\n'),
    get('/', 'Content-Length: 1\r\nContent-Length: 2\r\n'),
    get('/', 'Content-Length: 1x\r\n'),
    get('/', 'X : y\r\n'),
    get('/', ' folded\r\n'),
    get('/', 'X: a\x01b\r\n'),
    get('/', 'X: a\rb\r\n'),
    get('/', 'X: a\n'),
    'GET / HTTP/2.0\r\nHost: h\r\n\r\n',
    'GET / HTTP/1.2\r\nHost: h\r\n\r\n',
    'GET  / HTTP/1.1\r\nHost: h\r\n\r\n',
    'GET / HTTP/1.1 \r\nHost: h\r\n\r\n',
    'G(T / HTTP/1.1\r\nHost: h\r\n\r\n',
    'GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n',
    'GET / HTTP/1.1\nHost: h\r\n\r\n',
    `GET /${'a'.repeat(3000)} HTTP/1.1\r\nHost: h\r\n\r\n`,
    get('/', `X: ${'v'.repeat(9000)}\r\n`),
  ];
  const summary = (r: HttpRequest | RequestError) =>
    r instanceof RequestError ? r.status : [r.method, r.target, r.minor, r.keepAlive, r.hasBody, { ...r.headers }];
  for (const head of heads) {
    const input = Buffer.from(head, 'latin1');
    const whole = new RequestReader();
    whole.push(input);
    const fast = drain(whole).map(summary);
    const slow = new RequestReader();
    const got: (HttpRequest | RequestError)[] = [];
    for (let i = 0; i < input.length; i++) {
      slow.push(input.subarray(i, i + 1));
      got.push(...drain(slow));
      if (got.at(-1) instanceof RequestError) break;
    }
    t.deepEqual(fast, got.map(summary), JSON.stringify(head.slice(0, 60)));
    t.is(fast.length, 1, JSON.stringify(head.slice(0, 60)));
  }
});

test.serial('parser: header names that are Object.prototype members are just headers', (t) => {
  const reader = new RequestReader();
  reader.push(Buffer.from(get('/', 'Constructor: c\r\n__proto__: p\r\ntoString: s\r\nhasOwnProperty: h\r\n')));
  const r = reader.next() as HttpRequest;
  t.is(r.headers['constructor' as string], 'c');
  t.is(r.headers['__proto__' as string], 'p');
  t.is(r.headers.tostring, 's');
  t.is(r.headers.hasownproperty, 'h');
  t.is(r.headers['valueOf' as string] as string | undefined, undefined);
  t.deepEqual(Object.keys(r.headers).sort(), ['__proto__', 'constructor', 'hasownproperty', 'host', 'tostring']);
});
