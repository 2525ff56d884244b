import test from 'ava';
import { Interest, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { readExactly } from '../helpers/readiness';
import { acceptOne, first } from '../helpers/sockets';

test.serial('TCP over ::1, with getsockname and getpeername on both ends', (t) =>
  withReactor(t, async (reactor) => {
    const l = sys.socket('ipv6', 'stream');
    const c = sys.socket('ipv6', 'stream');
    let s = -1;
    try {
      sys.setsockopt(l, 'IPV6_V6ONLY', true);
      sys.bind(l, { address: '::1', port: 0 });
      sys.listen(l);
      const { port, family, address } = sys.getsockname(l);
      t.is(family, 'IPv6');
      t.is(address, '::1');
      t.true(port > 0);

      t.false(sys.connect(c, { address: '::1', port }));
      await first(reactor.watch(c, Interest.Writable));
      t.is(sys.socketError(c), null);
      s = await acceptOne((fd) => reactor.watch(fd), l);

      const clientName = sys.getsockname(c);
      t.deepEqual(sys.getpeername(c), { family: 'IPv6', address: '::1', port });
      t.deepEqual(sys.getpeername(s), clientName);
      t.is(clientName.family, 'IPv6');
      t.is(clientName.address, '::1');
      t.deepEqual(sys.getsockname(s), { family: 'IPv6', address: '::1', port });

      t.is(sys.write(c, Buffer.from('six')), 3);
      t.is((await readExactly(reactor, s, 3)).toString(), 'six');
    } finally {
      if (s >= 0) sys.close(s);
      sys.close(c);
      sys.close(l);
    }
  }));

test.serial('getpeername on a socket that is not connected throws ENOTCONN', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'stream');
    try {
      const err = t.throws(() => sys.getpeername(fd));
      t.is((err as NodeJS.ErrnoException).code, 'ENOTCONN');
      t.is((err as NodeJS.ErrnoException).syscall, 'getpeername');
      t.deepEqual(sys.getsockname(fd), { family: 'IPv4', address: '0.0.0.0', port: 0 });
    } finally {
      sys.close(fd);
    }
  }));

test.serial('an IPv4 connect to a listener on ::1 with IPV6_V6ONLY is refused', (t) =>
  withReactor(t, async (reactor) => {
    const l = sys.socket('ipv6', 'stream');
    const c = sys.socket('ipv4', 'stream');
    try {
      sys.setsockopt(l, 'IPV6_V6ONLY', true);
      sys.bind(l, { address: '::1', port: 0 });
      sys.listen(l);
      const { port } = sys.getsockname(l);
      t.false(sys.connect(c, { address: '127.0.0.1', port }));
      await first(reactor.watch(c, Interest.Writable));
      t.is(sys.socketError(c)?.message, 'connect ECONNREFUSED');
    } finally {
      sys.close(c);
      sys.close(l);
    }
  }));
