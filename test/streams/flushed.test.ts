import * as net from 'node:net';
import test from 'ava';
import type { Connection } from '../../index';
import { withReactor, delay } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { destroy } from '../helpers/sockets';
import { receive, startServer, stopServer } from '../helpers/streams';

test.serial('flushed() resolves only once every queued byte and file has been taken by the kernel, and works after end()', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause();
    const got = receive(socket);
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    t.is(await Promise.race([conn.flushed().then(() => 'now'), delay(50).then(() => 'later')]), 'now', 'nothing queued: at once');
    conn.write(Buffer.alloc(16 * 1024 * 1024, 0x61));
    let flushed = false;
    const done = conn.flushed().then(() => (flushed = true));
    conn.end();
    await delay(200);
    t.false(flushed, 'the peer reads nothing: output is still queued');
    t.true(conn.bufferedAmount > 0);
    socket.resume();
    await done;
    t.is(conn.bufferedAmount, 0);
    t.is((await got.end(20_000)).length, 16 * 1024 * 1024);
    await destroy(socket);
    await stopServer(server);
  }));

test.serial('flushed() rejects with ERR_RXNET_CLOSED when the connection closes first', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause();
    socket.on('error', () => {});
    await until(() => conns.length === 1, 'the connection');
    conns[0].write(Buffer.alloc(16 * 1024 * 1024));
    const pending = conns[0].flushed();
    conns[0].close();
    const err = await t.throwsAsync(pending);
    t.is((err as NodeJS.ErrnoException).code, 'ERR_RXNET_CLOSED');
    await t.throwsAsync(conns[0].flushed(), { code: 'ERR_RXNET_CLOSED' });
    await destroy(socket);
    await stopServer(server);
  }));
