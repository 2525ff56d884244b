/**
 * Over-long frames (ERR_RXNET_FRAME_TOO_LONG) and input that ends inside a
 * frame (ERR_RXNET_PARTIAL_FRAME), under any split of the input.
 */
import test from 'ava';
import fc from 'fast-check';
import { Subject } from 'rxjs';
import { delimited, lengthPrefix, lengthPrefixed, lines } from '../../index';
import { cut, hex, runOver, type Outcome } from '../helpers/framing';
import { withReactor } from '../helpers/leaks';

const RUNS = 300;
const points = fc.array(fc.nat({ max: 10_000 }), { maxLength: 24 });

function errored<T>(outcome: Outcome<T>, code: string): boolean {
  return outcome.error !== null && outcome.error.code === code && !outcome.completed;
}

test.serial('delimited({ maxLength }): the frames before the first over-long one, then ERR_RXNET_FRAME_TOO_LONG, under any split', (t) =>
  withReactor(t, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.integer({ min: 0, max: 25 }), { maxLength: 12 }),
        points,
        (maxLength, lengths, cuts) => {
          // Frames of 'a's ended by ';'.
          const input = Buffer.from(lengths.map((n) => `${'a'.repeat(n)};`).join(''));
          const firstLong = lengths.findIndex((n) => n > maxLength);
          const expected = (firstLong < 0 ? lengths : lengths.slice(0, firstLong)).map((n) => 'a'.repeat(n));
          const outcome = runOver(cut(input, cuts), delimited(';', { maxLength }));
          const framesOk = JSON.stringify(outcome.values.map((b) => b.toString())) === JSON.stringify(expected);
          return framesOk && (firstLong < 0 ? outcome.completed && outcome.error === null : errored(outcome, 'ERR_RXNET_FRAME_TOO_LONG'));
        },
      ),
      { numRuns: RUNS },
    );
  }));

test.serial('delimited(): a frame exactly maxLength long passes; one byte more fails before its delimiter arrives', (t) =>
  withReactor(t, () => {
    const exact = runOver([Buffer.from('abcd;')], delimited(';', { maxLength: 4 }));
    t.deepEqual(exact.values.map(String), ['abcd']);
    t.true(exact.completed);
    // No delimiter yet: buffering stops as soon as the frame cannot fit.
    const subject = new Subject<Uint8Array>();
    let error: (Error & { code?: string }) | null = null;
    subject.pipe(delimited('\r\n', { maxLength: 4 })).subscribe({ error: (e: Error) => (error = e) });
    subject.next(Buffer.from('abcd\r'));
    t.is(error, null, 'four bytes and the start of the delimiter still fit');
    subject.next(Buffer.from('e'));
    t.is(error!.code, 'ERR_RXNET_FRAME_TOO_LONG');
    t.regex(error!.message, /exceeds maxLength \(4\)/);
    t.false(subject.observed, 'the source is unsubscribed');
  }));

test.serial('lines({ maxLength }): a line of maxLength bytes passes (with or without \\r); one byte longer is ERR_RXNET_FRAME_TOO_LONG', (t) =>
  withReactor(t, () => {
    t.deepEqual(runOver([Buffer.from('abc\r\nabc\n')], lines({ maxLength: 3 })).values, ['abc', 'abc']);
    for (const input of ['abcd\n', 'abcd\r\n', 'abcd', 'ok\nabcdefgh']) {
      const outcome = runOver([Buffer.from(input)], lines({ maxLength: 3 }));
      t.is(outcome.error?.code, 'ERR_RXNET_FRAME_TOO_LONG', JSON.stringify(input));
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 10 }), points, (maxLength, shape, cuts) => {
        const input = Buffer.from(shape.map(([n, crlf]) => `${'x'.repeat(n)}${crlf ? '\r\n' : '\n'}`).join(''));
        const firstLong = shape.findIndex(([n]) => n > maxLength);
        const expected = (firstLong < 0 ? shape : shape.slice(0, firstLong)).map(([n]) => 'x'.repeat(n));
        const outcome = runOver(cut(input, cuts), lines({ maxLength }));
        const framesOk = JSON.stringify(outcome.values) === JSON.stringify(expected);
        return framesOk && (firstLong < 0 ? outcome.completed : errored(outcome, 'ERR_RXNET_FRAME_TOO_LONG'));
      }),
      { numRuns: RUNS },
    );
  }));

