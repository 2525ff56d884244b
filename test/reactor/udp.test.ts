import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { first } from '../helpers/sockets';

function udpSocket(family: 'ipv4' | 'ipv6', address: string): { fd: number; port: number } {
  const fd = sys.socket(family, 'dgram');
  sys.bind(fd, { address, port: 0 });
  return { fd, port: sys.getsockname(fd).port };
}

for (const [family, address, familyName] of [
  ['ipv4', '127.0.0.1', 'IPv4'],
  ['ipv6', '::1', 'IPv6'],
] as const) {
  test.serial(`sendto and recvfrom carry a datagram with its sender's address, port and family (${familyName})`, (t) =>
    withReactor(t, async (reactor) => {
      const a = udpSocket(family, address);
      const b = udpSocket(family, address);
      try {
        const buf = Buffer.alloc(64);
        t.is(sys.recvfrom(b.fd, buf), sys.EAGAIN, 'nothing there yet');
        t.is(sys.sendto(a.fd, Buffer.from('datagram one'), { address, port: b.port }), 12);
        t.is(sys.sendto(a.fd, Buffer.from('xxtwoxx'), { address, port: b.port }, 2, 3), 3);
        t.is(await first(reactor.watch(b.fd, Interest.Readable)), Ready.Readable);
        t.deepEqual(sys.recvfrom(b.fd, buf), { bytes: 12, address, port: a.port, family: familyName, truncated: false });
        t.is(buf.subarray(0, 12).toString(), 'datagram one');
        // Datagram boundaries are kept.
        t.deepEqual(sys.recvfrom(b.fd, buf, 10), { bytes: 3, address, port: a.port, family: familyName, truncated: false });
        t.is(buf.subarray(10, 13).toString(), 'two');
        t.is(sys.recvfrom(b.fd, buf), sys.EAGAIN);
      } finally {
        sys.close(a.fd);
        sys.close(b.fd);
      }
    }));
}

test.serial('a datagram larger than the buffer is flagged truncated and its tail is dropped', (t) =>
  withReactor(t, async (reactor) => {
    const a = udpSocket('ipv4', '127.0.0.1');
    const b = udpSocket('ipv4', '127.0.0.1');
    try {
      const big = Buffer.alloc(100, 0x7a);
      t.is(sys.sendto(a.fd, big, { address: '127.0.0.1', port: b.port }), 100);
      t.is(sys.sendto(a.fd, Buffer.from('next'), { address: '127.0.0.1', port: b.port }), 4);
      await first(reactor.watch(b.fd, Interest.Readable));
      const small = Buffer.alloc(10);
      const r = sys.recvfrom(b.fd, small);
      t.deepEqual(r, { bytes: 10, address: '127.0.0.1', port: a.port, family: 'IPv4', truncated: true });
      t.is(small.toString(), 'z'.repeat(10));
      // The rest of that datagram is gone; the next read gets the next one.
      const r2 = sys.recvfrom(b.fd, small);
      t.deepEqual(r2, { bytes: 4, address: '127.0.0.1', port: a.port, family: 'IPv4', truncated: false });
      t.is(small.subarray(0, 4).toString(), 'next');
    } finally {
      sys.close(a.fd);
      sys.close(b.fd);
    }
  }));

test.serial('a datagram socket is Writable at once and Readable only with a datagram queued', (t) =>
  withReactor(t, async (reactor) => {
    const a = udpSocket('ipv4', '127.0.0.1');
    try {
      t.is(await first(reactor.watch(a.fd, Interest.Writable)), Ready.Writable);
      sys.sendto(a.fd, Buffer.from('self'), { address: '127.0.0.1', port: a.port });
      t.is(await first(reactor.watch(a.fd, Interest.Readable)), Ready.Readable);
      const r = sys.recvfrom(a.fd, Buffer.alloc(8));
      t.is(typeof r === 'number' ? r : r.bytes, 4);
    } finally {
      sys.close(a.fd);
    }
  }));
