import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect, serve } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { closedInfo, dial, randomBytes, randomChunks, readAll, receive, startServer, stopServer, writeWithBackpressure } from '../helpers/streams';

const TOTAL = 4 * 1024 * 1024;

test.serial('serve(conn => conn.data$) echoes many binary chunks from a node:net client byte-exact', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const data = randomBytes(TOTAL);
    const chunks = randomChunks(data, 64 * 1024);
    t.true(chunks.length > 50, 'many chunks');
    const socket = await client(port);
    const got = receive(socket);
    for (const chunk of chunks) {
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    await got.atLeast(TOTAL);
    socket.end();
    const echoed = await got.end();
    t.is(echoed.length, TOTAL);
    t.true(echoed.equals(data), 'the echo is byte-exact');
    await got.close();
    t.is(server.stats.bytesIn, TOTAL);
    t.is(server.stats.bytesOut, TOTAL);
    await until(() => server.connections === 0, 'the server to close the connection');
    await stopServer(server);
  }));

test.serial('an rxnet connect() client round-trips many binary chunks through the echo server', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const data = randomBytes(TOTAL);
    const conn = await dial(reactor, port);
    const echoed = readAll(conn);
    await writeWithBackpressure(conn, randomChunks(data, 32 * 1024));
    conn.end();
    const got = await echoed;
    t.is(got.length, TOTAL);
    t.true(got.equals(data), 'the echo is byte-exact');
    t.deepEqual(await closedInfo(conn), { hadError: false });
    t.is(conn.bytesWritten, TOTAL);
    t.is(conn.bytesRead, TOTAL);
    await stopServer(server, 1000);
  }));

test.serial('every byte value survives the round trip, one write per value', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const conn = await dial(reactor, port);
    const echoed = readAll(conn);
    for (let b = 0; b < 256; b++) conn.write(Buffer.from([b]));
    conn.end();
    const got = await echoed;
    t.deepEqual([...got], Array.from({ length: 256 }, (_, i) => i));
    await closedInfo(conn);
    await stopServer(server, 1000);
  }));

test.serial('echo over a Unix domain socket with connect({ path })', (t) =>
  withReactor(t, async (reactor) => {
    const sockPath = path.join(os.tmpdir(), `rxnet-echo-${process.pid}-${Date.now()}.sock`);
    const server = serve({ path: sockPath, reactor }, (conn) => conn.data$);
    const address = await server.listening;
    t.deepEqual(address, { address: sockPath, family: 'unix', port: 0 });
    const data = randomBytes(512 * 1024);
    const conn = await firstValueFrom(connect({ path: sockPath, reactor }));
    const echoed = readAll(conn);
    await writeWithBackpressure(conn, randomChunks(data, 8192));
    conn.end();
    t.true((await echoed).equals(data));
    // A node:net client over the same path.
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(sockPath, () => resolve(s));
      s.once('error', reject);
    });
    const got = receive(socket);
    socket.end('over a unix socket');
    t.is((await got.end()).toString(), 'over a unix socket');
    await destroy(socket);
    await stopServer(server, 1000);
    t.throws(() => fs.statSync(sockPath), { code: 'ENOENT' }, 'the socket file is removed when the listener closes');
  }));

test.serial('64 clients echo 512 KB each at once: more than one wakeup can read, none of it lost', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const size = 512 * 1024;
    const runs = await Promise.all(
      Array.from({ length: 64 }, async () => {
        const data = randomBytes(size);
        const socket = await client(port);
        const got = receive(socket);
        socket.end(data);
        const echoed = await got.end(30_000);
        await destroy(socket);
        return echoed.equals(data);
      }),
    );
    t.is(runs.filter(Boolean).length, 64, 'every client got its own bytes back');
    t.true(reactor.stats.largestBatch > 1);
    await until(() => server.connections === 0, 'the server to close every connection');
    t.is(server.stats.bytesIn, 64 * size);
    await stopServer(server);
  }));
