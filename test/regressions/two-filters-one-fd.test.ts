/**
 * Regression: kqueue keeps readable and writable interest of one fd in two
 * filters (EVFILT_READ, EVFILT_WRITE), each its own kevent.
 *
 * - Its modify() re-issued EV_ADD for every filter of the new interest,
 *   including ones already registered. BSD accepts that (kqueue(2): re-adding
 *   modifies), libkqueue refuses it for sockets (src/linux/read.c and
 *   write.c, kn_modify), and the backend then returned the error while the
 *   other change of the same call had been made: the writer of a merged
 *   registration never saw Writable, and what the backend believed was
 *   registered no longer matched the kernel. modify() now sends only the
 *   difference and records what each change really did.
 * - wait() must merge the two kevents of one fd into one batch entry
 *   (backend.h), or a watcher of both would see Readable and Writable as two
 *   emissions of one wakeup.
 *
 * Both hold on every backend; they were written against kqueue.
 */
import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { drain, record, until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('an fd readable and writable at once is one batch entry with both bits', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const rec = record(reactor.watch(b, Interest.Both));
    // Both filters registered and reporting (Writable alone: nothing to read
    // yet). A helper thread can take a batch between the two registrations of
    // one add(); waiting for the first emission rules that window out.
    await until(() => rec.values.length > 0, 'the first wakeup');
    sys.write(a, Buffer.from('ping'));
    await until(() => rec.values.some((r) => (r & Ready.Readable) !== 0), 'Readable');
    const from = rec.values.length;
    const before = reactor.stats;
    await delay(100);
    const after = reactor.stats;
    rec.stop();
    const seen = rec.values.slice(from);
    t.true(seen.length >= 2, `level-triggered: several wakeups, got ${seen.length}`);
    t.true(
      seen.every((r) => r === (Ready.Readable | Ready.Writable)),
      `every emission has both bits: ${seen.join(', ')}`,
    );
    // b is the only registration: one entry per wakeup.
    t.is(after.events - before.events, after.wakeups - before.wakeups, 'one event per wakeup');
    t.is(drain(b).bytes.toString(), 'ping');
    sys.close(a);
    sys.close(b);
  }));

test.serial('Writable interest added and dropped again and again on a reading registration', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const reader = record(reactor.watch(b, Interest.Readable));
    for (let round = 0; round < 5; round++) {
      const writer = record(reactor.watch(b, Interest.Writable));
      t.is(reactor.stats.registrations, 1, 'one registration for both watchers');
      await until(() => writer.values.length > 0, `the writer in round ${round}`, 2000);
      writer.stop();
      t.is(writer.error, undefined);
      t.true(writer.values.every((r) => r === Ready.Writable));
    }
    t.deepEqual(reader.values, [], 'nothing readable yet');
    t.is(reader.error, undefined);
    sys.write(a, Buffer.from('after'));
    await until(() => reader.values.length > 0, 'the reader');
    t.is(reader.values[0], Ready.Readable);
    reader.stop();
    t.is(drain(b).bytes.toString(), 'after');
    sys.close(a);
    sys.close(b);
  }));
