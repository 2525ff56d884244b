/**
 * The demos with --tls-cert/--tls-key, driven over TLS by clients from Node
 * and npm everywhere (node:https, ioredis, node:tls) and by the Debian ones
 * where installed or required (RXNET_REQUIRE_CLIENTS=1): curl (HTTPS, a
 * static file sent with sendFile), redis-cli and redis-benchmark (redis
 * over TLS), openssl s_client (the echo).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import * as tls from 'node:tls';
import test from 'ava';
import Redis from 'ioredis';
import { requireTool, run, withClient } from '../helpers/clients';
import { Received } from '../helpers/streams';
import { trackedExamples } from '../helpers/tracked';
import { identityFiles, ids, runTool } from '../helpers/tls';

const start = trackedExamples(test);
const root = path.resolve(__dirname, '..', '..', '..', 'examples');
const sha256 = (data: string | Buffer) => crypto.createHash('sha256').update(data).digest('hex');

function tlsArgs(): string[] {
  const files = identityFiles();
  return ['--tls-cert', files.SERVER_CERT, '--tls-key', files.SERVER_KEY];
}

/** GET over node:https (or plain node:http), trusting only the test CA, verifying the name localhost. */
function get(port: number, urlPath: string, plain = false): Promise<{ status: number; version: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, version: res.httpVersion, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    const req = plain ? http.get(options, onResponse) : https.get({ ...options, ca: ids.CA_CERT, servername: 'localhost' }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

test.serial('http --tls-cert/--tls-key: node:https (CA-verified) gets the page and a static file byte-exact (sendFile over TLS), over HTTP/1.1', async (t) => {
  const ex = await start('http/main.js', [...tlsArgs(), '--root', root]);
  t.regex(ex.output(), /listening on 127\.0\.0\.1:\d+ \(tls\)/);
  const page = await get(ex.port, '/');
  t.is(page.status, 200);
  t.is(page.version, '1.1');
  t.is(page.body.toString(), 'Hello, World!');
  const file = await get(ex.port, '/static/http/main.ts');
  t.is(file.status, 200);
  t.is(sha256(file.body), sha256(fs.readFileSync(path.join(root, 'http', 'main.ts'))));
  // Plain HTTP to the HTTPS port: an error for that client, not a crash.
  await t.throwsAsync(get(ex.port, '/', true));
  t.is((await get(ex.port, '/')).status, 200, 'still serving');
  t.is(await ex.stop(), 0);
});

test.serial('kv --tls-cert/--tls-key: ioredis over TLS (CA-verified): commands and a pipeline of 4000; a plain client fails, the server does not', async (t) => {
  const ex = await start('kv/main.js', tlsArgs());
  const options = { host: '127.0.0.1', port: ex.port, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true };
  const r = new Redis({ ...options, tls: { ca: ids.CA_CERT, servername: 'localhost' } });
  try {
    await r.connect();
    t.is(await r.set('greeting', 'hello over tls'), 'OK');
    t.is(await r.get('greeting'), 'hello over tls');
    // What redis-benchmark -P does: many requests in flight on one TLS connection.
    const pipeline = r.pipeline();
    for (let i = 0; i < 2000; i++) pipeline.set(`key:${i}`, `value:${i}`).get(`key:${i}`);
    const results = (await pipeline.exec())!;
    t.is(results.length, 4000);
    t.true(results.every(([err]) => err === null));
    t.deepEqual(results.slice(-2).map(([, v]) => v), ['OK', 'value:1999']);
    // Without TLS the client's plain RESP is not a ClientHello: that client fails, the server does not.
    const plain = new Redis(options);
    plain.on('error', () => {});
    await t.throwsAsync(plain.connect().then(() => plain.ping()));
    plain.disconnect();
    t.is(await r.ping(), 'PONG');
  } finally {
    r.disconnect();
  }
  t.is(await ex.stop(), 0);
});

test.serial('tcp-echo --tls-cert/--tls-key: a node:tls client verifies it and gets its line back', async (t) => {
  const ex = await start('tcp-echo/main.js', tlsArgs());
  const socket = tls.connect({ host: '127.0.0.1', port: ex.port, ca: ids.CA_CERT, servername: 'localhost' });
  const received = new Received(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  t.true(socket.authorized, String(socket.authorizationError));
  socket.end('echo me\n');
  t.is((await received.end()).toString(), 'echo me\n');
  await received.close();
  t.is(await ex.stop(), 0);
});

if (withClient('curl')) test.serial('http --tls-cert/--tls-key: curl --cacert gets the page and a static file byte-exact (sendFile over TLS), over HTTP/1.1', async (t) => {
  requireTool('curl');
  const ex = await start('http/main.js', [...tlsArgs(), '--root', root]);
  t.regex(ex.output(), /listening on 127\.0\.0\.1:\d+ \(tls\)/);
  const url = `https://localhost:${ex.port}`;
  const ca = identityFiles().CA_CERT;
  const page = await run('curl', ['-sS', '--cacert', ca, '--resolve', `localhost:${ex.port}:127.0.0.1`, '-w', '\\n%{http_version} %{http_code}', `${url}/`]);
  t.is(page.code, 0, page.stderr);
  t.is(page.stdout, 'Hello, World!\n1.1 200');
  const file = path.join(root, 'http', 'main.ts');
  const got = await run('curl', ['-sS', '--cacert', ca, '--resolve', `localhost:${ex.port}:127.0.0.1`, `${url}/static/http/main.ts`]);
  t.is(got.code, 0, got.stderr);
  t.is(crypto.createHash('sha256').update(got.stdout).digest('hex'), crypto.createHash('sha256').update(fs.readFileSync(file, 'utf8')).digest('hex'));
  // Plain HTTP to the HTTPS port: a TLS error for that client, not a crash.
  const plain = await run('curl', ['-sS', '-m', '5', `http://127.0.0.1:${ex.port}/`]);
  t.not(plain.code, 0);
  t.is(await ex.stop(), 0);
});

if (withClient('redis-cli', 'redis-benchmark')) test.serial('kv --tls-cert/--tls-key: redis-cli --tls --cacert and redis-benchmark --tls', async (t) => {
  requireTool('redis-cli');
  requireTool('redis-benchmark');
  const ex = await start('kv/main.js', tlsArgs());
  const ca = identityFiles().CA_CERT;
  const cli = (...args: string[]) => run('redis-cli', ['--tls', '--cacert', ca, '--sni', 'localhost', '-h', '127.0.0.1', '-p', String(ex.port), ...args]);
  t.is((await cli('set', 'greeting', 'hello over tls')).stdout.trim(), 'OK');
  t.is((await cli('get', 'greeting')).stdout.trim(), 'hello over tls');
  const bench = await run('redis-benchmark', ['--tls', '--cacert', ca, '--sni', 'localhost', '-h', '127.0.0.1', '-p', String(ex.port), '-t', 'set,get', '-n', '2000', '-c', '10', '-P', '4', '-q'], { timeoutMs: 60_000 });
  t.is(bench.code, 0, bench.stderr);
  const rates = [...bench.stdout.matchAll(/(SET|GET): ([\d.]+) requests per second/g)].map((m) => m[1]);
  t.deepEqual(rates, ['SET', 'GET'], bench.stdout.slice(-300));
  // Without --tls the client's plain RESP is not a ClientHello: that client fails, the server does not.
  const plain = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ex.port), 'ping'], { timeoutMs: 10_000 });
  t.not(plain.stdout.trim(), 'PONG');
  t.is((await cli('ping')).stdout.trim(), 'PONG');
  t.is(await ex.stop(), 0);
});

if (withClient('openssl')) test.serial('tcp-echo --tls-cert/--tls-key: openssl s_client verifies it and gets its line back', async (t) => {
  const ex = await start('tcp-echo/main.js', tlsArgs());
  const r = await runTool(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${ex.port}`, '-servername', 'localhost', '-CAfile', identityFiles().CA_CERT, '-verify_return_error'],
    'echo me\n',
    15_000,
    /echo me/,
  );
  t.is(r.code, 0, r.stderr.slice(-300));
  t.regex(r.stdout, /Verify return code: 0 \(ok\)/);
  t.regex(r.stdout, /\necho me\n/);
  t.is(await ex.stop(), 0);
});
