import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { drain, record, until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('unread data is reported again on later wakeups; once read, no more Readable', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.write(a, Buffer.from('unread'));
    const wakeupsAtEmission: number[] = [];
    let readAt = -1;
    const rec = record(reactor.watch(b, Interest.Readable), (_ready, r) => {
      wakeupsAtEmission.push(reactor.stats.wakeups);
      if (r.values.length === 3) {
        // Only now, on the third report, read everything.
        t.deepEqual(drain(b), { bytes: Buffer.from('unread'), eof: false });
        readAt = r.values.length;
      }
    });
    await until(() => readAt === 3, 'three reports of the same unread data');
    await new Promise((resolve) => setTimeout(resolve, 150));
    rec.stop();
    t.deepEqual(rec.values, [Ready.Readable, Ready.Readable, Ready.Readable], 'nothing after everything was read');
    // Each report came from a wakeup of its own.
    t.true(wakeupsAtEmission[0] < wakeupsAtEmission[1] && wakeupsAtEmission[1] < wakeupsAtEmission[2]);
    sys.close(a);
    sys.close(b);
  }));

test.serial('a reader that stops early (a budget) is woken again for the rest', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.write(a, Buffer.from('0123456789'));
    const got: string[] = [];
    const one = Buffer.alloc(1);
    const rec = record(reactor.watch(b, Interest.Readable), () => {
      // Budget of one byte per wakeup: never drains to EAGAIN.
      const n = sys.read(b, one);
      if (n === 1) got.push(one.toString());
    });
    await until(() => got.length === 10, 'ten one-byte reads');
    await new Promise((resolve) => setTimeout(resolve, 150));
    rec.stop();
    t.is(got.join(''), '0123456789');
    t.is(rec.values.length, 10, 'exactly one wakeup per byte, none after the last');
    sys.close(a);
    sys.close(b);
  }));

test.serial('a writable socket is reported Writable on every wakeup', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const rec = record(reactor.watch(a, Interest.Writable));
    await until(() => rec.values.length >= 3, 'three Writable reports');
    rec.stop();
    t.true(rec.values.every((ready) => ready === Ready.Writable));
    sys.close(a);
    sys.close(b);
  }));
