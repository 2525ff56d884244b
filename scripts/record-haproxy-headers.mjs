#!/usr/bin/env node
// Regenerates test/fixtures/proxy/haproxy-headers.json: the PROXY protocol
// headers HAProxy really sends (send-proxy, send-proxy-v2 with crc32c and a
// unique id, send-proxy-v2-ssl behind a TLS frontend, the LOCAL command of a
// health check), recorded once with Debian's haproxy so the suite can replay
// them through node:net on machines without it. The live comparison is
// test/examples/haproxy-proxy-protocol.test.ts (where haproxy is installed).
// Needs `npm run build:ts` first, and haproxy on PATH.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tls from 'node:tls';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { startHaproxy, freePort, serverPem } = require(path.join(root, 'dist', 'test', 'helpers', 'haproxy.js'));
const CLIENT = '127.0.0.9';

// A backend that keeps the first bytes of every connection (HAProxy sends
// the header before any client data; the clients here send none).
const captured = [];
const backend = net.createServer((socket) => {
  const entry = { bytes: Buffer.alloc(0) };
  captured.push(entry);
  socket.on('data', (d) => (entry.bytes = Buffer.concat([entry.bytes, d])));
  socket.on('error', () => {});
});
await new Promise((resolve) => backend.listen(0, '127.0.0.1', resolve));
const port = backend.address().port;
const [v1, v2, ssl] = [await freePort(), await freePort(), await freePort()];
const haproxy = await startHaproxy(
  (dir) => `
global
  maxconn 50
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v1
  bind 127.0.0.1:${v1}
  default_backend v1
backend v1
  server s 127.0.0.1:${port} send-proxy
frontend v2
  bind 127.0.0.1:${v2}
  unique-id-format conn-%ci-%cp
  default_backend v2
backend v2
  server s 127.0.0.1:${port} send-proxy-v2 proxy-v2-options crc32c,unique-id
frontend ssl
  bind 127.0.0.1:${ssl} ssl crt ${serverPem(dir)} alpn h2,http/1.1
  default_backend ssl
backend ssl
  server s 127.0.0.1:${port} send-proxy-v2-ssl proxy-v2-options ssl-cipher,cert-sig,cert-key,authority
`,
  [v1, v2, ssl],
);
// startHaproxy's readiness probes connected to each frontend: drop what they caused.
await new Promise((r) => setTimeout(r, 300));
captured.length = 0;

async function one(name, open) {
  const before = captured.length;
  const socket = await open();
  const deadline = Date.now() + 5000;
  while (captured.length === before || captured[before].bytes.length < 16) {
    if (Date.now() > deadline) throw new Error(`${name}: nothing arrived`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 100));
  const extra = { clientPort: socket.localPort, frontendPort: socket.remotePort };
  if (socket instanceof tls.TLSSocket) Object.assign(extra, { protocol: socket.getProtocol(), cipher: socket.getCipher().standardName, alpn: socket.alpnProtocol });
  socket.destroy();
  return { name, hex: captured[before].bytes.toString('hex'), ...extra };
}

const plain = (p) =>
  new Promise((resolve, reject) => {
    const s = net.connect({ port: p, host: '127.0.0.1', localAddress: CLIENT }, () => resolve(s));
    s.once('error', reject);
  });
const headers = [];
headers.push(await one('send-proxy', () => plain(v1)));
headers.push(await one('send-proxy-v2 crc32c,unique-id', () => plain(v2)));
headers.push(
  await one(
    'send-proxy-v2-ssl ssl-cipher,cert-sig,cert-key,authority',
    () =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ socket: net.connect({ port: ssl, host: '127.0.0.1', localAddress: CLIENT }), servername: 'example.test', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => resolve(s));
        s.once('error', reject);
      }),
  ),
);
await haproxy.stop();

// The LOCAL command: a health check, in its own HAProxy so nothing else connects.
// (HAProxy wants a listener; nobody connects to it but the readiness probe,
// which never reaches the backend before the checks do.)
const idle = await freePort();
captured.length = 0;
const checks = await startHaproxy(
  () => `
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend idle
  bind 127.0.0.1:${idle}
  default_backend checks
backend checks
  server s 127.0.0.1:${port} send-proxy-v2 check inter 100ms
`,
  [idle],
);
const deadline = Date.now() + 5000;
while (captured.length === 0 || captured[0].bytes.length < 16) {
  if (Date.now() > deadline) throw new Error('no health check arrived');
  await new Promise((r) => setTimeout(r, 20));
}
await checks.stop();
headers.push({ name: 'health check (LOCAL)', hex: captured[0].bytes.toString('hex') });
backend.close();

const version = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0];
const out = path.join(root, 'test', 'fixtures', 'proxy', 'haproxy-headers.json');
fs.writeFileSync(out, `${JSON.stringify({ recordedWith: version, client: CLIENT, headers }, null, 2)}\n`);
console.log(`wrote ${out} (${headers.length} headers, ${version})`);
