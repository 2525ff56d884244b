import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { collectFor, drain, record, until } from '../helpers/readiness';
import { first, listener, socketPair } from '../helpers/sockets';

test.serial('a connected socket is Writable, and only Writable when that is all it asks for', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const ready = await first(reactor.watch(a, Interest.Writable));
    t.is(ready, Ready.Writable);
    t.is(sys.write(a, Buffer.from('x')), 1);
    sys.close(a);
    sys.close(b);
  }));

test.serial('a non-blocking connect in progress becomes Writable once established', (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    const fd = sys.socket('ipv4', 'stream');
    const immediately = sys.connect(fd, { address: '127.0.0.1', port: l.port });
    t.false(immediately, 'a TCP connect is in progress, even on loopback');
    const ready = await first(reactor.watch(fd, Interest.Writable));
    t.true((ready & Ready.Writable) !== 0);
    t.is(ready & Ready.Error, 0);
    t.is(sys.socketError(fd), null);
    t.is(sys.getpeername(fd).port, l.port);
    sys.close(fd);
    const accepted = sys.accept(l.fd);
    t.true(accepted >= 0);
    sys.close(accepted);
    sys.close(l.fd);
  }));

test.serial('a full send buffer is not Writable until the peer reads', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.setsockopt(a, 'SO_SNDBUF', 4096);
    sys.setsockopt(b, 'SO_RCVBUF', 4096);
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    let sent = 0;
    for (let i = 0; ; i++) {
      t.true(i < 100_000, 'the send buffer never filled');
      const n = sys.write(a, chunk);
      if (n === sys.EAGAIN) break;
      t.true(n > 0, `write returned ${n}`);
      sent += n;
    }
    t.deepEqual(await collectFor(reactor.watch(a, Interest.Writable), 150), [], 'no Writable while full');

    // The peer drains; the writer must become Writable again.
    let received = 0;
    const reader = record(reactor.watch(b, Interest.Readable), () => {
      received += drain(b).bytes.length;
    });
    const writer = record(reactor.watch(a, Interest.Writable));
    await until(() => writer.values.length > 0, 'Writable after the peer read');
    writer.stop();
    t.true((writer.values[0] & Ready.Writable) !== 0);
    await until(() => received === sent, `all ${sent} bytes at the peer`);
    reader.stop();
    t.is(received, sent);
    sys.close(a);
    sys.close(b);
  }));
