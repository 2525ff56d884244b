/**
 * How many batches the reactor takes per turn of the event loop. On the
 * loop-thread readiness backend (epoll) a batch of two or more events is
 * followed at once by another non-blocking wait (busy peers usually have
 * more ready by then, and that wait is cheaper than a turn of libuv's loop)
 * and a lone event goes back to the loop. On every backend no turn takes
 * more than 8 batches, so timers, immediates and other handles still run
 * while sockets stay busy.
 */
import test from 'ava';
import { Interest, Reactor, sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { record } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

/** Batches per turn of the loop, over `turns` turns (setImmediate to setImmediate). */
async function batchesPerTurn(reactor: Reactor, turns: number): Promise<number[]> {
  const seen: number[] = [];
  await new Promise<void>((resolve) => {
    let last = reactor.stats.wakeups;
    const step = () => {
      const now = reactor.stats.wakeups;
      seen.push(now - last);
      last = now;
      if (seen.length > turns) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
  return seen.slice(1);
}

// The rule is asserted where it is exact: epoll. The helper-thread backends
// (poll, select, and kqueue under libkqueue) hand over one batch per wakeup
// through their own hand-shake; io_uring's watch() is a multishot poll whose
// completions come as the kernel posts them. Their counts are logged.
const loopThread = backend === 'epoll';

test.serial('busy sockets: more than one batch per turn of the loop, never more than 8; a lone event: one', (t) =>
  withReactor(t, async (reactor) => {
    const own = new Reactor({ backend });
    const pairs: Array<[number, number]> = [];
    try {
      for (let i = 0; i < 2; i++) pairs.push(await socketPair((fd) => reactor.watch(fd)));
      // Data nobody reads: level-triggered readiness, reported on every wait.
      for (const [a] of pairs) sys.write(a, Buffer.from('unread'));
      const one = record(own.watch(pairs[0][1], Interest.Readable));
      const lone = await batchesPerTurn(own, 20);
      const two = record(own.watch(pairs[1][1], Interest.Readable));
      const busy = await batchesPerTurn(own, 20);
      one.stop();
      two.stop();
      t.true(
        busy.every((n) => n <= 8),
        `at most 8 batches per turn with two ready fds: ${busy.join(' ')}`,
      );
      if (!loopThread) {
        t.log(`${backend}: batches per turn, one ready fd ${lone.join(' ')}; two ${busy.join(' ')}`);
        return;
      }
      t.true(
        lone.every((n) => n <= 1),
        `one batch per turn with one ready fd: ${lone.join(' ')}`,
      );
      t.true(
        busy.some((n) => n > 1),
        `more than one batch in some turn with two ready fds: ${busy.join(' ')}`,
      );
    } finally {
      own.close();
      for (const [a, b] of pairs) {
        sys.close(a);
        sys.close(b);
      }
    }
  }));
