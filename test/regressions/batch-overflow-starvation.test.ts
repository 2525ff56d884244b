/**
 * Regression: with more ready fds than fit in one batch, poll and select
 * starve the fds after the first `batchSize` ones.
 *
 * DESIGN.md: "Budgets per wakeup ... keep one busy socket from starving the
 * rest." PollBackend::wait and SelectBackend::wait (native/backend/poll.cc,
 * select.cc) scan the registration table from index 0 every time and stop at
 * `max` events, so while the first `max` registrations stay ready
 * (level-triggered, e.g. a paused reader or a reader with a per-wakeup
 * budget), the others are never reported. epoll rotates its ready list and
 * is fair. With the default batchSize of 1024 this hits poll servers with more
 * than 1024 busy connections; any smaller batchSize shows it sooner.
 */
import test from 'ava';
import { Interest, Reactor, sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { record, until, type Recording } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('every ready fd is reported even when more are ready than fit in one batch', (t) =>
  withReactor(t, async (reactor) => {
    const small = new Reactor({ backend, batchSize: 2 });
    const pairs: Array<[number, number]> = [];
    const recs: Recording<number>[] = [];
    try {
      for (let i = 0; i < 3; i++) pairs.push(await socketPair((fd) => reactor.watch(fd)));
      // Three fds with data nobody reads: all of them stay ready.
      for (const [a] of pairs) sys.write(a, Buffer.from('unread'));
      for (const [, b] of pairs) recs.push(record(small.watch(b, Interest.Readable)));
      // 30 wakeups of at most 2 events: room for each of the 3 fds many times over.
      await until(() => small.stats.wakeups >= 30, '30 wakeups');
      for (const r of recs) r.stop();
      const counts = recs.map((r) => r.values.length);
      t.is(small.stats.largestBatch, 2);
      t.true(
        counts.every((n) => n > 0),
        `each of the 3 ready fds was reported at least once in ${small.stats.wakeups} wakeups of at most 2 events (counts: ${counts.join(', ')})`,
      );
    } finally {
      for (const r of recs) r.stop();
      small.close();
      for (const [a, b] of pairs) {
        sys.close(a);
        sys.close(b);
      }
    }
  }));
