/**
 * One express app, served either by node:http on node:net or by node:http
 * on rxnet (serveHttp): the side-by-side benchmark of "node:http on rxnet"
 * (the serveHttp section of bench/examples.ts).
 *
 *   node dist/bench/servers/express-app.js --on rxnet|net [--app express|bare] [--port N] [--backend name]
 *
 * Routes: GET / (text), GET /json (a small JSON object). `--app bare` swaps
 * express for a bare `(req, res) => res.end('Hello, World!')` handler (every
 * path), so that express's own cost per request does not hide the
 * transport's. Prints `listening on 127.0.0.1:PORT`; exits 0 on SIGTERM/SIGINT.
 */
import express from 'express';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Reactor, serveHttp, type BackendName } from '../../index';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const on = arg('--on') ?? 'rxnet';
const appName = arg('--app') ?? 'express';
if (appName !== 'express' && appName !== 'bare') throw new Error(`--app: express or bare, got ${appName}`);
const port = Number(arg('--port') ?? 0);

function expressApp(): http.RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.get('/', (_req, res) => {
    res.type('text/plain').send('Hello, World!');
  });
  app.get('/json', (_req, res) => {
    res.json({ hello: 'world', n: 42 });
  });
  return app;
}
const bare: http.RequestListener = (_req, res) => {
  res.end('Hello, World!');
};
const httpServer = http.createServer(appName === 'express' ? expressApp() : bare);

if (on === 'rxnet') {
  const backend = arg('--backend') as BackendName | undefined;
  const reactor = backend ? new Reactor({ backend }) : Reactor.default();
  const server = serveHttp(httpServer, { host: '127.0.0.1', port, reactor });
  server.listening.then((a) => console.log(`listening on 127.0.0.1:${a.port} (${appName} on rxnet, ${reactor.backend})`));
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  httpServer.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${(httpServer.address() as AddressInfo).port} (${appName} on node:net)`));
  const stop = () => {
    httpServer.closeAllConnections();
    httpServer.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
