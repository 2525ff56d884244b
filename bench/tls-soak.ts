/**
 * TLS soak: `npm run bench:tls-soak` (= build, then `node dist/bench/tls-soak.js`).
 *
 * 10,000 full handshakes (TLSv1.3, ECDSA P-256; --handshakes N), 50 at a
 * time (--concurrency N), each a new connection that sends a line, reads its
 * echo and ends, against bench/servers/tls-echo.ts in a child process. The
 * server's memory (RSS, V8 heap, external memory, after a full GC), open
 * descriptors, live TLS sessions and registrations are read after a warm-up
 * of 1,000 handshakes and again at the end: nothing may be left, and memory
 * must not grow with the number of handshakes. Every handshake is checked.
 * Loopback only; bounded by its count and a 20-minute limit.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { firstValueFrom, from, lastValueFrom, mergeMap } from 'rxjs';
import { connect, Reactor } from '../index';
import { DIST, LineQueue, intOption, killAll, tmpDir, track } from './lib';

const HANDSHAKES = intOption('--handshakes', 10_000);
const CONCURRENCY = intOption('--concurrency', 50);
const WARMUP = Math.min(1000, HANDSHAKES);

interface Stats {
  rss: number;
  heapUsed: number;
  external: number;
  fds: number;
  tlsSessions: number;
  registrations: number;
  connections: number;
  accepted: number;
  tlsClientErrors: number;
}

async function main(): Promise<void> {
  const limit = setTimeout(() => {
    console.error('tls-soak: gave up after 20 minutes');
    killAll();
    process.exit(1);
  }, 20 * 60_000);
  limit.unref();
  const dir = tmpDir('rxnet-tls-soak-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl req failed: ${made.stderr}`);
  const child = track(spawn(process.execPath, ['--expose-gc', path.join(DIST, 'bench', 'servers', 'tls-echo.js'), '--port', '0', '--cert', cert, '--key', key], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const lines = new LineQueue(child.stdout!);
  const port = Number((await lines.match('tls-echo', /listening on 127\.0\.0\.1:(\d+)/, 15_000))[1]);
  const stats = async (): Promise<Stats> => {
    child.kill('SIGUSR2');
    return JSON.parse((await lines.match('tls-echo', /^stats (\{.*\})$/, 10_000))[1]) as Stats;
  };
  const reactor = new Reactor();
  let ok = 0;
  const run = async (n: number) => {
    await lastValueFrom(
      from(Array.from({ length: n }, (_, i) => i)).pipe(
        mergeMap(async (i) => {
          const conn = await firstValueFrom(connect({ host: '127.0.0.1', port, reactor, tls: { ca: cert, handshakeTimeout: 60_000 } }));
          const parts: Buffer[] = [];
          const done = new Promise<void>((resolve, reject) => conn.data$.subscribe({ next: (c) => parts.push(c), error: reject, complete: resolve }));
          conn.end(`hello ${i}\n`);
          await done;
          if (Buffer.concat(parts).toString() === `hello ${i}\n`) ok++;
        }, CONCURRENCY),
      ),
      { defaultValue: undefined },
    );
  };
  const t0 = Date.now();
  await run(WARMUP);
  const before = await stats();
  await run(HANDSHAKES);
  const seconds = (Date.now() - t0) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = await stats();
  reactor.close();
  const kb = (x: number) => `${(x / 1024).toFixed(0)} KiB`;
  console.log(`date: ${new Date().toISOString()}; ${WARMUP} + ${HANDSHAKES} handshakes, ${CONCURRENCY} at a time, in ${seconds.toFixed(1)} s`);
  console.log(`echoed correctly: ${ok} of ${WARMUP + HANDSHAKES}; server: accepted ${after.accepted}, tls client errors ${after.tlsClientErrors}`);
  console.log('| server, after a full GC | after the warm-up | after the soak | growth |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [label, k, fmt] of [
    ['RSS', 'rss', kb],
    ['V8 heap used', 'heapUsed', kb],
    ['external memory', 'external', kb],
    ['open descriptors', 'fds', String],
    ['live TLS sessions', 'tlsSessions', String],
    ['registrations', 'registrations', String],
    ['connections', 'connections', String],
  ] as Array<[string, keyof Stats, (x: number) => string]>) {
    const growth = after[k] - before[k];
    console.log(`| ${label} | ${fmt(before[k])} | ${fmt(after[k])} | ${k === 'rss' || k === 'heapUsed' || k === 'external' ? kb(growth) : growth} |`);
  }
  const leaked = after.tlsSessions !== 0 || after.connections !== 0 || after.fds !== before.fds || ok !== WARMUP + HANDSHAKES;
  child.kill('SIGTERM');
  if (leaked) {
    console.log('tls-soak: FAILED (something was left, or an echo was wrong)');
    process.exitCode = 1;
  }
}

main()
  .catch((err: unknown) => {
    console.error(`tls-soak: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => killAll());
