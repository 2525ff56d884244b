/**
 * The demos with --tls-cert/--tls-key, driven by the real clients over TLS:
 * curl (HTTPS, a static file sent with sendFile), redis-cli and
 * redis-benchmark (redis over TLS), openssl s_client (the echo).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';
import { requireTool, run } from '../helpers/clients';
import { trackedExamples } from '../helpers/tracked';
import { identityFiles, runTool } from '../helpers/tls';

const start = trackedExamples(test);

function tlsArgs(): string[] {
  const files = identityFiles();
  return ['--tls-cert', files.SERVER_CERT, '--tls-key', files.SERVER_KEY];
}

test.serial('http --tls-cert/--tls-key: curl --cacert gets the page and a static file byte-exact (sendFile over TLS), over HTTP/1.1', async (t) => {
  requireTool('curl');
  const root = path.resolve(__dirname, '..', '..', '..', 'examples');
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

test.serial('kv --tls-cert/--tls-key: redis-cli --tls --cacert and redis-benchmark --tls', async (t) => {
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

test.serial('tcp-echo --tls-cert/--tls-key: openssl s_client verifies it and gets its line back', async (t) => {
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
