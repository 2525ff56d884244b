#!/usr/bin/env node
// npm start: every demo server at once, each with a one-line way to try it
// with a real client. Ports: the demos' defaults, or consecutive ones from
// --base-port N (or RXNET_BASE_PORT; 0: free ones picked by the system),
// since 8080, 6380 and 5353 are often taken.
//
// Ctrl-C (SIGINT) or SIGTERM stops them all gracefully; the exit code is 0
// when every one exited cleanly. The demos run in a process group of their
// own, so a terminal's Ctrl-C reaches only this launcher, which then stops
// each demo once (the terminal's SIGINT and our SIGTERM together made a demo
// take the second signal as "exit now", with 130); and each demo is tied to
// the launcher by an IPC channel, so it also stops if the launcher dies.
// The TLS demos (echo, HTTPS, redis over TLS) use a throwaway self-signed
// certificate made here with `openssl req` and removed at exit.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { 'base-port': { type: 'string' } } });
const baseRaw = values['base-port'] ?? process.env.RXNET_BASE_PORT;
const base = baseRaw === undefined ? undefined : Number(baseRaw);
if (base !== undefined && (baseRaw.trim() === '' || !Number.isInteger(base) || base < 0 || base > 65535 - 10)) {
  console.error(`npm start: --base-port must be 0 (free ports) or a port up to ${65535 - 10}, got ${baseRaw}`);
  process.exit(2);
}

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

// offset: the port is base + offset with --base-port, else the demo's default.
// label: the name a second instance of a demo (its TLS one) goes by.
const examples = [
  { name: 'tcp-echo', offset: 0, port: 7000, args: () => [], tryIt: (p) => `printf 'hello\\n' | nc -w 1 127.0.0.1 ${p}` },
  { name: 'udp-echo', offset: 1, port: 7001, args: () => [], tryIt: (p) => `printf 'hello\\n' | nc -u -w 1 127.0.0.1 ${p}` },
  { name: 'chat', offset: 2, port: 7002, args: () => [], tryIt: (p) => `nc 127.0.0.1 ${p}   (in two terminals; /nick alice)` },
  { name: 'multicore', offset: 3, port: 7003, args: () => [], tryIt: (p) => `printf 'hi\\n' | nc -w 1 127.0.0.1 ${p}   (replies name the worker thread)` },
  { name: 'kv', offset: 4, port: 6380, args: () => [], tryIt: (p) => `redis-cli -p ${p} ping` },
  {
    name: 'http',
    offset: 5,
    port: 8080,
    args: () => ['--root', path.join(root, 'examples')],
    tryIt: (p) => `curl localhost:${p}/   and   curl localhost:${p}/static/http/main.ts`,
  },
  { name: 'dns', offset: 6, port: 5353, args: () => [], tryIt: (p) => `dig @127.0.0.1 -p ${p} www.example.test` },
  // Started once the http demo listens: it proxies to that port.
  { name: 'proxy', offset: 7, port: 7100, args: (ports) => ['--upstream', `127.0.0.1:${ports.get('http')}`], tryIt: (p) => `curl localhost:${p}/   (proxied to the http example)` },
  ...(tls === null
    ? []
    : [
        { name: 'tcp-echo', label: 'echo-tls', offset: 8, port: 7443, args: () => tls, tryIt: (p) => `openssl s_client -connect 127.0.0.1:${p} -quiet   (self-signed: it says so and goes on)` },
        { name: 'http', label: 'https', offset: 9, port: 8443, args: () => [...tls, '--root', path.join(root, 'examples')], tryIt: (p) => `curl -k https://localhost:${p}/` },
        { name: 'kv', label: 'kv-tls', offset: 10, port: 6381, args: () => tls, tryIt: (p) => `redis-cli --tls --insecure -p ${p} ping` },
      ]),
];

const host = process.env.HOST ?? '127.0.0.1';
const children = [];
const ports = new Map();
let stopping = false;

function startOne(ex) {
  const script = path.join(root, 'dist', 'examples', ex.name, 'main.js');
  if (!fs.existsSync(script)) {
    console.error(`${ex.name}: ${script} is missing; run \`npm run build:ts\``);
    return Promise.resolve();
  }
  const port = base === undefined ? ex.port : base === 0 ? 0 : base + ex.offset;
  const child = spawn(process.execPath, [script, '--host', host, '--port', String(port), ...ex.args(ports)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const id = ex.label ?? ex.name;
  const prefix = `[${id}]`.padEnd(11);
  let listening;
  const ready = new Promise((resolve) => (listening = resolve));
  const relay = (stream, out) => {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        out.write(`${prefix} ${line}\n`);
        const m = /^listening on \[?[^\]\s]*?\]?:(\d+)/.exec(line);
        if (m && !ports.has(id)) {
          ports.set(id, Number(m[1]));
          out.write(`${prefix} try: ${ex.tryIt(Number(m[1]))}\n`);
          listening();
        }
      }
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);
  child.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) console.error(`${prefix} exited unexpectedly (${code ?? signal})`);
      listening();
      resolve(code ?? 1);
    }),
  );
  children.push(child);
  return ready;
}

const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping ${children.length} servers`);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  const codes = await Promise.all(children.map((c) => c.exited));
  console.log(codes.every((c) => c === 0) ? 'all stopped cleanly' : `exit codes: ${codes.join(', ')}`);
  process.exit(codes.every((c) => c === 0) ? 0 : 1);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
// A closed terminal: stop the demos as for Ctrl-C (they have their own group and would not get its SIGHUP).
process.on('SIGHUP', () => stop('SIGHUP'));

await Promise.all(examples.filter((ex) => ex.name !== 'proxy').map(startOne));
if (!stopping) await startOne(examples.find((ex) => ex.name === 'proxy'));
