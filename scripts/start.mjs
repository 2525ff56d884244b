#!/usr/bin/env node
// npm start: every demo server at once on its default port, each with a
// one-line way to try it with a real client. Ctrl-C (SIGINT) or SIGTERM
// stops them all gracefully; the exit code is 0 when every one exited cleanly.
// The TLS demos (echo, HTTPS, redis over TLS) use a throwaway self-signed
// certificate made here with `openssl req` and removed at exit.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A self-signed EC P-256 pair for localhost/127.0.0.1, valid a week; null without openssl. */
function throwawayIdentity() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-start-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '7', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`openssl req failed (${r.error?.message ?? r.stderr.trim()}): the TLS demos do not start`);
    return null;
  }
  return ['--tls-cert', cert, '--tls-key', key];
}
const tls = throwawayIdentity();

const examples = [
  { name: 'tcp-echo', args: [], tryIt: 'echo hello | nc -q 1 127.0.0.1 7000' },
  { name: 'udp-echo', args: [], tryIt: 'echo hello | nc -u -w 1 127.0.0.1 7001' },
  { name: 'chat', args: [], tryIt: 'nc 127.0.0.1 7002   (in two terminals; /nick alice)' },
  { name: 'kv', args: [], tryIt: 'redis-cli -p 6380 ping' },
  { name: 'http', args: ['--root', path.join(root, 'examples')], tryIt: 'curl localhost:8080/   and   curl localhost:8080/static/http/main.ts' },
  { name: 'dns', args: [], tryIt: 'dig @127.0.0.1 -p 5353 www.example.test' },
  { name: 'multicore', args: [], tryIt: 'echo hi | nc -q 1 127.0.0.1 7003   (replies name the worker thread)' },
  { name: 'proxy', args: ['--upstream', '127.0.0.1:8080'], tryIt: 'curl localhost:7100/   (proxied to the http example)' },
  ...(tls === null
    ? []
    : [
        { name: 'tcp-echo', label: 'echo-tls', args: [...tls, '--port', '7443'], tryIt: 'openssl s_client -connect 127.0.0.1:7443 -quiet   (self-signed: it says so and goes on)' },
        { name: 'http', label: 'https', args: [...tls, '--port', '8443', '--root', path.join(root, 'examples')], tryIt: 'curl -k https://localhost:8443/' },
        { name: 'kv', label: 'kv-tls', args: [...tls, '--port', '6381'], tryIt: 'redis-cli --tls --insecure -p 6381 ping' },
      ]),
];

const host = process.env.HOST ?? '127.0.0.1';
const children = [];
let stopping = false;
for (const ex of examples) {
  const script = path.join(root, 'dist', 'examples', ex.name, 'main.js');
  if (!fs.existsSync(script)) {
    console.error(`${ex.name}: ${script} is missing; run \`npm run build:ts\``);
    continue;
  }
  const child = spawn(process.execPath, [script, '--host', host, ...ex.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${ex.label ?? ex.name}]`.padEnd(11);
  const relay = (stream, out) => {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        out.write(`${prefix} ${line}\n`);
        if (line.startsWith('listening on')) out.write(`${prefix} try: ${ex.tryIt}\n`);
      }
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);
  child.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) console.error(`${prefix} exited unexpectedly (${code ?? signal})`);
      resolve(code ?? 1);
    }),
  );
  children.push(child);
}

const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping ${children.length} servers`);
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const codes = await Promise.all(children.map((c) => c.exited));
  console.log(codes.every((c) => c === 0) ? 'all stopped cleanly' : `exit codes: ${codes.join(', ')}`);
  process.exit(codes.every((c) => c === 0) ? 0 : 1);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
