/**
 * The echo server on the stream layer: serve(conn => conn.data$). Native
 * reads with the event, writes coalesced per batch. Compared with node:net
 * and the C reference by bench/run.ts.
 *
 *   node dist/bench/servers/serve-echo.js [--port N] [--backend name] [--proxy-protocol v1|v2|any]
 *
 * Prints `listening on 127.0.0.1:PORT`; exits 0 on SIGTERM/SIGINT.
 */
import { Reactor, serve, type BackendName } from '../../index';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const backend = arg('--backend') as BackendName | undefined;
const reactor = backend ? new Reactor({ backend }) : Reactor.default();
const proxyProtocol = arg('--proxy-protocol') as 'v1' | 'v2' | 'any' | undefined;
const server = serve({ host: '127.0.0.1', port: Number(arg('--port') ?? 0), reactor, proxyProtocol }, (conn) => conn.data$);
server.listening.then((a) => console.log(`listening on 127.0.0.1:${a.port} (rxnet serve, ${reactor.backend})`));
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The idle-memory benchmark measures live memory, not garbage from the
// accept burst: with --expose-gc, SIGUSR2 runs a full collection first.
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  console.log('gc done');
});
