/**
 * Property tests: however the input is cut into chunks, the framing
 * operators yield the same frames.
 */
import test from 'ava';
import fc from 'fast-check';
import { delimited, lengthPrefix, lengthPrefixed, lines } from '../../index';
import { cut, hex, runOver } from '../helpers/framing';
import { withReactor } from '../helpers/leaks';

const RUNS = 300;
const points = fc.array(fc.nat({ max: 10_000 }), { maxLength: 24 });

// Characters for lines: '\r' inside lines, multi-byte UTF-8 split across chunks, NUL.
const lineChar = fc.oneof(fc.constantFrom('\r', 'a', ' ', '\u0000', 'é', '€', '𝄞'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })).filter((c) => c !== '\n');
const line = fc.string({ unit: lineChar, maxLength: 30 }).filter((s) => !s.endsWith('\r') && Buffer.from(s).toString() === s);

test.serial('lines(): any split of the input yields the same lines (\\n and \\r\\n endings, a last line without one)', (t) =>
  withReactor(t, () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(line, fc.boolean()), { maxLength: 20 }),
        line,
        points,
        fc.boolean(),
        (terminated, last, cuts, plain) => {
          const text = terminated.map(([l, crlf]) => l + (crlf ? '\r\n' : '\n')).join('') + last;
          const expected = terminated.map(([l]) => l);
          if (last.length > 0) expected.push(last);
          const outcome = runOver(cut(Buffer.from(text), cuts, plain), lines());
          return outcome.error === null && outcome.completed && JSON.stringify(outcome.values) === JSON.stringify(expected);
        },
      ),
      { numRuns: RUNS },
    );
  }));

// A small alphabet makes delimiters overlap with themselves and with frames.
const byte3 = fc.integer({ min: 0, max: 2 });
const delimiterArb = fc.array(byte3, { minLength: 1, maxLength: 4 }).map((a) => Buffer.from(a));

test.serial('delimited(): any split of the input yields the same frames, for self-overlapping multi-byte delimiters too', (t) =>
  withReactor(t, () => {
    const caseArb = delimiterArb.chain((delim) => {
      // A frame is one whose first delimiter, once the delimiter is appended, is the appended one.
      const frame = fc.array(byte3, { maxLength: 12 }).map((a) => Buffer.from(a)).filter((f) => Buffer.concat([f, delim]).indexOf(delim) === f.length);
      const tail = fc.array(byte3, { maxLength: 12 }).map((a) => Buffer.from(a)).filter((f) => f.indexOf(delim) < 0);
      return fc.record({ delim: fc.constant(delim), frames: fc.array(frame, { maxLength: 16 }), tail, cuts: points, plain: fc.boolean() });
    });
    fc.assert(
      fc.property(caseArb, ({ delim, frames, tail, cuts, plain }) => {
        const input = Buffer.concat([...frames.flatMap((f) => [f, delim]), tail]);
        const expected = frames.map(hex);
        if (tail.length > 0) expected.push(hex(tail));
        const outcome = runOver(cut(input, cuts, plain), delimited(delim));
        return outcome.error === null && outcome.completed && JSON.stringify(outcome.values.map(hex)) === JSON.stringify(expected);
      }),
      { numRuns: RUNS },
    );
  }));

test.serial('delimited(): a string delimiter such as "\\r\\n\\r\\n" frames HTTP-like heads the same under any split', (t) =>
  withReactor(t, () => {
    const headChar = fc.constantFrom('a', ':', ' ', '\r', '\n');
    const head = fc.string({ unit: headChar, maxLength: 40 }).filter((s) => (`${s}\r\n\r\n`).indexOf('\r\n\r\n') === s.length);
    fc.assert(
      fc.property(fc.array(head, { maxLength: 10 }), points, (heads, cuts) => {
        const input = Buffer.from(heads.map((h) => `${h}\r\n\r\n`).join(''));
        const outcome = runOver(cut(input, cuts), delimited('\r\n\r\n'));
        return outcome.error === null && outcome.completed && JSON.stringify(outcome.values.map((b) => b.toString())) === JSON.stringify(heads);
      }),
      { numRuns: RUNS },
    );
  }));

test.serial('lengthPrefixed(): any split of the encoded stream yields the same payloads, with 1-, 2- and 4-byte prefixes', (t) =>
  withReactor(t, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1 as const, 2 as const, 4 as const),
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 16 }),
        points,
        fc.boolean(),
        (bytes, payloads, cuts, plain) => {
          const fitting = payloads.map((p) => (bytes === 1 ? p.subarray(0, 255) : p));
          const input = Buffer.concat(fitting.map((p) => lengthPrefix(p, bytes)));
          const outcome = runOver(cut(input, cuts, plain), lengthPrefixed({ bytes }));
          return outcome.error === null && outcome.completed && JSON.stringify(outcome.values.map(hex)) === JSON.stringify(fitting.map(hex));
        },
      ),
      { numRuns: RUNS },
    );
  }));
