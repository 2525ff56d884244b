import test from 'ava';
import { Interest, Reactor, sys, type BackendName } from '../../index';
import { withReactor } from '../helpers/leaks';

// Each check runs on a descriptor that was just closed: had the syscall run
// first, it would have failed with EBADF instead of the argument error.
function closedFd(): number {
  const fd = sys.socket('ipv4', 'stream');
  sys.close(fd);
  return fd;
}

test.serial('a negative or fractional fd is a RangeError ERR_OUT_OF_RANGE, thrown synchronously', (t) =>
  withReactor(t, (reactor) => {
    const buf = Buffer.alloc(4);
    for (const fd of [-1, 1.5, 2 ** 31]) {
      t.throws(() => sys.read(fd, buf), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => sys.write(fd, buf), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => sys.close(fd), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => sys.accept(fd), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
      // watch() validates before anything is subscribed.
      t.throws(() => reactor.watch(fd), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    }
    t.throws(() => sys.read('3' as unknown as number, buf), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.is(reactor.stats.registrations, 0);
  }));

test.serial('a port outside 0..65535 is a RangeError ERR_SOCKET_BAD_PORT before any syscall', (t) =>
  withReactor(t, () => {
    for (const port of [70000, -1, 1.5, NaN]) {
      const err = t.throws(() => sys.bind(closedFd(), { address: '127.0.0.1', port }), {
        instanceOf: RangeError,
        code: 'ERR_SOCKET_BAD_PORT',
      });
      t.regex(err!.message, /should be >= 0 and < 65536/);
      t.throws(() => sys.connect(closedFd(), { address: '127.0.0.1', port }), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
      t.throws(() => sys.sendto(closedFd(), Buffer.alloc(1), { address: '127.0.0.1', port }), {
        instanceOf: RangeError,
        code: 'ERR_SOCKET_BAD_PORT',
      });
    }
  }));

test.serial('an address that is not an IP literal is a TypeError ERR_INVALID_IP_ADDRESS before any syscall', (t) =>
  withReactor(t, () => {
    for (const address of ['localhost', '127.0.0.256', '::g', '']) {
      t.throws(() => sys.bind(closedFd(), { address, port: 80 }), { instanceOf: TypeError, code: 'ERR_INVALID_IP_ADDRESS' });
      t.throws(() => sys.connect(closedFd(), { address, port: 80 }), { instanceOf: TypeError, code: 'ERR_INVALID_IP_ADDRESS' });
    }
    t.throws(() => sys.connect(closedFd(), { address: 127 as unknown as string, port: 80 }), {
      instanceOf: TypeError,
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }));

test.serial('an unknown backend name is a TypeError ERR_INVALID_ARG_VALUE; a known but missing one says it is unavailable', (t) =>
  withReactor(t, () => {
    const err = t.throws(() => new Reactor({ backend: 'iouring' as BackendName }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.regex(err!.message, /'io_uring', 'epoll', 'kqueue', 'poll', 'select'/);
    t.throws(() => new Reactor(null as unknown as object), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => new Reactor({ batchSize: 0 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.true(Reactor.available.length >= 2, `available: ${Reactor.available}`);
    for (const name of ['io_uring', 'epoll', 'kqueue', 'poll', 'select'] as const) {
      if (Reactor.available.includes(name)) continue;
      t.throws(() => new Reactor({ backend: name }), { instanceOf: Error, code: 'ERR_RXNET_BACKEND_UNAVAILABLE' });
    }
  }));

test.serial('bad interest, buffers, ranges, options and names throw before any syscall', (t) =>
  withReactor(t, (reactor) => {
    const fd = closedFd();
    const buf = Buffer.alloc(8);
    t.throws(() => reactor.watch(fd, 4), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => reactor.watch(fd, -1 as number), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.read(fd, 'nope' as unknown as Buffer), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => sys.read(fd, buf, 9), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.read(fd, buf, 4, 5), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.write(fd, buf, -1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.writev(fd, buf as unknown as Uint8Array[]), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => sys.writev(fd, [buf, 'x' as unknown as Buffer]), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => sys.socket('ipx' as 'ipv4', 'stream'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => sys.socket('ipv4', 'raw' as 'stream'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => sys.shutdown(fd, 'sideways' as 'both'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => sys.setsockopt(fd, 'SO_NOPE' as 'SO_RCVBUF', 1), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => sys.setsockopt(fd, 'SO_RCVBUF', -5), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.setsockopt(fd, 'SO_LINGER', -2), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.listen(fd, -1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.sendfile(fd, fd, -1, 10), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => sys.bind(fd, { path: '' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => sys.bind(fd, null as unknown as { path: string }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.is(Interest.Both, Interest.Readable | Interest.Writable);
    t.is(reactor.stats.registrations, 0);
  }));
