/**
 * What the PROXY protocol costs, to decide where its parser belongs
 * (natively on the read path, or in JavaScript at the front of data$).
 *
 *   npm run build:ts && node dist/bench/proxy-protocol.js [--requests 20000] [--rounds 2]
 *
 * 1. The parser alone: nanoseconds per header (v2 IPv4, v2 with TLVs, v1),
 *    median of 5 runs of 200,000 parses.
 * 2. Per connection, header in the same segment as the request: a client
 *    here opens connection after connection (20 at a time), each sending
 *    one PING (after a v2 header, to the proxied server) in one write,
 *    reading the echo and closing. This is the parser's and the gate's own
 *    cost: nothing else differs.
 * 3. Per connection, end to end: two serve() echo servers, one with
 *    `proxyProtocol: 'v2'`, each behind its own HAProxy frontend (one with
 *    `send-proxy-v2`, one without); `redis-benchmark -t ping_mbulk -k 0`
 *    (a new connection per request) against each frontend in turn, rounds
 *    interleaved. Reported: each server's CPU per connection from
 *    /proc/<pid>/stat, and their ratio. HAProxy and the client run on the
 *    same 2 cores, so only the ratio means anything.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeProxyHeader, parseProxyHeader, PP2_TYPE } from '../index';
import { CLK_TCK, cpuTicks, freePort, intOption, median, nodeServer, runTool, start, stop, tmpDir, removeTmp, canConnect, sleep, track } from './lib';

function parserNs(label: string, header: Buffer): string {
  const runs: number[] = [];
  const n = 200_000;
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += parseProxyHeader(header, 'any', 4096)!.length;
    runs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  if (sink === 0) throw new Error('unreachable');
  return `${label.padEnd(34)} ${median(runs).toFixed(0).padStart(5)} ns/header (${header.length} bytes)`;
}

const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');

/** `total` connections, `concurrency` at a time: connect, send `first`, read the echo, close. */
async function churn(port: number, first: Buffer, total: number, concurrency: number): Promise<void> {
  let started = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let got = 0;
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= PING.length) s.destroy();
      });
      s.on('close', () => resolve());
      s.on('error', reject);
      s.write(first);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        await one();
      }
    }),
  );
}

/** Server CPU µs per connection while `load` runs. */
async function cpuPerConnection(pid: number, connections: number, load: () => Promise<unknown>): Promise<number> {
  const before = cpuTicks(pid);
  await load();
  const after = cpuTicks(pid);
  return (((after.user + after.sys - before.user - before.sys) / CLK_TCK) * 1e6) / connections;
}

async function main(): Promise<void> {
  const src = { address: '203.0.113.7', port: 4242 };
  const dst = { address: '198.51.100.1', port: 443 };
  console.log('# parser alone');
  console.log(parserNs('v2 IPv4, no TLV', encodeProxyHeader('v2', { source: src, destination: dst })));
  console.log(
    parserNs(
      'v2 IPv4, ALPN + authority + SSL',
      encodeProxyHeader('v2', {
        source: src,
        destination: dst,
        tlvs: [
          { type: PP2_TYPE.ALPN, value: 'h2' },
          { type: PP2_TYPE.AUTHORITY, value: 'example.test' },
          { type: PP2_TYPE.SSL, value: Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), Buffer.from([0x21, 0, 7]), Buffer.from('TLSv1.3')]) },
        ],
      }),
    ),
  );
  console.log(parserNs('v1 TCP4', encodeProxyHeader('v1', { source: src, destination: dst })));

  const requests = intOption('requests', 20000);
  const rounds = intOption('rounds', 2);
  const plain = await start(nodeServer('plain', 'serve() echo', 'bench/servers/serve-echo.js', []));
  const proxied = await start(nodeServer('proxied', "serve() echo, proxyProtocol 'v2'", 'bench/servers/serve-echo.js', ['--proxy-protocol', 'v2']));
  const [fePlain, feProxied] = [await freePort(), await freePort()];
  const dir = tmpDir('rxnet-bench-pp-');
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    `global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n` +
      `listen plain\n  bind 127.0.0.1:${fePlain}\n  server s 127.0.0.1:${plain.port}\n` +
      `listen proxied\n  bind 127.0.0.1:${feProxied}\n  server s 127.0.0.1:${proxied.port} send-proxy-v2\n`,
  );
  const haproxy = track(spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' }));
  try {
    while (!(await canConnect(fePlain)) || !(await canConnect(feProxied))) await sleep(50);
    const header = encodeProxyHeader('v2', { source: src, destination: dst });
    const direct: Record<string, number[]> = { plain: [], proxied: [] };
    for (let r = 0; r < rounds * 2; r++) {
      const which = r % 2 === 0 ? (['plain', 'proxied'] as const) : (['proxied', 'plain'] as const);
      for (const key of which) {
        const server = key === 'plain' ? plain : proxied;
        const first = key === 'plain' ? PING : Buffer.concat([header, PING]);
        direct[key].push(await cpuPerConnection(server.pid, requests, () => churn(server.port, first, requests, 20)));
      }
    }
    console.log('\n# per connection, header in the same segment as the request (server CPU from /proc)');
    for (const key of ['plain', 'proxied'] as const) {
      console.log(`${key.padEnd(8)} ${direct[key].map((x) => x.toFixed(1)).join(' ')} µs/connection (median ${median(direct[key]).toFixed(1)})`);
    }
    console.log(`ratio proxied/plain: ${(median(direct.proxied) / median(direct.plain)).toFixed(3)}`);

    const perConn: Record<string, number[]> = { plain: [], proxied: [] };
    for (let r = 0; r < rounds * 2; r++) {
      const which = r % 2 === 0 ? (['plain', 'proxied'] as const) : (['proxied', 'plain'] as const);
      for (const key of which) {
        const server = key === 'plain' ? plain : proxied;
        const frontend = String(key === 'plain' ? fePlain : feProxied);
        perConn[key].push(
          await cpuPerConnection(server.pid, requests, () =>
            runTool('redis-benchmark', ['-p', frontend, '-t', 'ping_mbulk', '-k', '0', '-c', '20', '-n', String(requests), '-q'], 120_000),
          ),
        );
      }
    }
    console.log('\n# per connection, behind HAProxy, which sends the header in a segment of its own (redis-benchmark -k 0)');
    for (const key of ['plain', 'proxied'] as const) {
      console.log(`${key.padEnd(8)} ${perConn[key].map((x) => x.toFixed(1)).join(' ')} µs/connection (median ${median(perConn[key]).toFixed(1)})`);
    }
    console.log(`ratio proxied/plain: ${(median(perConn.proxied) / median(perConn.plain)).toFixed(3)}`);
  } finally {
    haproxy.kill('SIGTERM');
    await stop(plain);
    await stop(proxied);
    removeTmp(dir);
  }
}

void main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.stack);
    process.exit(1);
  },
);
