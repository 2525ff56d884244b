/**
 * The node:http hello server the http example is compared with
 * (bench/examples.ts): `GET /` answers `Hello, World!` with the same headers
 * as examples/http (Content-Type text/plain, Content-Length, Server), keep-alive.
 *
 *   node dist/bench/servers/node-http.js [--port N]
 *
 * Prints `listening on 127.0.0.1:PORT` once ready; exits 0 on SIGTERM/SIGINT.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const BODY = Buffer.from('Hello, World!');
const HEADERS = { 'Content-Type': 'text/plain', 'Content-Length': String(BODY.length), Server: 'node' };
const NOT_FOUND = Buffer.from('Not Found\n');

const server = http.createServer((req, res) => {
  if (req.url === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, HEADERS);
    res.end(req.method === 'HEAD' ? undefined : BODY);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': String(NOT_FOUND.length) });
    res.end(NOT_FOUND);
  }
});
// Same idle timeout as examples/http's default.
server.keepAliveTimeout = 5000;

server.listen({ host: '127.0.0.1', port, backlog: 511 }, () => {
  const address = server.address() as AddressInfo;
  console.log(`listening on 127.0.0.1:${address.port} (node:http)`);
});

function shutdown(): void {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
