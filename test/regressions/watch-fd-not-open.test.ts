/**
 * Regression: watching a descriptor that is not open.
 *
 * Reactor.watch() documents that "Errors (e.g. the fd is not open) reach
 * subscriber.error as Node-shaped errors". epoll does this (epoll_ctl says
 * EBADF). The poll and select backends register any number without checking
 * it (native/backend/interest_table.h, InterestTable::add), so:
 *
 * - poll reports POLLNVAL as Ready.Error on every wakeup, forever: the
 *   watcher gets a stream of Error emissions instead of an error and the
 *   helper thread spins at 100% CPU;
 * - select(2) fails the whole wait with EBADF, and ThreadMain
 *   (native/reactor.cc) just retries: the helper thread spins and no other
 *   registration of that reactor is ever reported again.
 */
import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { backend, delay, withReactor } from '../helpers/leaks';
import { record, until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

/** A descriptor number that was just closed; use it before anything opens another fd. */
function closedFd(): number {
  const fd = sys.socket('ipv4', 'stream');
  sys.close(fd);
  return fd;
}

test.serial('watching an fd that is not open errors with EBADF on every backend', (t) =>
  withReactor(t, async (reactor) => {
    const fd = closedFd();
    const rec = record(reactor.watch(fd, Interest.Readable));
    await delay(100);
    rec.stop();
    t.deepEqual(rec.values.slice(0, 3), [], `no readiness for a closed fd (${backend} emitted ${rec.values.length} times)`);
    t.truthy(rec.error, 'the watcher errored');
    t.is((rec.error as NodeJS.ErrnoException | undefined)?.code, 'EBADF');
    t.is((rec.error as NodeJS.ErrnoException | undefined)?.syscall, `${backend}_register`);
    t.is(reactor.stats.registrations, 0, 'nothing stays registered');
  }));

test.serial('a watch of an fd that is not open does not stop other registrations from being reported', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const bad = record(reactor.watch(closedFd(), Interest.Readable));
    const good = record(reactor.watch(b, Interest.Readable));
    sys.write(a, Buffer.from('x'));
    const reported = await until(() => good.values.length > 0, 'the healthy registration', 1000).then(
      () => true,
      () => false,
    );
    good.stop();
    bad.stop();
    t.true(reported, `the healthy fd was reported within 1 s on ${backend}`);
    t.is(good.values[0], Ready.Readable);
    sys.close(a);
    sys.close(b);
  }));
