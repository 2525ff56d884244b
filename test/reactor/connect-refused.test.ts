import * as os from 'node:os';
import test from 'ava';
import { Interest, Ready, sys, type SystemError } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { assertSystemError, collectFor } from '../helpers/readiness';
import { closedPort, first } from '../helpers/sockets';

// select cannot report Error (backend.h): a refused connect shows there as
// plain Writable, and SO_ERROR is the only way to learn what happened.
const reportsError = backend !== 'select';

test.serial('a non-blocking connect to a closed port is an Error (Writable on select) and SO_ERROR says ECONNREFUSED', (t) =>
  withReactor(t, async (reactor) => {
    const port = closedPort();
    const fd = sys.socket('ipv4', 'stream');
    let inProgress: boolean;
    try {
      inProgress = !sys.connect(fd, { address: '127.0.0.1', port });
    } catch (err) {
      // Allowed by connect(2): the refusal may be known before it returns.
      assertSystemError(t, err, { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port });
      sys.close(fd);
      return;
    }
    t.true(inProgress, 'connect() reported success to a port nothing listens on');

    const ready = await first(reactor.watch(fd, Interest.Writable));
    if (reportsError) {
      t.true((ready & Ready.Error) !== 0, `${backend} reports Error (got ${ready})`);
    } else {
      t.is(ready, Ready.Writable, 'select reports the failed connect as Writable');
    }
    const err = sys.socketError(fd, 'connect', { address: '127.0.0.1', port });
    assertSystemError(t, err, { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port });
    t.is((err as SystemError).errno, -os.constants.errno.ECONNREFUSED);
    // Reading SO_ERROR clears it.
    t.is(sys.getsockopt(fd, 'SO_ERROR'), 0);
    t.is(sys.socketError(fd), null);
    sys.close(fd);
  }));

test.serial('a refused connect is reported to a Readable watcher too (Readable on select), and read gives ECONNREFUSED', (t) =>
  withReactor(t, async (reactor) => {
    const port = closedPort();
    const fd = sys.socket('ipv4', 'stream');
    t.false(sys.connect(fd, { address: '127.0.0.1', port }));
    const ready = await first(reactor.watch(fd, Interest.Readable));
    if (reportsError) t.true((ready & Ready.Error) !== 0, `Error in ${ready}`);
    else t.is(ready, Ready.Readable);
    t.is(sys.read(fd, Buffer.alloc(8)), -os.constants.errno.ECONNREFUSED);
    sys.close(fd);
  }));

test.serial('a failed connect is reported again on every wakeup until the fd is removed (level-triggered)', (t) =>
  withReactor(t, async (reactor) => {
    const port = closedPort();
    const fd = sys.socket('ipv4', 'stream');
    t.false(sys.connect(fd, { address: '127.0.0.1', port }));
    const seen = await collectFor(reactor.watch(fd, Interest.Writable), 100);
    t.true(seen.length >= 2, `several wakeups, got ${seen.length}`);
    for (const ready of seen) {
      if (reportsError) t.true((ready & Ready.Error) !== 0, `Error in ${ready}`);
      else t.is(ready, Ready.Writable);
    }
    sys.close(fd);
  }));
