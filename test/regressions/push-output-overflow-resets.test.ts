/**
 * A handler whose output ignores backpressure (a push source such as
 * range(...).pipe(map(...))) used to grow the server to maxBufferedBytes and
 * then close the connection with a FIN: the client saw a clean end of stream
 * after a few MB and could not tell the response was cut short. Now the
 * connection is reset (RST), so the truncation is visible to the peer, and
 * the error is on closed$ and events$.
 */
import test from 'ava';
import { map, of, range } from 'rxjs';
import type { CloseInfo, ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';

import { peerOutcome, receive, startServer, stopServer } from '../helpers/streams';

test.serial('push output past maxBufferedBytes resets the connection: the peer sees ECONNRESET, never a clean end', (t) =>
  withReactor(t, async (reactor) => {
    const closes: CloseInfo[] = [];
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        conn.closed$.subscribe((info) => closes.push(info));
        return range(0, 200_000).pipe(map(() => 'x'.repeat(100)));
      },
      { maxBufferedBytes: 1024 * 1024 },
    );
    server.events$.subscribe((e) => events.push(e));
    const outcome = await peerOutcome(reactor, port);
    await until(() => closes.length === 1, 'the connection to close');
    t.is((closes[0].error as NodeJS.ErrnoException).code, 'ERR_RXNET_MAX_BUFFERED_BYTES');
    t.false(outcome.ended, 'no FIN: a truncated response must not look complete');
    t.is(outcome.error?.code, 'ECONNRESET');
    t.true(outcome.received < 20_000_000);
    t.true(events.some((e) => e.type === 'error' && (e.error as NodeJS.ErrnoException).code === 'ERR_RXNET_MAX_BUFFERED_BYTES'));
    await stopServer(server);
  }));

test.serial('one write larger than maxBufferedBytes to a peer that reads arrives whole (the cap is on what stays queued)', (t) =>
  withReactor(t, async (reactor) => {
    const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const closes: CloseInfo[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        conn.closed$.subscribe((info) => closes.push(info));
        return of(big);
      },
      { maxBufferedBytes: 1024 * 1024 },
    );
    const socket = await client(port);
    const got = receive(socket);
    t.is((await got.end(20_000)).length, big.length);
    await until(() => closes.length === 1, 'the connection to close');
    t.deepEqual(closes, [{ hadError: false }]);
    await destroy(socket);
    await stopServer(server);
  }));
