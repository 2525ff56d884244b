import * as os from 'node:os';
import test from 'ava';
import { sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { assertSystemError } from '../helpers/readiness';

const EBADF = -os.constants.errno.EBADF;

/** An fd number that was just closed (and that nothing reuses before the synchronous calls that follow). */
function closedFd(): number {
  const fd = sys.socket('ipv4', 'stream');
  sys.close(fd);
  return fd;
}

test.serial('hot-path calls on a closed fd return -EBADF instead of throwing', (t) =>
  withReactor(t, () => {
    const buf = Buffer.alloc(8);
    t.is(sys.EBADF, EBADF);
    t.is(sys.read(closedFd(), buf), EBADF);
    t.is(sys.write(closedFd(), buf), EBADF);
    t.is(sys.writev(closedFd(), [buf, buf]), EBADF);
    t.is(sys.accept(closedFd()), EBADF);
    t.is(sys.recvfrom(closedFd(), buf), EBADF);
    t.is(sys.sendto(closedFd(), buf, { address: '127.0.0.1', port: 9 }), EBADF);
    const r = sys.read(closedFd(), buf);
    assertSystemError(t, sys.errnoException(r, 'read'), { code: 'EBADF', syscall: 'read' });
  }));

test.serial('setup calls on a closed fd throw EBADF shaped like node:net', (t) =>
  withReactor(t, () => {
    for (const [syscall, call] of [
      ['close', (fd: number) => sys.close(fd)],
      ['listen', (fd: number) => sys.listen(fd)],
      ['shutdown', (fd: number) => sys.shutdown(fd, 'both')],
      ['getsockname', (fd: number) => sys.getsockname(fd)],
      ['getpeername', (fd: number) => sys.getpeername(fd)],
      ['setsockopt', (fd: number) => sys.setsockopt(fd, 'TCP_NODELAY', true)],
      ['getsockopt', (fd: number) => sys.getsockopt(fd, 'SO_RCVBUF')],
    ] as const) {
      const fd = closedFd();
      const err = t.throws(() => call(fd), undefined, syscall);
      assertSystemError(t, err, { code: 'EBADF', syscall });
    }
    const fd = closedFd();
    const err = t.throws(() => sys.bind(fd, { address: '127.0.0.1', port: 0 }));
    t.is((err as NodeJS.ErrnoException).code, 'EBADF');
    t.is((err as NodeJS.ErrnoException).syscall, 'bind');
  }));

test.serial("errnoException's stack starts at its caller, is captured once, and Error.stackTraceLimit is left as it was", (t) =>
  withReactor(t, () => {
    const before = Error.stackTraceLimit;
    const error = (function theCaller() {
      return sys.errnoException(EBADF, 'read');
    })();
    t.is(Error.stackTraceLimit, before);
    const frames = error.stack!.split('\n').slice(1);
    t.true(frames.length > 1, 'a stack was captured');
    t.regex(frames[0], /theCaller/, 'the first frame is the caller');
    t.false(error.stack!.includes('errnoException'), 'no frame of its own');
    // A limit the application set is the one used.
    Error.stackTraceLimit = 7;
    try {
      t.is(sys.errnoException(EBADF, 'read').stack!.split('\n').length - 1, 7);
    } finally {
      Error.stackTraceLimit = before;
    }
  }));
