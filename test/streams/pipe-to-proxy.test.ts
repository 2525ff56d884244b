import test from 'ava';
import * as net from 'node:net';
import { from, merge, mergeMap, toArray } from 'rxjs';
import { connect, pipeTo, type CloseInfo, type Connection } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, randomBytes, receive, startServer, stopServer } from '../helpers/streams';

const TOTAL = 10 * 1024 * 1024;

test.serial('a proxy built with pipeTo relays 10 MB both ways byte-exact, pausing a side whose peer does not read', (t) =>
  withReactor(t, async (reactor) => {
    // Upstream: an echo server.
    const upstream = await startServer(reactor, (conn) => conn.data$);
    // The proxy: each client connection is piped to a new upstream connection and back.
    const proxied: Array<{ client: Connection; upstream: Connection }> = [];
    const closes: CloseInfo[] = [];
    const proxy = await startServer(reactor, (conn) => {
      conn.closed$.subscribe((info) => closes.push(info));
      connect({ host: HOST, port: upstream.port, reactor }).subscribe({
        next: (up) => {
          proxied.push({ client: conn, upstream: up });
          up.closed$.subscribe((info) => closes.push(info));
          merge(pipeTo(conn, up), pipeTo(up, conn)).subscribe({ error: () => {} });
        },
        error: () => conn.reset(),
      });
    });

    const data = randomBytes(TOTAL);
    const socket = await client(proxy.port);
    socket.pause(); // not reading yet
    const writing = (async () => {
      for (let at = 0; at < TOTAL; at += 256 * 1024) {
        const chunk = data.subarray(at, at + 256 * 1024);
        if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
      }
      socket.end();
    })();

    // While the client does not read, the chain backs up to it: the proxy
    // pauses the reading side and its write queues stay bounded.
    await until(() => proxied.length === 1, 'the upstream connection');
    const pair = proxied[0];
    let sawPaused = false;
    let maxQueued = 0;
    for (let i = 0; i < 40; i++) {
      await delay(10);
      sawPaused ||= !pair.client.flowing || !pair.upstream.flowing;
      maxQueued = Math.max(maxQueued, pair.client.bufferedAmount, pair.upstream.bufferedAmount);
    }
    t.true(sawPaused, 'pipeTo paused a source whose destination was full');
    t.true(maxQueued <= 256 * 1024, `the proxy queued at most ${maxQueued} bytes per connection`);
    t.false(pair.client.closed);
    t.false(pair.upstream.closed);

    // Now the client reads: everything arrives, in order.
    const got = receive(socket);
    socket.resume();
    await writing;
    const echoed = await got.end(30_000);
    t.is(echoed.length, TOTAL);
    t.true(echoed.equals(data), 'byte-exact through the proxy');
    await got.close();
    await until(() => closes.length === 2, "both of the proxy's connections to close");
    t.deepEqual(closes, [{ hadError: false }, { hadError: false }]);
    await until(() => proxy.server.connections === 0 && upstream.server.connections === 0, 'the servers to drain');
    await destroy(socket);
    await stopServer(proxy.server);
    await stopServer(upstream.server);
  }));

test.serial('pipeTo: a reset on one side resets the other', (t) =>
  withReactor(t, async (reactor) => {
    const upstreamCloses: CloseInfo[] = [];
    const upstream = await startServer(reactor, (conn) => {
      conn.closed$.subscribe((info) => upstreamCloses.push(info));
      conn.data$.subscribe({ error: () => {} });
    });
    const clientCloses: CloseInfo[] = [];
    const proxy = await startServer(reactor, (conn) => {
      conn.closed$.subscribe((info) => clientCloses.push(info));
      connect({ host: HOST, port: upstream.port, reactor }).subscribe((up) => {
        merge(pipeTo(conn, up), pipeTo(up, conn)).subscribe({ error: () => {} });
      });
    });
    const socket = await client(proxy.port);
    socket.on('error', () => {});
    socket.write('hello');
    await until(() => upstream.server.connections === 1, 'the upstream connection');
    await delay(20);
    socket.resetAndDestroy();
    await until(() => upstreamCloses.length === 1, 'the upstream side to close');
    t.true(clientCloses[0].hadError, 'the client side closed with an error');
    await until(() => proxy.server.connections === 0 && upstream.server.connections === 0, 'both servers to drop the connections');
    await destroy(socket);
    await stopServer(proxy.server);
    await stopServer(upstream.server);
  }));

test.serial('pipeTo half-close: the client ends its request first and still gets a 4 MB reply it reads slowly', (t) =>
  withReactor(t, async (reactor) => {
    const reply = randomBytes(4 * 1024 * 1024);
    // Upstream answers once the request is complete (after the FIN).
    const upstream = await startServer(reactor, (conn) =>
      conn.data$.pipe(
        toArray(),
        mergeMap(() => from(Array.from({ length: 64 }, (_, i) => reply.subarray(i * 65536, (i + 1) * 65536)))),
      ),
    );
    const closes: CloseInfo[] = [];
    const proxy = await startServer(reactor, (conn) => {
      conn.closed$.subscribe((info) => closes.push(info));
      connect({ host: HOST, port: upstream.port, reactor }).subscribe((up) => {
        up.closed$.subscribe((info) => closes.push(info));
        merge(pipeTo(conn, up), pipeTo(up, conn)).subscribe({ error: () => {} });
      });
    });
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port: proxy.port, host: HOST, allowHalfOpen: true }, () => resolve(s));
      s.once('error', reject);
    });
    socket.pause();
    socket.end('GET everything');
    await delay(300); // the reply backs up while the client does not read
    const got = receive(socket);
    socket.resume();
    const echoed = await got.end(20_000);
    t.is(echoed.length, reply.length);
    t.true(echoed.equals(reply));
    await got.close();
    await until(() => closes.length === 2, "both of the proxy's connections to close");
    t.deepEqual(closes, [{ hadError: false }, { hadError: false }]);
    await until(() => proxy.server.connections === 0 && upstream.server.connections === 0, 'the servers to drain');
    await destroy(socket);
    await stopServer(proxy.server);
    await stopServer(upstream.server);
  }));
