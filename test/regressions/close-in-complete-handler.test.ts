/**
 * Regression: closing the fd in a watcher's `complete` handler leaves the
 * epoll reactor counting a registration forever, so the process never exits.
 *
 * RxJS calls an observer's `complete` before it runs the source's teardown,
 * so with `watch(fd).pipe(take(1)).subscribe({ complete: () => sys.close(fd) })`
 * the fd is closed first and deregistered after. The kernel has already
 * dropped a closed fd from the epoll set, so EPOLL_CTL_DEL fails with EBADF;
 * Reactor::remove (native/reactor.cc) only decrements `registrations` and
 * calls update_ref() when the backend's remove() returns 0, and
 * Reactor.deregister (reactor/reactor.ts) ignores the result. The count stays
 * at 1, the uv handle stays referenced, and the script hangs. poll and select
 * remove the fd from their own table and count it gone, so the same code
 * exits there.
 */
import test from 'ava';
import { take } from 'rxjs';
import { Interest, sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { runFixture, within } from '../helpers/processes';
import { until } from '../helpers/readiness';
import { client, destroy, listener } from '../helpers/sockets';

test.serial('an fd closed in complete, before the teardown deregisters it, leaves no registration behind', (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    let completed = false;
    let accepted = -1;
    reactor
      .watch(l.fd, Interest.Readable)
      .pipe(take(1))
      .subscribe({
        next: () => {
          accepted = sys.accept(l.fd);
        },
        complete: () => {
          sys.close(l.fd); // the listener's owner is done with it
          completed = true;
        },
      });
    const peer = await client(l.port);
    await until(() => completed, 'the watcher to complete');
    t.true(accepted >= 0);
    t.is(reactor.stats.registrations, 0, `${backend} still counts the closed fd as registered (so the loop stays referenced)`);
    sys.close(accepted);
    await destroy(peer);
  }));

test.serial('a script that closes its listener in complete exits by itself', (t) =>
  withReactor(t, async () => {
    const child = runFixture('close-in-complete', [], { RXNET_BACKEND: backend });
    try {
      const { port } = JSON.parse(await child.nextLine()) as { port: number };
      const peer = await client(port);
      const done = JSON.parse(await child.nextLine()) as { done: boolean; registrations: number };
      t.true(done.done);
      const exit = await within(child.exited, 3000, 'the child to exit by itself').catch((err: Error) => err.message);
      t.deepEqual(exit, { code: 0, signal: null }, `registrations in the child: ${done.registrations}`);
      await destroy(peer);
    } finally {
      await child.kill();
    }
  }));
