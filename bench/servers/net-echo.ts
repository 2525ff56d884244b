/**
 * The node:net echo server rxnet is compared with (bench/run.ts).
 *
 *   node dist/bench/servers/net-echo.js [--port N]
 *
 * Prints `listening on 127.0.0.1:PORT` once ready; exits 0 on SIGTERM/SIGINT.
 * `--backend` is accepted and ignored (node:net always runs on libuv's epoll).
 */
import * as net from 'node:net';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const sockets = new Set<net.Socket>();

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.setNoDelay(true);
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => sockets.delete(socket));
});

server.listen({ host: '127.0.0.1', port, backlog: 511 }, () => {
  const address = server.address() as net.AddressInfo;
  console.log(`listening on 127.0.0.1:${address.port} (node:net)`);
});

function shutdown(): void {
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// The idle-memory benchmark measures live memory, not garbage from the
// accept burst: with --expose-gc, SIGUSR2 runs a full collection first.
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  console.log('gc done');
});