test.serial("lengthPrefixed({ maxLength }): a prefix announcing more than maxLength errors at once, before its payload is buffered", (t) =>
  withReactor(t, () => {
    const subject = new Subject<Uint8Array>();
    const values: string[] = [];
    let error: (Error & { code?: string }) | null = null;
    subject.pipe(lengthPrefixed({ bytes: 4, maxLength: 1024 })).subscribe({ next: (b) => values.push(b.toString()), error: (e: Error) => (error = e) });
    subject.next(lengthPrefix(Buffer.from('fits'), 4));
    subject.next(Buffer.from([0, 0, 4, 1])); // 1025: just the prefix, no payload yet
    t.deepEqual(values, ['fits']);
    t.is(error!.code, 'ERR_RXNET_FRAME_TOO_LONG');
    t.false(subject.observed);
    t.deepEqual(runOver([lengthPrefix(Buffer.alloc(1024), 2)], lengthPrefixed({ maxLength: 1024 })).values.map((b) => b.length), [1024]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 10 }), points, (maxLength, lengths, cuts) => {
        const input = Buffer.concat(lengths.map((n) => lengthPrefix(Buffer.alloc(n, 0x61), 2)));
        const firstLong = lengths.findIndex((n) => n > maxLength);
        const expected = (firstLong < 0 ? lengths : lengths.slice(0, firstLong)).map((n) => 'a'.repeat(n));
        const outcome = runOver(cut(input, cuts), lengthPrefixed({ maxLength }));
        const framesOk = JSON.stringify(outcome.values.map(String)) === JSON.stringify(expected);
        return framesOk && (firstLong < 0 ? outcome.completed : errored(outcome, 'ERR_RXNET_FRAME_TOO_LONG'));
      }),
      { numRuns: RUNS },
    );
  }));

test.serial("a partial frame at completion: lines/delimited emit it by default, partial: 'error' makes it ERR_RXNET_PARTIAL_FRAME", (t) =>
  withReactor(t, () => {
    const emitted = runOver([Buffer.from('one\ntw'), Buffer.from('o')], lines());
    t.deepEqual(emitted.values, ['one', 'two']);
    t.true(emitted.completed);
    const refused = runOver([Buffer.from('one\ntw'), Buffer.from('o')], lines({ partial: 'error' }));
    t.deepEqual(refused.values, ['one']);
    t.is(refused.error?.code, 'ERR_RXNET_PARTIAL_FRAME');
    t.regex(refused.error!.message, /3 bytes pending/);
    // A complete last frame is no partial frame.
    t.true(runOver([Buffer.from('one\ntwo\n')], lines({ partial: 'error' })).completed);

    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ min: 0x20, max: 0xff, maxLength: 10 }), { maxLength: 8 }),
        fc.uint8Array({ min: 0x20, max: 0xff, maxLength: 10 }),
        fc.nat({ max: 2 }),
        points,
        (frames, tailBody, delimPrefix, cuts) => {
          const delim = Buffer.from([0, 1, 2]);
          // The tail may end with the start of a delimiter: still a partial frame.
          const tail = Buffer.concat([tailBody, delim.subarray(0, delimPrefix)]);
          const input = Buffer.concat([...frames.flatMap((f) => [Buffer.from(f), delim]), tail]);
          const asEmit = runOver(cut(input, cuts), delimited(delim));
          const asError = runOver(cut(input, cuts), delimited(delim, { partial: 'error' }));
          const expected = frames.map(hex);
          const emitOk = JSON.stringify(asEmit.values.map(hex)) === JSON.stringify(tail.length > 0 ? [...expected, hex(tail)] : expected) && asEmit.completed;
          const errorOk =
            JSON.stringify(asError.values.map(hex)) === JSON.stringify(expected) && (tail.length > 0 ? errored(asError, 'ERR_RXNET_PARTIAL_FRAME') : asError.completed);
          return emitOk && errorOk;
        },
      ),
      { numRuns: RUNS },
    );
  }));

test.serial('lengthPrefixed(): input ending inside a frame (in its prefix or its payload) is always ERR_RXNET_PARTIAL_FRAME', (t) =>
  withReactor(t, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1 as const, 2 as const, 4 as const),
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 8 }),
        fc.uint8Array({ minLength: 1, maxLength: 50 }),
        fc.nat(),
        points,
        (bytes, whole, last, cutAt, cuts) => {
          const encodedLast = lengthPrefix(last, bytes);
          // Keep 1 .. all-but-one bytes of the last frame.
          const kept = 1 + (cutAt % (encodedLast.length - 1));
          const input = Buffer.concat([...whole.map((p) => lengthPrefix(p, bytes)), encodedLast.subarray(0, kept)]);
          const outcome = runOver(cut(input, cuts), lengthPrefixed({ bytes }));
          return JSON.stringify(outcome.values.map(hex)) === JSON.stringify(whole.map(hex)) && errored(outcome, 'ERR_RXNET_PARTIAL_FRAME');
        },
      ),
      { numRuns: RUNS },
    );
    t.regex(runOver([Buffer.from([0, 5, 1, 2])], lengthPrefixed()).error!.message, /4 bytes pending/);
  }));
