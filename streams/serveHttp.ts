import type * as http from 'node:http';
import { invalidArgType } from '../reactor/validate';
import { serve, type Server, type ServeOptions } from './serve';
import { toDuplex } from './toDuplex';

/**
 * Serves a `node:http` server (or anything built on one: express, fastify's
 * `fastify.server`, an `https.Server`) on rxnet: each accepted connection
 * reaches it as a 'connection' event with a {@link toDuplex} stand-in for
 * its `net.Socket`, so its request handling, `keepAliveTimeout`,
 * `headersTimeout` and `requestTimeout` work as they do on node:net.
 *
 * Options are {@link serve}'s. The http server is told 'listening' once
 * rxnet listens (which starts its header and request timeout checks), and is
 * closed (its timers stopped, 'close' emitted) once the rxnet server has
 * closed. Shut down with the returned server's `shutdown()`.
 *
 * @example
 * import express from 'express';
 * import * as http from 'node:http';
 * const app = express().get('/', (req, res) => res.send('hello'));
 * const server = serveHttp(http.createServer(app), { port: 8080 });
 * await server.listening;
 */
export function serveHttp(httpServer: http.Server, options: ServeOptions): Server {
  if (httpServer === null || typeof httpServer !== 'object' || typeof httpServer.emit !== 'function' || typeof httpServer.close !== 'function') {
    throw invalidArgType('httpServer', 'an instance of http.Server', httpServer);
  }
  const server = serve(
    {
      ...options,
      onListening: (address) => {
        httpServer.emit('listening');
        options.onListening?.(address);
      },
    },
    (conn) => {
      httpServer.emit('connection', toDuplex(conn));
    },
  );
  void server.closed.then(() => {
    if (httpServer.listening) return;
    // http.Server#close() stops its connection checks and emits 'close';
    // net.Server's part, with no handle of its own, has nothing to close.
    httpServer.close(() => {});
  });
  return server;
}
