import * as net from 'node:net';
import test from 'ava';
import { NEVER, delay as delayOp, mergeMap, of, type Observable } from 'rxjs';
import type { CloseInfo, ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, receive, rejection, startServer, within } from '../helpers/streams';

const REPLY = Buffer.alloc(1024 * 1024, 0x72); // more than the socket buffers take at once

test.serial('shutdown(): idle connections get FIN at once, in-flight work finishes, the rest is closed at the deadline', (t) =>
  withReactor(t, async (reactor) => {
    const requests: string[] = [];
    const closes = new Map<string, CloseInfo>();
    const events: ServerEvent[] = [];
    const names = ['idle', 'slow', 'stuck'];
    const { server, port } = await startServer(reactor, (conn) => {
      const name = names.shift()!;
      conn.closed$.subscribe((info) => closes.set(name, info));
      return conn.data$.pipe(
        mergeMap((chunk): Observable<Buffer> => {
          const request = chunk.toString();
          requests.push(request);
          // 'slow' is answered after 200 ms; 'stuck' never.
          return request === 'slow' ? of(REPLY).pipe(delayOp(200)) : NEVER;
        }),
      );
    });
    server.events$.subscribe((e) => events.push(e));

    const order: string[] = [];
    const idle = await client(port);
    const idleGot = receive(idle);
    await until(() => server.connections === 1, 'the idle connection');
    const slow = await client(port);
    const slowGot = receive(slow);
    await until(() => server.connections === 2, 'the slow connection');
    const stuck = await client(port);
    const stuckGot = receive(stuck);
    await until(() => server.connections === 3, 'the stuck connection');
    slow.write('slow');
    stuck.write('stuck');
    await until(() => requests.length === 2, 'both requests to arrive');
    for (const [name, got] of [['idle', idleGot], ['slow', slowGot], ['stuck', stuckGot]] as const) {
      void got.end(5000).then(
        () => order.push(`${name} end`),
        () => order.push(`${name} no end`),
      );
    }

    const closed = server.shutdown({ timeoutMs: 1000 });
    await rejection(
      new Promise<void>((resolve, reject) => {
        const s = net.connect(port, HOST, () => {
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      }),
    ).then((err) => t.is(err.code, 'ECONNREFUSED', 'the listener is closed at once'));

    await idleGot.end(900);
    t.is(slowGot.length, 0, 'the idle connection got its FIN while the slow reply was still being prepared');
    t.false(stuckGot.ended);
    const reply = await slowGot.end(900);
    t.true(reply.equals(REPLY), 'the in-flight request got its full reply before the FIN');
    t.false(stuckGot.ended, 'the stuck connection is still open');
    await stuckGot.end(2000);
    t.is(stuckGot.length, 0);
    await within(closed, 2000, 'shutdown() to resolve');
    await within(server.closed, 100, 'server.closed');
    t.deepEqual(order, ['idle end', 'slow end', 'stuck end']);

    t.deepEqual(closes.get('idle'), { hadError: false });
    t.deepEqual(closes.get('slow'), { hadError: false });
    t.deepEqual(closes.get('stuck'), { hadError: false }, 'closed, not reset, at the deadline');
    t.deepEqual(
      events.filter((e) => e.type === 'shutdown'),
      [{ type: 'shutdown', closedByDeadline: 1 }],
    );
    t.is(server.connections, 0);
    for (const s of [idle, slow, stuck]) await destroy(s);
  }));

test.serial('shutdown() with no connections resolves at once; close() is shutdown({ timeoutMs: 0 }); both are idempotent', (t) =>
  withReactor(t, async (reactor) => {
    const { server } = await startServer(reactor, (conn) => conn.data$);
    const a = server.shutdown({ timeoutMs: 60_000 });
    t.is(server.shutdown(), a, 'a second shutdown() returns the same promise');
    await within(a, 1000, 'shutdown()');
    await within(server.close(), 1000, 'close() after shutdown');

    const { server: other, port } = await startServer(reactor, () => NEVER);
    const socket = await client(port);
    const got = receive(socket);
    await until(() => other.connections === 1, 'the connection');
    await within(other.close(), 1000, 'close()');
    await got.close();
    await destroy(socket);
  }));

test.serial('shutdown(): a connection whose handler never reads closes when its peer closes, not at the deadline', (t) =>
  withReactor(t, async (reactor) => {
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conn.write('hello\n'); // and leaves the connection to itself
    });
    server.events$.subscribe((e) => events.push(e));
    const socket = await client(port); // node:net: ends its side when it sees the server's FIN
    const got = receive(socket);
    await got.atLeast(6);
    const started = Date.now();
    const closed = server.shutdown({ timeoutMs: 5000 });
    await got.close(2000);
    await within(closed, 2000, 'shutdown() once the peer has closed (the deadline is 5 s away)');
    t.true(Date.now() - started < 2000);
    t.deepEqual(
      events.filter((e) => e.type === 'shutdown'),
      [],
      'nothing was left for the deadline',
    );
    await destroy(socket);
  }));
