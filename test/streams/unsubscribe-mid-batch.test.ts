import test from 'ava';
import type { Subscription } from 'rxjs';
import { sys, type Connection } from '../../index';
import { writeInOneBatch, type BatchMark } from '../helpers/batch';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, startServer, stopServer } from '../helpers/streams';

test.serial("data$ unsubscribed by another connection's handler in the same batch loses none of its bytes", (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const peers = [sys.socket('ipv4', 'stream'), sys.socket('ipv4', 'stream')];
    for (const fd of peers) sys.connect(fd, { address: HOST, port });
    await until(() => conns.length === 2, 'both connections');
    // conns[i] is the server side of peers[i].
    const byPort = new Map(conns.map((c) => [c.remote.port, c]));
    const pair = peers.map((fd) => byPort.get(sys.getsockname(fd).port)!);

    const received: string[][] = [[], []];
    const subs: Array<Subscription | null> = [null, null];
    let first = -1;
    let mark: BatchMark | undefined;
    let batchSize = -1;
    let sameWakeup = false;
    const subscribe = (i: number) => {
      subs[i] = pair[i].data$.subscribe((chunk) => {
        received[i].push(chunk.toString());
        if (first >= 0) return;
        // The first handler of the batch stops the other connection's reader.
        first = i;
        const stats = reactor.stats;
        batchSize = stats.events - (mark?.events ?? NaN);
        sameWakeup = stats.wakeups === (mark?.wakeups ?? NaN) + 1;
        subs[1 - i]!.unsubscribe();
        subs[1 - i] = null;
      });
    };
    subscribe(0);
    subscribe(1);
    mark = await writeInOneBatch(reactor, peers, Buffer.from('x'));
    await until(() => first >= 0, 'the first handler');
    t.true(sameWakeup, 'the first handler ran in the wakeup right after the writes');
    t.is(batchSize, 2, 'both connections were in that one batch');
    const other = 1 - first;
    await delay(50);
    // A new reader of the other connection must get the byte its peer sent.
    subscribe(other);
    await delay(200);
    t.deepEqual(received[first], ['x']);
    t.deepEqual(received[other], ['x'], "the other connection's byte was not dropped");
    t.is(pair[other].bytesRead, received[other].join('').length, 'bytesRead counts only what a subscriber got');

    for (const s of subs) s?.unsubscribe();
    for (const fd of peers) sys.close(fd);
    for (const c of pair) c.close();
    await stopServer(server);
  }));

test.serial('data$ unsubscribed after the backend saw the bytes arrive, but before they were delivered, loses none of them', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const peer = sys.socket('ipv4', 'stream');
    sys.connect(peer, { address: HOST, port });
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    const received: string[] = [];
    const sub = conn.data$.subscribe((chunk) => received.push(chunk.toString()));
    await delay(20);
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        // The bytes arrive while this callback runs: the backend (epoll in
        // the loop, or poll/select in their helper thread) may see them
        // before the reader goes away at the end of the callback.
        t.is(sys.write(peer, Buffer.from('x')), 1);
        const until = Date.now() + 50;
        while (Date.now() < until) {
          // busy: the loop cannot deliver anything meanwhile
        }
        sub.unsubscribe();
        resolve();
      }, 0),
    );
    await delay(100);
    t.deepEqual(received, [], 'nothing reached the old subscriber after it left');
    const later: string[] = [];
    const again = conn.data$.subscribe((chunk) => later.push(chunk.toString()));
    await delay(100);
    t.deepEqual(later, ['x'], 'the next subscriber gets the byte');
    again.unsubscribe();
    sys.close(peer);
    conn.close();
    await stopServer(server);
  }));
