import test from 'ava';
import { sys } from '../../index';
import { native } from '../../reactor/binding';

type SocketOption = sys.SocketOption;
import { withReactor } from '../helpers/leaks';

test.serial('boolean options round-trip on a TCP socket', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'stream');
    try {
      const names: SocketOption[] = ['SO_REUSEADDR', 'TCP_NODELAY', 'SO_KEEPALIVE'];
      if (sys.haveReusePort) names.push('SO_REUSEPORT');
      for (const name of names) {
        t.is(sys.getsockopt(fd, name), 0, `${name} starts off`);
        sys.setsockopt(fd, name, true);
        t.is(sys.getsockopt(fd, name), 1, `${name} on`);
        sys.setsockopt(fd, name, 0);
        t.is(sys.getsockopt(fd, name), 0, `${name} off`);
        sys.setsockopt(fd, name, 1);
        t.is(sys.getsockopt(fd, name), 1, `${name} on with 1`);
      }
    } finally {
      sys.close(fd);
    }
  }));

test.serial('SO_RCVBUF and SO_SNDBUF read back at least what was set (Linux doubles it)', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'stream');
    try {
      for (const name of ['SO_RCVBUF', 'SO_SNDBUF'] as const) {
        sys.setsockopt(fd, name, 32 * 1024);
        const got = sys.getsockopt(fd, name);
        t.true(got >= 32 * 1024, `${name} ${got}`);
        t.true(got <= 2 * 32 * 1024, `${name} ${got} is what was asked for (doubled), not a default`);
      }
    } finally {
      sys.close(fd);
    }
  }));

test.serial('SO_LINGER takes seconds, and -1 or false turns it off', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'stream');
    try {
      t.is(sys.getsockopt(fd, 'SO_LINGER'), -1, 'off by default');
      sys.setsockopt(fd, 'SO_LINGER', 5);
      t.is(sys.getsockopt(fd, 'SO_LINGER'), 5);
      sys.setsockopt(fd, 'SO_LINGER', 0);
      t.is(sys.getsockopt(fd, 'SO_LINGER'), 0, 'on with a zero timeout (close sends RST)');
      sys.setsockopt(fd, 'SO_LINGER', -1);
      t.is(sys.getsockopt(fd, 'SO_LINGER'), -1);
      sys.setsockopt(fd, 'SO_LINGER', 7);
      sys.setsockopt(fd, 'SO_LINGER', false);
      t.is(sys.getsockopt(fd, 'SO_LINGER'), -1);
    } finally {
      sys.close(fd);
    }
  }));

test.serial('IPV6_V6ONLY round-trips on an IPv6 socket and fails on an IPv4 one', (t) =>
  withReactor(t, () => {
    const v6 = sys.socket('ipv6', 'stream');
    const v4 = sys.socket('ipv4', 'stream');
    try {
      sys.setsockopt(v6, 'IPV6_V6ONLY', true);
      t.is(sys.getsockopt(v6, 'IPV6_V6ONLY'), 1);
      sys.setsockopt(v6, 'IPV6_V6ONLY', false);
      t.is(sys.getsockopt(v6, 'IPV6_V6ONLY'), 0);
      const err = t.throws(() => sys.setsockopt(v4, 'IPV6_V6ONLY', true));
      t.is((err as NodeJS.ErrnoException).syscall, 'setsockopt');
      t.is(typeof (err as NodeJS.ErrnoException).errno, 'number');
      t.true((err as NodeJS.ErrnoException).errno! < 0);
    } finally {
      sys.close(v6);
      sys.close(v4);
    }
  }));

test.serial('SO_BROADCAST round-trips on a datagram socket', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'dgram');
    try {
      t.is(sys.getsockopt(fd, 'SO_BROADCAST'), 0);
      sys.setsockopt(fd, 'SO_BROADCAST', true);
      t.is(sys.getsockopt(fd, 'SO_BROADCAST'), 1);
      sys.setsockopt(fd, 'SO_BROADCAST', false);
      t.is(sys.getsockopt(fd, 'SO_BROADCAST'), 0);
    } finally {
      sys.close(fd);
    }
  }));

test.serial('SO_ERROR is read-only: it reads 0 on a healthy socket and setting it throws', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'stream');
    try {
      t.is(sys.getsockopt(fd, 'SO_ERROR'), 0);
      t.is(sys.socketError(fd), null);
      t.throws(() => sys.setsockopt(fd, 'SO_ERROR', 0), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    } finally {
      sys.close(fd);
    }
  }));

test('the SocketOption type names exactly the options native/abi.h lists', (t) => {
  // A Record over the type: leaving one out, or naming one it lacks, fails to compile.
  const typed: Record<SocketOption, true> = {
    SO_REUSEADDR: true,
    SO_REUSEPORT: true,
    TCP_NODELAY: true,
    SO_KEEPALIVE: true,
    SO_RCVBUF: true,
    SO_SNDBUF: true,
    SO_LINGER: true,
    IPV6_V6ONLY: true,
    SO_ERROR: true,
    SO_BROADCAST: true,
    IP_MULTICAST_TTL: true,
    IP_MULTICAST_LOOP: true,
    IPV6_MULTICAST_HOPS: true,
    IPV6_MULTICAST_LOOP: true,
    SO_TYPE: true,
    SO_ACCEPTCONN: true,
  };
  t.deepEqual(Object.keys(typed).sort(), [...native.constants.SOCKET_OPTIONS].sort());
});
