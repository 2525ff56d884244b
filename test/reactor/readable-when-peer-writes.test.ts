import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { collectFor, drain, record, until } from '../helpers/readiness';
import { client, destroy, first, listener, acceptOne, socketPair } from '../helpers/sockets';

test.serial('an idle connection reports no Readable', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    t.deepEqual(await collectFor(reactor.watch(b, Interest.Readable), 150), []);
    sys.close(a);
    sys.close(b);
  }));

test.serial('a peer writing after subscribe makes the socket Readable, with the bytes readable at once', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const rec = record(reactor.watch(b, Interest.Readable));
    t.is(sys.write(a, Buffer.from('hello')), 5);
    await until(() => rec.values.length > 0, 'Readable');
    rec.stop();
    t.true((rec.values[0] & Ready.Readable) !== 0, `emission ${rec.values[0]} has Readable`);
    t.is(rec.values[0] & Ready.Hangup, 0, 'the peer is still open');
    t.is(rec.values[0] & Ready.Error, 0);
    t.is(rec.values[0] & Ready.Writable, 0, 'Writable was not asked for');
    t.deepEqual(drain(b), { bytes: Buffer.from('hello'), eof: false });
    sys.close(a);
    sys.close(b);
  }));

test.serial('data that arrived before subscribing is reported on the first wakeup', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.write(a, Buffer.from('early'));
    const ready = await first(reactor.watch(b, Interest.Readable));
    t.true((ready & Ready.Readable) !== 0);
    t.is(drain(b).bytes.toString(), 'early');
    sys.close(a);
    sys.close(b);
  }));

test.serial('a node:net peer writing makes an accepted socket Readable', (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    const peer = await client(l.port);
    const fd = await acceptOne((f) => reactor.watch(f), l.fd);
    sys.close(l.fd);
    peer.write('from node');
    const ready = await first(reactor.watch(fd, Interest.Readable));
    t.true((ready & Ready.Readable) !== 0);
    t.is(drain(fd).bytes.toString(), 'from node');
    await destroy(peer);
    sys.close(fd);
  }));
