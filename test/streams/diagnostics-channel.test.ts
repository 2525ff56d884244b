/**
 * diagnostics_channel: connection open and close, listen and close of a
 * server, named and shaped like node:net's channels where node:net has them.
 */
import test from 'ava';
import * as dc from 'node:diagnostics_channel';
import * as net from 'node:net';
import { firstValueFrom } from 'rxjs';
import { connect, serve, type Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';

const NAMES = ['rxnet.client.socket', 'rxnet.server.socket', 'rxnet.socket.close', 'rxnet.server.close'];
const TRACING = ['asyncStart', 'asyncEnd', 'error'] as const;

/** Records every message of the rxnet channels while `body` runs. */
async function recording<T>(body: (log: [string, Record<string, unknown>][]) => Promise<T>): Promise<T> {
  const log: [string, Record<string, unknown>][] = [];
  const handlers = NAMES.map((name) => [name, (message: unknown) => log.push([name, message as Record<string, unknown>])] as const);
  for (const [name, h] of handlers) dc.subscribe(name, h);
  const tracing = dc.tracingChannel('rxnet.server.listen');
  const tracers = Object.fromEntries(TRACING.map((k) => [k, (message: unknown) => log.push([`listen:${k}`, message as Record<string, unknown>])]));
  tracing.subscribe(tracers as never);
  try {
    return await body(log);
  } finally {
    for (const [name, h] of handlers) dc.unsubscribe(name, h);
    tracing.unsubscribe(tracers as never);
  }
}

test.serial('serve() and connect() publish listen, socket open and close, and server close', (t) =>
  withReactor(t, (reactor) =>
    recording(async (log) => {
      let accepted: Connection | undefined;
      const server = serve({ host: '127.0.0.1', port: 0, reactor }, (conn) => {
        accepted = conn;
        return conn.data$;
      });
      const { port } = await server.listening;
      const conn = await firstValueFrom(connect({ host: '127.0.0.1', port, reactor }));
      await until(() => accepted !== undefined, 'accept');
      conn.data$.subscribe();
      conn.end();
      await until(() => conn.closed && accepted!.closed, 'both ends to close');
      await server.close();
      const names = log.map(([name]) => name);
      t.deepEqual(names.slice(0, 2), ['listen:asyncStart', 'listen:asyncEnd']);
      t.is(log[0][1].server, server);
      t.is((log[0][1].options as { port: number }).port, 0);
      t.deepEqual(log[1][1], { server, address: server.address });
      const client = log.find(([n]) => n === 'rxnet.client.socket')!;
      t.is(client[1].socket, conn);
      const accept = log.find(([n]) => n === 'rxnet.server.socket')!;
      t.is(accept[1].socket, accepted);
      const closes = log.filter(([n]) => n === 'rxnet.socket.close').map(([, m]) => m.socket);
      t.is(closes.length, 2);
      t.true(closes.includes(conn) && closes.includes(accepted));
      t.deepEqual(log.at(-1), ['rxnet.server.close', { server, address: server.address }]);
    }),
  ));

test.serial('a failed bind publishes listen:error; a reset connection publishes its error on close', (t) =>
  withReactor(t, (reactor) =>
    recording(async (log) => {
      const first = serve({ host: '127.0.0.1', port: 0, reactor }, () => {});
      const { port } = await first.listening;
      const second = serve({ host: '127.0.0.1', port, reactor }, () => {});
      await t.throwsAsync(second.listening, { code: 'EADDRINUSE' });
      const failed = log.find(([n]) => n === 'listen:error')!;
      t.is(failed[1].server, second);
      t.is((failed[1].error as NodeJS.ErrnoException).code, 'EADDRINUSE');

      let accepted: Connection | undefined;
      const server = serve({ host: '127.0.0.1', port: 0, reactor }, (conn) => {
        accepted = conn;
        conn.data$.subscribe({ error: () => {} });
      });
      const socket = net.connect((await server.listening).port, '127.0.0.1');
      await until(() => accepted !== undefined, 'accept');
      socket.resetAndDestroy();
      await until(() => accepted!.closed, 'the reset to close the connection');
      const closed = log.find(([n, m]) => n === 'rxnet.socket.close' && m.socket === accepted)!;
      t.is((closed[1].error as NodeJS.ErrnoException).code, 'ECONNRESET');
      await Promise.all([first.close(), server.close()]);
    }),
  ));
