import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { collectFor, drain, readExactly } from '../helpers/readiness';
import { first, socketPair } from '../helpers/sockets';

test.serial("shutdown('write') gives the peer end of stream while it can still send back", (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.write(a, Buffer.from('request'));
    sys.shutdown(a, 'write');
    t.is(sys.write(a, Buffer.from('more')), sys.EPIPE, 'a cannot write after shutting down its sending side');

    const ready = await first(reactor.watch(b, Interest.Readable));
    t.true((ready & Ready.Readable) !== 0);
    if (backend === 'select') t.is(ready & Ready.Hangup, 0);
    else t.true((ready & Ready.Hangup) !== 0, `${backend} reports the FIN as Hangup`);
    t.deepEqual(drain(b), { bytes: Buffer.from('request'), eof: true });

    // The other direction is still open.
    t.is(sys.write(b, Buffer.from('response')), 8);
    t.is((await readExactly(reactor, a, 8)).toString(), 'response');
    // a's reading side saw no hangup: only its own writing side is shut.
    t.deepEqual(await collectFor(reactor.watch(a, Interest.Readable), 100), []);

    // Once b closes too, a sees its end of stream.
    sys.close(b);
    await first(reactor.watch(a, Interest.Readable));
    t.is(sys.read(a, Buffer.alloc(4)), 0);
    sys.close(a);
  }));

test.serial("shutdown('read') and shutdown('both') are accepted; shutdown on an unconnected socket is ENOTCONN", (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    sys.shutdown(a, 'read');
    t.is(sys.read(a, Buffer.alloc(4)), 0, 'reading side shut: end of stream at once');
    sys.shutdown(b, 'both');
    t.is(sys.write(b, Buffer.from('x')), sys.EPIPE);
    const lone = sys.socket('ipv4', 'stream');
    const err = t.throws(() => sys.shutdown(lone, 'both'));
    t.is((err as NodeJS.ErrnoException).code, 'ENOTCONN');
    t.is((err as NodeJS.ErrnoException).syscall, 'shutdown');
    for (const fd of [a, b, lone]) sys.close(fd);
  }));
