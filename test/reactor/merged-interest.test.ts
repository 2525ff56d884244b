import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { backend, delay, withReactor } from '../helpers/leaks';
import { drain, record, until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('two watchers of one fd share one registration and each sees only its own bits', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.write(a, Buffer.from('ping')); // b is now readable and (always) writable
    const reader = record(reactor.watch(b, Interest.Readable));
    const writer = record(reactor.watch(b, Interest.Writable));
    t.is(reactor.stats.registrations, 1, 'one registration for both watchers');
    await until(() => reader.values.length >= 2 && writer.values.length >= 2, 'both watchers');
    t.true(reader.values.every((r) => r === Ready.Readable), `reader saw ${reader.values}`);
    t.true(writer.values.every((r) => r === Ready.Writable), `writer saw ${writer.values}`);

    // Unsubscribing the reader keeps the writer going on the same registration.
    reader.stop();
    t.is(reactor.stats.registrations, 1);
    const writerSeen = writer.values.length;
    await until(() => writer.values.length >= writerSeen + 2, 'the writer after the reader left');
    t.true(writer.values.every((r) => r === Ready.Writable));

    writer.stop();
    t.is(reactor.stats.registrations, 0, 'the last watcher deregisters the fd');
    t.is(drain(b).bytes.toString(), 'ping');
    sys.close(a);
    sys.close(b);
  }));

test.serial('unsubscribing the writer narrows the registration to Readable', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const reader = record(reactor.watch(b, Interest.Readable));
    const writer = record(reactor.watch(b, Interest.Writable));
    await until(() => writer.values.length >= 2, 'the writer');
    writer.stop();
    t.is(reactor.stats.registrations, 1);
    // With Writable interest dropped from the backend, an idle socket makes no
    // wakeups at all (not merely none that reach the reader).
    await delay(20); // a batch in flight when the interest changed may still land
    const events = reactor.stats.events;
    await delay(150);
    t.is(reactor.stats.events, events, 'no events for an idle fd with Readable interest only');
    t.deepEqual(reader.values, []);

    // And the reader still works.
    sys.write(a, Buffer.from('after'));
    await until(() => reader.values.length > 0, 'the reader after the writer left');
    t.is(reader.values[0], Ready.Readable);
    reader.stop();
    t.is(reactor.stats.registrations, 0);
    t.is(drain(b).bytes.toString(), 'after');
    sys.close(a);
    sys.close(b);
  }));

test.serial('two watchers with the same interest both see each wakeup', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const one = record(reactor.watch(b, Interest.Readable));
    const two = record(reactor.watch(b, Interest.Readable));
    t.is(reactor.stats.registrations, 1);
    sys.write(a, Buffer.from('x'));
    await until(() => one.values.length >= 1 && two.values.length >= 1, 'both watchers');
    one.stop();
    two.stop();
    t.true(one.values.every((r) => r === Ready.Readable));
    t.true(two.values.every((r) => r === Ready.Readable));
    t.is(reactor.stats.registrations, 0);
    sys.close(a);
    sys.close(b);
  }));

test.serial('a Hangup reaches every watcher of the fd, whatever its interest (not on select)', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const reader = record(reactor.watch(b, Interest.Readable));
    const writer = record(reactor.watch(b, Interest.Writable));
    sys.close(a);
    await until(() => reader.values.some((r) => r & Ready.Readable) && writer.values.length >= 1, 'both watchers');
    await until(
      () => backend === 'select' || (reader.values.some((r) => r & Ready.Hangup) && writer.values.some((r) => r & Ready.Hangup)),
      'Hangup at both watchers',
    );
    reader.stop();
    writer.stop();
    const all = [...reader.values, ...writer.values];
    if (backend === 'select') {
      t.false(all.some((r) => (r & (Ready.Hangup | Ready.Error)) !== 0), 'select reports neither Hangup nor Error');
    }
    t.false(reader.values.some((r) => r & Ready.Writable), 'the reader never sees Writable');
    t.false(writer.values.some((r) => r & Ready.Readable), 'the writer never sees Readable');
    t.is(sys.read(b, Buffer.alloc(4)), 0);
    sys.close(b);
  }));
