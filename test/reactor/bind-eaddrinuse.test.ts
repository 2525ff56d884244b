import test from 'ava';
import { sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { assertSystemError } from '../helpers/readiness';
import { listener } from '../helpers/sockets';

test.serial('binding a port that is in use throws EADDRINUSE shaped like node:net', (t) =>
  withReactor(t, () => {
    const l = listener();
    const fd = sys.socket('ipv4', 'stream');
    try {
      const err = t.throws(() => sys.bind(fd, { address: '127.0.0.1', port: l.port }));
      assertSystemError(t, err, { code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port: l.port });
      t.is(err!.message, `bind EADDRINUSE 127.0.0.1:${l.port}`);
    } finally {
      sys.close(fd);
      sys.close(l.fd);
    }
  }));

test.serial('SO_REUSEADDR does not let a second socket bind a listening port', (t) =>
  withReactor(t, () => {
    const l = listener();
    const fd = sys.socket('ipv4', 'stream');
    try {
      sys.setsockopt(fd, 'SO_REUSEADDR', true);
      const err = t.throws(() => sys.bind(fd, { address: '127.0.0.1', port: l.port }));
      assertSystemError(t, err, { code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port: l.port });
    } finally {
      sys.close(fd);
      sys.close(l.fd);
    }
  }));

test.serial('binding an address this host does not have throws EADDRNOTAVAIL with address and port', (t) =>
  withReactor(t, () => {
    const fd = sys.socket('ipv4', 'stream');
    try {
      // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a host. Nothing is sent.
      const err = t.throws(() => sys.bind(fd, { address: '192.0.2.1', port: 4000 }));
      assertSystemError(t, err, { code: 'EADDRNOTAVAIL', syscall: 'bind', address: '192.0.2.1', port: 4000 });
    } finally {
      sys.close(fd);
    }
  }));
