/**
 * rxnet's TLS server for bench/tls.ts: serve({ tls }) with TLS terminated
 * in the reactor's native data path.
 *
 *   node dist/bench/servers/tls-echo.js --cert FILE --key FILE [--port N] [--backend name]
 *        [--mode echo|sink|source] [--bytes N]
 *
 * echo: every byte back (redis-benchmark's ping_mbulk is valid RESP either
 * way); sink: reads and discards until the peer ends, then ends; source:
 * sends --bytes bytes (the same 64 KiB buffer over and over, pulled with
 * backpressure), then ends. Prints `listening on 127.0.0.1:PORT`; exits 0 on
 * SIGTERM/SIGINT. On SIGUSR2 (with --expose-gc: after a full collection)
 * prints `stats {"rss",...}` for bench/tls-soak.ts. The node:tls twin is
 * node-tls-echo.ts.
 */
import * as fs from 'node:fs';
import { EMPTY, ignoreElements } from 'rxjs';
import { Reactor, serve, type BackendName } from '../../index';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const backend = arg('--backend') as BackendName | undefined;
const reactor = backend ? new Reactor({ backend }) : Reactor.default();
const mode = arg('--mode') ?? 'echo';
const bytes = Number(arg('--bytes') ?? 0);
const block = Buffer.alloc(64 * 1024, 0x61);

function* source(): Generator<Buffer> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, block.length);
    yield n === block.length ? block : block.subarray(0, n);
    left -= n;
  }
}

const server = serve(
  { host: '127.0.0.1', port: Number(arg('--port') ?? 0), reactor, tls: { cert: fs.readFileSync(arg('--cert')!), key: fs.readFileSync(arg('--key')!) } },
  (conn) => {
    if (mode === 'sink') return conn.data$.pipe(ignoreElements());
    if (mode === 'source') {
      conn.data$.subscribe();
      return bytes > 0 ? source() : EMPTY;
    }
    return conn.data$;
  },
);
server.events$.subscribe();
server.listening.then((a) => console.log(`listening on 127.0.0.1:${a.port} (rxnet serve + tls, ${reactor.backend}, ${mode})`));
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const fds = fs.readdirSync('/proc/self/fd').length;
  const s = reactor.stats;
  console.log(`stats ${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, fds, tlsSessions: s.tlsSessions, registrations: s.registrations, connections: server.connections, accepted: server.stats.accepted, tlsClientErrors: server.stats.tlsClientErrors })}`);
});
