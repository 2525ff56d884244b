import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { closeFillers, fillFdHolesBelow, writeInOneBatch, type BatchMark } from '../helpers/batch';
import { drain, record, until, type Recording } from '../helpers/readiness';
import { first, listener, socketPair } from '../helpers/sockets';

test.serial("an fd closed and reused during dispatch never gets the old registration's event", (t) =>
  withReactor(t, async (reactor) => {
    const [a1, b1] = await socketPair((fd) => reactor.watch(fd));
    const [a2, b2] = await socketPair((fd) => reactor.watch(fd));
    // A connection waiting in a listener's queue, to be accepted into the freed number.
    const l = listener();
    const pendingPeer = sys.socket('ipv4', 'stream');
    sys.connect(pendingPeer, { address: '127.0.0.1', port: l.port });
    await first(reactor.watch(l.fd, Interest.Readable));

    const fds = { 1: b1, 2: b2 } as const;
    const recs: Record<1 | 2, Recording<number> | undefined> = { 1: undefined, 2: undefined };
    let mark: BatchMark | undefined;
    let firstRan: 1 | 2 | undefined;
    let batchSize = -1;
    let reused = -1;
    let fillers: number[] = [];
    let newcomer: Recording<number> | undefined;
    const onFirst = (me: 1 | 2) => {
      if (firstRan !== undefined) return;
      firstRan = me;
      const other = me === 1 ? 2 : 1;
      batchSize = reactor.stats.events - (mark?.events ?? NaN);
      // Deregister and close the other fd, whose (old-token) event is still
      // later in this batch, and put a new socket on its number at once.
      recs[other]!.stop();
      fillers = fillFdHolesBelow(fds[other]);
      sys.close(fds[other]);
      reused = sys.accept(l.fd);
      newcomer = record(reactor.watch(reused, Interest.Readable));
    };
    recs[1] = record(reactor.watch(b1, Interest.Readable), () => onFirst(1));
    recs[2] = record(reactor.watch(b2, Interest.Readable), () => onFirst(2));
    mark = await writeInOneBatch(reactor, [a1, a2]);
    await until(() => firstRan !== undefined, 'the first handler');
    closeFillers(fillers);
    const other = firstRan === 1 ? 2 : 1;
    t.is(batchSize, 2, 'both fds were in one batch');
    t.is(reused, fds[other], 'the accepted socket got the closed fd number');

    await delay(150);
    t.deepEqual(newcomer!.values, [], 'the new socket (which has no data) got no event');
    t.deepEqual(recs[other]!.values, []);

    // The newcomer's own readiness does arrive.
    sys.write(pendingPeer, Buffer.from('new'));
    await until(() => newcomer!.values.length > 0, "the newcomer's own data");
    t.is(newcomer!.values[0], Ready.Readable);
    t.is(drain(reused).bytes.toString(), 'new');
    newcomer!.stop();
    recs[firstRan!]!.stop();
    t.is(reactor.stats.registrations, 0);
    for (const fd of [a1, a2, fds[firstRan!], reused, pendingPeer, l.fd]) sys.close(fd);
  }));

test.serial('a re-registered fd number with a new socket sees only the new socket', (t) =>
  withReactor(t, async (reactor) => {
    // Outside dispatch: deregister + close + reuse; the old socket had unread
    // data and a closed peer, the new one is idle.
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const l = listener();
    const pendingPeer = sys.socket('ipv4', 'stream');
    sys.connect(pendingPeer, { address: '127.0.0.1', port: l.port });
    await first(reactor.watch(l.fd, Interest.Readable));
    sys.write(a, Buffer.from('old'));
    sys.close(a);
    const old = record(reactor.watch(b, Interest.Readable));
    await until(() => old.values.length > 0, 'the old socket');
    old.stop();
    const fillers = fillFdHolesBelow(b);
    sys.close(b);
    const reused = sys.accept(l.fd);
    closeFillers(fillers);
    t.is(reused, b);
    const fresh = record(reactor.watch(reused, Interest.Readable));
    await delay(150);
    t.deepEqual(fresh.values, [], 'no Readable/Hangup left over from the old socket');
    fresh.stop();
    for (const fd of [reused, pendingPeer, l.fd]) sys.close(fd);
  }));
