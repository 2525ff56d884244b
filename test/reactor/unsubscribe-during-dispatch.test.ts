import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { writeInOneBatch, type BatchMark } from '../helpers/batch';
import { drain, record, until, type Recording } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('unsubscribing another watcher during dispatch drops its event from the rest of the batch', (t) =>
  withReactor(t, async (reactor) => {
    const [a1, b1] = await socketPair((fd) => reactor.watch(fd));
    const [a2, b2] = await socketPair((fd) => reactor.watch(fd));
    let mark: BatchMark | undefined;
    let firstRan: 1 | 2 | undefined;
    let batchSize = -1;
    let sameWakeup = false;
    const recs: Recording<number>[] = [];
    const onFirst = (me: 1 | 2) => {
      if (firstRan !== undefined) return;
      firstRan = me;
      const stats = reactor.stats;
      batchSize = stats.events - (mark?.events ?? NaN);
      sameWakeup = stats.wakeups === (mark?.wakeups ?? NaN) + 1;
      recs[me === 1 ? 1 : 0].stop(); // the other one, whose event comes later in this batch
    };
    recs.push(record(reactor.watch(b1, Interest.Readable), () => onFirst(1)));
    recs.push(record(reactor.watch(b2, Interest.Readable), () => onFirst(2)));
    mark = await writeInOneBatch(reactor, [a1, a2]);
    await until(() => firstRan !== undefined, 'the first handler');
    await delay(150);
    t.true(sameWakeup, 'the first handler ran in the wakeup right after the writes');
    t.is(batchSize, 2, 'both fds were in that one batch');
    const [winner, loser] = firstRan === 1 ? [recs[0], recs[1]] : [recs[1], recs[0]];
    t.deepEqual(loser.values, [], 'the unsubscribed watcher never received anything');
    t.true(winner.values.length >= 1);
    t.true(winner.values.every((r) => r === Ready.Readable));
    winner.stop();
    t.is(drain(b1).bytes.toString(), 'x');
    t.is(drain(b2).bytes.toString(), 'x');
    for (const fd of [a1, b1, a2, b2]) sys.close(fd);
  }));

test.serial('unsubscribing a sibling watcher of the same fd during dispatch drops its share of the event', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    let sibling: Recording<number> | undefined;
    const firstOne = record(reactor.watch(b, Interest.Readable), () => sibling?.stop());
    sibling = record(reactor.watch(b, Interest.Readable));
    t.is(reactor.stats.registrations, 1);
    sys.write(a, Buffer.from('x'));
    await until(() => firstOne.values.length > 0, 'the first watcher');
    await delay(100);
    firstOne.stop();
    t.deepEqual(sibling.values, [], 'the sibling unsubscribed in the same fan-out got nothing');
    t.is(reactor.stats.registrations, 0);
    sys.close(a);
    sys.close(b);
  }));

test.serial('re-subscribing during dispatch gets the next wakeup, not the rest of the current batch', (t) =>
  withReactor(t, async (reactor) => {
    const [a1, b1] = await socketPair((fd) => reactor.watch(fd));
    const [a2, b2] = await socketPair((fd) => reactor.watch(fd));
    const fds = { 1: b1, 2: b2 } as const;
    let mark: BatchMark | undefined;
    let firstRan: 1 | 2 | undefined;
    let batchSize = -1;
    let swapWakeup = -1;
    const recs: Record<1 | 2, Recording<number> | undefined> = { 1: undefined, 2: undefined };
    const wakeupsOfReplacement: number[] = [];
    let replacement: Recording<number> | undefined;
    const onFirst = (me: 1 | 2) => {
      if (firstRan !== undefined) return;
      firstRan = me;
      const other = me === 1 ? 2 : 1;
      batchSize = reactor.stats.events - (mark?.events ?? NaN);
      swapWakeup = reactor.stats.wakeups;
      recs[other]!.stop();
      replacement = record(reactor.watch(fds[other], Interest.Readable), () => {
        wakeupsOfReplacement.push(reactor.stats.wakeups);
      });
    };
    recs[1] = record(reactor.watch(b1, Interest.Readable), () => onFirst(1));
    recs[2] = record(reactor.watch(b2, Interest.Readable), () => onFirst(2));
    mark = await writeInOneBatch(reactor, [a1, a2]);
    await until(() => wakeupsOfReplacement.length >= 1, 'the replacement watcher');
    t.is(batchSize, 2, 'both fds were in one batch');
    const other = firstRan === 1 ? 2 : 1;
    t.deepEqual(recs[other]!.values, [], 'the replaced watcher got nothing');
    t.true(wakeupsOfReplacement[0] > swapWakeup, 'the replacement first heard of the fd in a later wakeup');
    replacement!.stop();
    recs[firstRan!]!.stop();
    t.is(reactor.stats.registrations, 0);
    for (const fd of [a1, b1, a2, b2]) sys.close(fd);
  }));
