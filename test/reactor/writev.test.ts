import test from 'ava';
import { Interest, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { readExactly } from '../helpers/readiness';
import { first, socketPair } from '../helpers/sockets';

test.serial('writev gathers several chunks, views included, into one stream in order', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    // Small Buffer.from() results share one pool, so these are views at
    // non-zero offsets of a bigger ArrayBuffer.
    const backing = new Uint8Array([0x78, 0x78, 0x43, 0x44, 0x78]);
    const chunks = [Buffer.from('AB'), backing.subarray(2, 4), Buffer.alloc(0), Buffer.from('EFG'), new Uint8Array([0x48])];
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    t.is(sys.writev(a, chunks), total);
    t.is((await readExactly(reactor, b, total)).toString(), 'ABCDEFGH');
    t.is(sys.writev(a, []), 0, 'no chunks, no bytes');
    sys.close(a);
    sys.close(b);
  }));

test.serial('writev with many chunks sends every byte (up to 1024 chunks per call)', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const chunks = Array.from({ length: 1024 }, (_, i) => Buffer.from([i & 0xff]));
    t.is(sys.writev(a, chunks), 1024);
    const got = await readExactly(reactor, b, 1024);
    t.true(got.equals(Buffer.concat(chunks)));
    sys.close(a);
    sys.close(b);
  }));

test.serial('read and write honour offset and length', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    t.is(sys.write(a, Buffer.from('0123456789'), 3, 4), 4);
    t.is((await readExactly(reactor, b, 4)).toString(), '3456');
    t.is(sys.write(a, Buffer.from('xy')), 2);
    await first(reactor.watch(b, Interest.Readable));
    const into = Buffer.alloc(8, 0x2e);
    t.is(sys.read(b, into, 5, 2), 2, 'into the middle of a buffer');
    t.is(into.toString(), '.....xy.');
    sys.close(a);
    sys.close(b);
  }));
