import test from 'ava';
import { Interest, Reactor, Ready, sys } from '../../index';
import { backend, delay, withReactor } from '../helpers/leaks';
import { writeInOneBatch, type BatchMark } from '../helpers/batch';
import { drain, record, until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('close() completes every watcher, deregisters every fd and leaves the fds open', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const readerB = record(reactor.watch(b, Interest.Readable));
    const writerB = record(reactor.watch(b, Interest.Writable));
    const readerA = record(reactor.watch(a, Interest.Readable));
    t.is(reactor.stats.registrations, 2);
    await until(() => writerB.values.length > 0, 'the writer');
    reactor.close();
    t.true(reactor.closed);
    for (const rec of [readerB, writerB, readerA]) {
      t.true(rec.completed, 'completed');
      t.is(rec.error, undefined);
      t.true(rec.subscription.closed);
    }
    t.is(reactor.stats.registrations, 0);
    const seen = writerB.values.length;
    sys.write(a, Buffer.from('after close'));
    await delay(100);
    t.is(writerB.values.length, seen, 'nothing after close');
    t.deepEqual(readerB.values, []);
    // The sockets still work: the reactor never owned them.
    t.deepEqual(drain(b), { bytes: Buffer.from('after close'), eof: false });
    reactor.close(); // idempotent
    sys.close(a);
    sys.close(b);
  }));

test.serial('watch() on a closed reactor completes at once; register() throws ERR_RXNET_REACTOR_CLOSED', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    reactor.close();
    const rec = record(reactor.watch(b, Interest.Readable));
    t.true(rec.completed, 'completed synchronously on subscribe');
    t.deepEqual(rec.values, []);
    t.is(rec.error, undefined);
    t.throws(() => reactor.register(b, Interest.Readable, { onReady: () => {} }), { instanceOf: Error, code: 'ERR_RXNET_REACTOR_CLOSED' });
    t.is(reactor.stats.registrations, 0);
    sys.close(a);
    sys.close(b);
  }));

test.serial("a closed reactor's calls never reach a reactor made after it (ids are not reused)", (t) =>
  withReactor(t, async (reactor) => {
    // The hot native calls name their reactor by id: were a closed reactor's
    // id handed to the next one, this registration would land in it.
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    reactor.close();
    await delay(50); // the native side finishes closing (its uv_close) and frees the slot
    const next = new Reactor({ backend });
    try {
      t.throws(() => reactor.register(b, Interest.Readable, { onReady: () => {} }), { instanceOf: Error, code: 'ERR_RXNET_REACTOR_CLOSED' });
      t.is(next.stats.registrations, 0);
      // The new one works as usual.
      const rec = record(next.watch(b, Interest.Readable));
      sys.write(a, Buffer.from('x'));
      await until(() => rec.values.length > 0, 'readable on the new reactor');
      t.true((rec.values[0] & Ready.Readable) !== 0);
      rec.subscription.unsubscribe();
      t.is(next.stats.registrations, 0);
    } finally {
      next.close();
      sys.close(a);
      sys.close(b);
    }
  }));

test.serial('closing the reactor from inside a handler drops the rest of the batch', (t) =>
  withReactor(t, async (reactor) => {
    const [a1, b1] = await socketPair((fd) => reactor.watch(fd));
    const [a2, b2] = await socketPair((fd) => reactor.watch(fd));
    let mark: BatchMark | undefined;
    let calls = 0;
    let batchSize = -1;
    const onEvent = () => {
      calls++;
      batchSize = reactor.stats.events - (mark?.events ?? NaN);
      reactor.close();
    };
    const one = record(reactor.watch(b1, Interest.Readable), onEvent);
    const two = record(reactor.watch(b2, Interest.Readable), onEvent);
    mark = await writeInOneBatch(reactor, [a1, a2]);
    await until(() => reactor.closed, 'a handler to close the reactor');
    await delay(100);
    t.is(batchSize, 2, 'both fds were in the batch');
    t.is(calls, 1, 'only the first handler of the batch ran');
    t.true(one.completed && two.completed);
    t.is(one.values.length + two.values.length, 1);
    t.is(reactor.stats.registrations, 0);
    for (const fd of [a1, b1, a2, b2]) sys.close(fd);
  }));

test.serial('a second reactor on the same thread is independent of the first', (t) =>
  withReactor(t, async (reactor) => {
    const other = new Reactor({ backend });
    try {
      const [a, b] = await socketPair((fd) => reactor.watch(fd));
      const mine = record(other.watch(b, Interest.Readable));
      t.is(other.stats.registrations, 1);
      t.is(reactor.stats.registrations, 0);
      sys.write(a, Buffer.from('x'));
      await until(() => mine.values.length > 0, 'the other reactor');
      t.is(mine.values[0], Ready.Readable);
      other.close();
      t.true(mine.completed);
      sys.close(a);
      sys.close(b);
    } finally {
      other.close();
    }
  }));
