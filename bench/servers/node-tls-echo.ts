/**
 * The node:tls server bench/tls.ts compares rxnet's with: the same modes as
 * tls-echo.ts (echo, sink, source) on tls.createServer.
 *
 *   node dist/bench/servers/node-tls-echo.js --cert FILE --key FILE [--port N]
 *        [--mode echo|sink|source] [--bytes N]
 *
 * Prints `listening on 127.0.0.1:PORT`; exits 0 on SIGTERM/SIGINT.
 * `--backend` is accepted and ignored (node:tls runs on libuv).
 */
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as tls from 'node:tls';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const mode = arg('--mode') ?? 'echo';
const bytes = Number(arg('--bytes') ?? 0);
const block = Buffer.alloc(64 * 1024, 0x61);
const sockets = new Set<net.Socket>();

function send(socket: tls.TLSSocket): void {
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, block.length);
      left -= n;
      if (!socket.write(n === block.length ? block : block.subarray(0, n))) return void socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
}

const server = tls.createServer({ cert: fs.readFileSync(arg('--cert')!), key: fs.readFileSync(arg('--key')!), noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => sockets.delete(socket));
  if (mode === 'sink') {
    socket.resume();
    socket.on('end', () => socket.end());
  } else if (mode === 'source') {
    socket.resume();
    send(socket);
  } else {
    socket.pipe(socket);
  }
});
server.on('tlsClientError', () => {});
server.listen({ host: '127.0.0.1', port: Number(arg('--port') ?? 0), backlog: 511 }, () => {
  console.log(`listening on 127.0.0.1:${(server.address() as net.AddressInfo).port} (node:tls, ${mode})`);
});
function shutdown(): void {
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
