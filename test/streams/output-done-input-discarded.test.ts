/**
 * When a handler's output completes, serve() ends the connection (FIN) and,
 * if nobody reads its input any more, reads and discards the rest, so that
 * the peer's FIN is seen and the connection closes rather than staying
 * half-open for ever. The check runs once the completing call has returned
 * (an output built with take() completes while still subscribed to data$),
 * at the end of the batch, or on a microtask for an output that completes
 * outside one (a pulled async generator).
 */
import test from 'ava';
import * as net from 'node:net';
import { take } from 'rxjs';
import type { Connection, ConnectionHandler } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { closedInfo, HOST, startServer, stopServer } from '../helpers/streams';

async function peerKeepsSending(t: import('ava').ExecutionContext, handler: ConnectionHandler, expected: string): Promise<void> {
  await withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conns.push(conn);
      return handler(conn);
    });
    // Half-open allowed: node:net would end its side on the server's FIN.
    const socket = net.connect({ port, host: HOST, allowHalfOpen: true });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve) => socket.once('end', resolve));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('first');
    await ended;
    t.is(Buffer.concat(received).toString(), expected, 'the output, then FIN');
    // The peer goes on sending after the server's FIN, then ends its side.
    socket.end(Buffer.alloc(256 * 1024, 'x'));
    await until(() => conns.length === 1, 'the server connection');
    t.deepEqual(await closedInfo(conns[0], 5000), { hadError: false }, 'the server saw the FIN and closed');
    await closed;
    t.is(server.stats.active, 0);
    await stopServer(server, 500);
  });
}

test.serial('take(1) of data$: FIN after the first chunk, the rest is discarded and the connection closes', (t) =>
  peerKeepsSending(t, (conn) => conn.data$.pipe(take(1)), 'first'));

test.serial('a pulled output that never reads: it completes outside a batch, the input is discarded and the connection closes', (t) =>
  peerKeepsSending(
    t,
    async function* () {
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield 'hello';
    },
    'hello',
  ));
