/**
 * AsyncLocalStorage survives the reactor: a connection's callbacks run in
 * the async context of the serve()/listen() subscription (server) or of the
 * connect() subscription (client), as node:net runs a socket's in its
 * creator's; udp() and watch() subscribers in their subscription's. Tracing
 * and request-scoped logging depend on it.
 */
import test from 'ava';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as net from 'node:net';
import { firstValueFrom, take } from 'rxjs';
import { connect, Interest, listen, serve, sys, type Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';
import { bindUdp, dgramClient } from '../helpers/udp';

const als = new AsyncLocalStorage<string>();

test.serial('serve(): the handler, data$, drain$ and closed$ see the store of the serve() call; concurrent connect() clients each see their own', (t) =>
  withReactor(t, async (reactor) => {
    const seen = new Set<string>();
    const note = (where: string) => seen.add(`${where}=${als.getStore()}`);
    const server = als.run('server', () =>
      serve({ host: '127.0.0.1', port: 0, reactor, highWaterMark: 1024 }, (conn) => {
        note('handler');
        conn.closed$.subscribe(() => note('closed$'));
        conn.data$.subscribe({
          next: (chunk) => {
            note('data$');
            // Past the high-water mark at once: drain$ comes from the batch-end flush.
            if (!conn.write(Buffer.alloc(64 * 1024, chunk[0]))) conn.drain$.pipe(take(1)).subscribe(() => note('drain$'));
          },
          complete: () => conn.end(),
        });
      }),
    );
    const { port } = await server.listening;
    outside(t);
    const clientRun = (name: string) =>
      als.run(name, async () => {
        const conn = await firstValueFrom(connect({ host: '127.0.0.1', port, reactor }));
        t.is(als.getStore(), name, 'after connect() resolves');
        const stores = new Set<string | undefined>();
        const done = new Promise<void>((resolve) =>
          conn.data$.subscribe({
            next: () => stores.add(als.getStore()),
            complete: () => {
              stores.add(als.getStore());
              resolve();
            },
          }),
        );
        conn.write(name);
        conn.end();
        await done;
        return [...stores];
      });
    // Two clients at once, so one batch can hold both: each keeps its own store.
    const [a, b] = await Promise.all([clientRun('client-a'), clientRun('client-b')]);
    t.deepEqual(a, ['client-a']);
    t.deepEqual(b, ['client-b']);
    await until(() => server.connections === 0, 'the server to close both connections');
    t.deepEqual([...seen].sort(), ['closed$=server', 'data$=server', 'drain$=server', 'handler=server']);
    await server.close();
  }));

test.serial('listen(): connections emitted, and their data$, see the store of the subscription', (t) =>
  withReactor(t, async (reactor) => {
    const stores: (string | undefined)[] = [];
    let address = 0;
    const accepted: Connection[] = [];
    const sub = als.run('listen', () =>
      listen({ host: '127.0.0.1', port: 0, reactor, onListening: (a) => (address = a.port) }).subscribe((conn) => {
        stores.push(als.getStore());
        accepted.push(conn);
        conn.data$.subscribe({ next: () => stores.push(als.getStore()), complete: () => conn.close() });
      }),
    );
    await until(() => address !== 0, 'listening');
    const socket = net.connect(address, '127.0.0.1');
    socket.end('hi');
    await new Promise((resolve) => socket.on('close', resolve));
    await until(() => accepted.length === 1 && accepted[0].closed, 'the connection to close');
    t.deepEqual(stores, ['listen', 'listen']);
    sub.unsubscribe();
  }));

test.serial("udp(): messages$ sees the store of udp()'s subscription, as node:dgram's 'message' sees createSocket()'s", (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await als.run('udp', () => bindUdp(reactor));
    const sender = await dgramClient();
    const got = new Promise<string | undefined>((resolve) => {
      const s = als.run('other', () =>
        socket.messages$.subscribe(() => {
          resolve(als.getStore());
          s.unsubscribe();
        }),
      );
    });
    // UDP may drop a datagram: send again until one arrives.
    const resend = setInterval(() => void sender.send('x', socket.address.port), 50);
    void sender.send('x', socket.address.port);
    t.is(await got.finally(() => clearInterval(resend)), 'udp');
    await sender.close();
    owner.unsubscribe();
  }));

test.serial("watch(): each watcher's emissions see the store of its own subscription", (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd, Interest.Readable));
    const seen: string[] = [];
    const subs = ['one', 'two'].map((name) => als.run(name, () => reactor.watch(b, Interest.Readable).subscribe(() => seen.push(`${name}=${als.getStore()}`))));
    sys.write(a, Buffer.from('x'));
    await until(() => seen.includes('one=one') && seen.includes('two=two'), 'both watchers to see readiness');
    for (const s of subs) s.unsubscribe();
    t.deepEqual(seen.filter((s) => s.split('=')[0] !== s.split('=')[1]), []);
    sys.close(a);
    sys.close(b);
  }));

/** The test body itself runs outside every store. */
function outside(t: import('ava').ExecutionContext): void {
  t.is(als.getStore(), undefined);
}
