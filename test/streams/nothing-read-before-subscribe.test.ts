import test from 'ava';
import type { Connection } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { randomBytes, readAll, startServer, stopServer } from '../helpers/streams';

test.serial('nothing is read before data$ is subscribed: data sent before arrives whole afterwards', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const socket = await client(port);
    const data = randomBytes(256 * 1024);
    socket.write(data);
    await until(() => conns.length === 1, 'the connection');
    await delay(200);
    const conn = conns[0];
    t.is(conn.bytesRead, 0, 'no byte was read without a subscriber');
    t.is(server.stats.bytesIn, 0);
    const all = readAll(conn);
    socket.end();
    t.true((await all).equals(data), 'everything sent before subscribing arrives, in order');
    conn.close();
    await destroy(socket);
    await stopServer(server);
  }));

test.serial('a handler that subscribes data$ later (after an async step) loses nothing', (t) =>
  withReactor(t, async (reactor) => {
    const got: Promise<Buffer>[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      got.push(delay(100).then(() => readAll(conn)));
    });
    const socket = await client(port);
    socket.write('early bytes, ');
    await delay(20);
    socket.end('then the FIN');
    await until(() => got.length === 1, 'the connection');
    t.is((await got[0]).toString(), 'early bytes, then the FIN');
    await destroy(socket);
    await stopServer(server, 500);
  }));
