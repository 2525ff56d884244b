import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { drain } from '../helpers/readiness';
import { client, destroy, first, listener, acceptOne, socketPair } from '../helpers/sockets';

// select cannot tell a hangup from readability (backend.h): there the FIN
// shows as plain Readable, and read() returning 0 is the only signal.
const reportsHangup = backend !== 'select';

test.serial('the peer closing is a Hangup (Readable on select), and read returns 0 on every backend', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.close(a);
    const ready = await first(reactor.watch(b, Interest.Readable));
    if (reportsHangup) {
      t.true((ready & Ready.Hangup) !== 0, `${backend} reports Hangup (got ${ready})`);
    } else {
      t.is(ready, Ready.Readable, 'select reports the FIN as Readable only');
    }
    t.is(sys.read(b, Buffer.alloc(16)), 0, 'end of stream');
    sys.close(b);
  }));

test.serial('data sent before the close is still read before end of stream', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.write(a, Buffer.from('last words'));
    sys.close(a);
    const ready = await first(reactor.watch(b, Interest.Readable));
    t.true((ready & Ready.Readable) !== 0);
    if (reportsHangup) t.true((ready & Ready.Hangup) !== 0);
    else t.is(ready & Ready.Hangup, 0);
    t.deepEqual(drain(b), { bytes: Buffer.from('last words'), eof: true });
    sys.close(b);
  }));

test.serial('a node:net peer ending is a Hangup (Readable on select)', (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    const peer = await client(l.port);
    const fd = await acceptOne((f) => reactor.watch(f), l.fd);
    sys.close(l.fd);
    peer.end();
    const ready = await first(reactor.watch(fd, Interest.Readable));
    if (reportsHangup) t.true((ready & Ready.Hangup) !== 0);
    else t.is(ready, Ready.Readable);
    t.is(sys.read(fd, Buffer.alloc(16)), 0);
    sys.close(fd);
    await destroy(peer);
  }));

test.serial('a reset peer is a Hangup and Error (Readable on select), and read returns ECONNRESET', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.setsockopt(a, 'SO_LINGER', 0); // close() now sends RST
    sys.close(a);
    const ready = await first(reactor.watch(b, Interest.Readable));
    if (reportsHangup) {
      t.true((ready & Ready.Hangup) !== 0, `Hangup in ${ready}`);
      t.true((ready & Ready.Error) !== 0, `Error in ${ready}`);
    } else {
      t.is(ready, Ready.Readable);
    }
    t.is(sys.read(b, Buffer.alloc(16)), sys.ECONNRESET);
    sys.close(b);
  }));
