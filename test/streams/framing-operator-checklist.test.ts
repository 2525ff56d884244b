/**
 * rxjs's operator checklist for lines(), delimited() and lengthPrefixed():
 * empty, one, many, error passthrough, never-ending source, early
 * unsubscribe, a throwing callback downstream.
 */
import test from 'ava';
import { EMPTY, NEVER, Subject, concat, finalize, map, of, take, throwError, type OperatorFunction } from 'rxjs';
import { delimited, lengthPrefix, lengthPrefixed, lines } from '../../index';
import { runSync } from '../helpers/framing';
import { withReactor } from '../helpers/leaks';

interface Case {
  name: string;
  op: () => OperatorFunction<Uint8Array, string>;
  encode: (frames: string[]) => Buffer;
}

const cases: Case[] = [
  { name: 'lines()', op: () => lines(), encode: (f) => Buffer.from(f.map((l) => `${l}\n`).join('')) },
  {
    name: "delimited('||')",
    op: () => (source) => source.pipe(delimited('||'), map((b) => b.toString())),
    encode: (f) => Buffer.from(f.map((l) => `${l}||`).join('')),
  },
  {
    name: 'lengthPrefixed()',
    op: () => (source) => source.pipe(lengthPrefixed(), map((b) => b.toString())),
    encode: (f) => Buffer.concat(f.map((l) => lengthPrefix(Buffer.from(l)))),
  },
];

const MANY = Array.from({ length: 100 }, (_, i) => `frame ${i} ${'x'.repeat(i)}`);

for (const c of cases) {
  test.serial(`${c.name}: an empty source completes with no frames`, (t) =>
    withReactor(t, () => {
      t.deepEqual(runSync(EMPTY, c.op()), { values: [], completed: true, error: null });
      t.deepEqual(runSync(of(Buffer.alloc(0)), c.op()), { values: [], completed: true, error: null }, 'an empty chunk is no frame');
    }));

  test.serial(`${c.name}: one frame`, (t) =>
    withReactor(t, () => {
      t.deepEqual(runSync(of(c.encode(['only'])), c.op()), { values: ['only'], completed: true, error: null });
      t.deepEqual(runSync(of(c.encode([''])), c.op()), { values: [''], completed: true, error: null }, 'an empty frame is a frame');
    }));

  test.serial(`${c.name}: many frames in one chunk, and one byte at a time`, (t) =>
    withReactor(t, () => {
      const encoded = c.encode(MANY);
      t.deepEqual(runSync(of(encoded), c.op()).values, MANY);
      const bytes = [...encoded].map((b) => Buffer.from([b]));
      t.deepEqual(runSync(concat(bytes), c.op()), { values: MANY, completed: true, error: null });
    }));

  test.serial(`${c.name}: a source error passes through after the frames before it, and drops the partial frame`, (t) =>
    withReactor(t, () => {
      const boom = new Error('boom');
      const partial = c.encode(['cut off']).subarray(0, 4);
      const outcome = runSync(concat(of(c.encode(['a', 'b'])), of(partial), throwError(() => boom)), c.op());
      t.deepEqual(outcome.values, ['a', 'b']);
      t.is(outcome.error, boom, 'the same error object');
      t.false(outcome.completed);
    }));

  test.serial(`${c.name}: a never-ending source emits its frames and never completes`, (t) =>
    withReactor(t, async () => {
      const values: string[] = [];
      let done = false;
      const sub = concat(of(c.encode(['x', 'y'])), NEVER)
        .pipe(c.op())
        .subscribe({ next: (v) => values.push(v), error: () => (done = true), complete: () => (done = true) });
      await new Promise((resolve) => setTimeout(resolve, 20));
      t.deepEqual(values, ['x', 'y']);
      t.false(done);
      t.false(sub.closed);
      sub.unsubscribe();
      const silent = runSync(NEVER, c.op());
      t.deepEqual(silent, { values: [], completed: false, error: null });
    }));

  test.serial(`${c.name}: unsubscribing early stops mid-chunk and unsubscribes from the source`, (t) =>
    withReactor(t, () => {
      let finalized = false;
      const outcome = runSync(
        of(c.encode(MANY)).pipe(finalize(() => (finalized = true))),
        (source) => source.pipe(c.op(), take(3)),
      );
      t.deepEqual(outcome.values, MANY.slice(0, 3), 'no frame after the third');
      t.true(outcome.completed);
      t.true(finalized);

      const subject = new Subject<Uint8Array>();
      const values: string[] = [];
      const sub = subject.pipe(c.op()).subscribe((v) => values.push(v));
      subject.next(c.encode(['before']));
      sub.unsubscribe();
      t.false(subject.observed, 'the source is unsubscribed');
      subject.next(c.encode(['after']));
      t.deepEqual(values, ['before']);
    }));

  test.serial(`${c.name}: a throwing callback downstream errors the chain and unsubscribes from the source`, (t) =>
    withReactor(t, () => {
      const bad = new Error('callback threw');
      const subject = new Subject<Uint8Array>();
      const seen: string[] = [];
      let error: unknown = null;
      subject
        .pipe(
          c.op(),
          map((v) => {
            seen.push(v);
            if (v === 'throw') throw bad;
            return v;
          }),
        )
        .subscribe({ error: (e) => (error = e) });
      subject.next(c.encode(['ok', 'throw', 'never seen']));
      t.is(error, bad);
      t.deepEqual(seen, ['ok', 'throw']);
      t.false(subject.observed);
    }));

  test.serial(`${c.name}: each subscription has its own state (cold, reusable operator)`, (t) =>
    withReactor(t, () => {
      const op = c.op();
      const encoded = c.encode(['p', 'q']);
      const half = encoded.subarray(0, 3);
      // A first subscription left a partial frame behind...
      const first = new Subject<Uint8Array>();
      const firstValues: string[] = [];
      first.pipe(op).subscribe((v) => firstValues.push(v));
      first.next(half);
      // ...that a second subscription of the same operator does not see.
      t.deepEqual(runSync(of(encoded), op).values, ['p', 'q']);
      first.next(encoded.subarray(3));
      t.deepEqual(firstValues, ['p', 'q']);
    }));
}
