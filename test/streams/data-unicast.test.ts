import test from 'ava';
import type { Connection } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { errorOf, startServer, stopServer } from '../helpers/streams';

test.serial('data$ is unicast: a second subscriber errors with ERR_RXNET_ALREADY_SUBSCRIBED, the first keeps receiving', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const socket = await client(port);
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    const first: string[] = [];
    const sub = conn.data$.subscribe((c) => first.push(c.toString()));
    const err = await errorOf(conn.data$, 1000);
    t.is(err.code, 'ERR_RXNET_ALREADY_SUBSCRIBED');
    socket.write('one');
    await until(() => first.join('') === 'one', 'the first subscriber to get data');

    // After the first unsubscribes, a new subscriber may take over, and loses nothing.
    sub.unsubscribe();
    socket.write('two');
    await delay(50);
    t.is(conn.bytesRead, 3, 'nothing is read while nobody subscribes');
    const second: string[] = [];
    conn.data$.subscribe((c) => second.push(c.toString()));
    await until(() => second.join('') === 'two', 'the second subscriber to get what was sent meanwhile');
    t.deepEqual(first, ['one']);
    conn.close();
    await destroy(socket);
    await stopServer(server);
  }));
