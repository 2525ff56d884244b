/**
 * The framing operators used to Buffer.concat the frame so far with every
 * new chunk: a 64 KiB frame dribbled in one byte at a time cost O(n²)
 * copying (~2 GB, over a second of CPU for the dns demo's TCP framing). Now
 * a frame in progress grows by doubling. The bound below is ~10x what the
 * linear code takes on a loaded machine (after a warm-up run, so the JIT's
 * first compilation is not counted), and well below the quadratic (1.6 s
 * for either operator here).
 */
import test from 'ava';
import { Subject } from 'rxjs';
import { delimited, lengthPrefix, lengthPrefixed } from '../../index';

const SIZE = 64 * 1024 - 1;

function dribble(bytes: Buffer, operator: (s: Subject<Uint8Array>) => { frames: Buffer[] }): { ms: number; frames: Buffer[] } {
  feed(bytes, operator); // warm-up
  return feed(bytes, operator);
}

function feed(bytes: Buffer, operator: (s: Subject<Uint8Array>) => { frames: Buffer[] }): { ms: number; frames: Buffer[] } {
  const input = new Subject<Uint8Array>();
  const out = operator(input);
  const start = process.cpuUsage();
  for (let i = 0; i < bytes.length; i++) input.next(bytes.subarray(i, i + 1));
  input.complete();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, frames: out.frames };
}

test('lengthPrefixed: a 64 KiB frame fed one byte at a time costs linear time and arrives whole', (t) => {
  const payload = Buffer.alloc(SIZE, 0x61);
  payload[SIZE - 1] = 0x62;
  const { ms, frames } = dribble(lengthPrefix(payload, 2), (s) => {
    const frames: Buffer[] = [];
    s.pipe(lengthPrefixed({ bytes: 2, maxLength: 65535 })).subscribe((f) => frames.push(f));
    return { frames };
  });
  t.is(frames.length, 1);
  t.true(frames[0].equals(payload));
  t.true(ms < 600, `took ${ms.toFixed(0)} ms of CPU`);
});

test('delimited: a 64 KiB line fed one byte at a time costs linear time and arrives whole', (t) => {
  const line = Buffer.alloc(SIZE, 0x61);
  const { ms, frames } = dribble(Buffer.concat([line, Buffer.from('\r\nnext\r\n')]), (s) => {
    const frames: Buffer[] = [];
    s.pipe(delimited('\r\n', { maxLength: 65535 })).subscribe((f) => frames.push(Buffer.from(f)));
    return { frames };
  });
  t.deepEqual(frames.map((f) => f.length), [SIZE, 4]);
  t.true(frames[0].equals(line));
  t.is(frames[1].toString(), 'next');
  t.true(ms < 600, `took ${ms.toFixed(0)} ms of CPU`);
});
