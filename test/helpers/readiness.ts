/**
 * Helpers for observing readiness (mio's tests/util `expect_events`,
 * `assert_would_block`): record a watcher's emissions, wait for a condition,
 * prove an absence, read and write until the socket says EAGAIN.
 */
import * as os from 'node:os';
import type { ExecutionContext } from 'ava';
import type { Observable, Subscription } from 'rxjs';
import { Interest, sys, type Reactor } from '../../index';
import { delay } from './leaks';

/** A subscription that remembers everything it saw. */
export interface Recording<T> {
  readonly values: T[];
  completed: boolean;
  error: unknown;
  readonly subscription: Subscription;
  /** Unsubscribes (idempotent). */
  stop(): void;
}

/**
 * Subscribes to `source` and records its emissions, completion and error.
 * `onValue` runs after each emission is recorded. Readiness is never emitted
 * synchronously on subscribe, so `rec.stop()` is safe inside `onValue`.
 */
export function record<T>(source: Observable<T>, onValue?: (value: T, rec: Recording<T>) => void): Recording<T> {
  let subscription: Subscription | undefined;
  const rec: Recording<T> = {
    values: [],
    completed: false,
    error: undefined,
    get subscription(): Subscription {
      if (subscription === undefined) throw new Error('record(): the source emitted during subscribe');
      return subscription;
    },
    stop: () => rec.subscription.unsubscribe(),
  };
  subscription = source.subscribe({
    next: (value) => {
      rec.values.push(value);
      onValue?.(value, rec);
    },
    error: (err: unknown) => {
      rec.error = err;
    },
    complete: () => {
      rec.completed = true;
    },
  });
  return rec;
}

/** Polls `condition` every few milliseconds until it holds; rejects after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(2);
  }
}

/** Subscribes for `ms` milliseconds and returns what was emitted. */
export async function collectFor<T>(source: Observable<T>, ms: number): Promise<T[]> {
  const rec = record(source);
  await delay(ms);
  rec.stop();
  return rec.values;
}

/** Reads what is there until EAGAIN (or EOF); throws on any other error. */
export function drain(fd: number, chunk = 64 * 1024): { bytes: Buffer; eof: boolean } {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(chunk);
  for (;;) {
    const n = sys.read(fd, buf);
    if (n > 0) {
      parts.push(Buffer.from(buf.subarray(0, n)));
      continue;
    }
    if (n === 0) return { bytes: Buffer.concat(parts), eof: true };
    if (n === sys.EAGAIN) return { bytes: Buffer.concat(parts), eof: false };
    throw sys.errnoException(n, 'read');
  }
}

/** Reads exactly `length` bytes from `fd`, waiting for readability with the reactor. */
export async function readExactly(reactor: Reactor, fd: number, length: number, ms = 5000): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`timed out after ${ms} ms with ${got} of ${length} bytes`));
    }, ms);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sub.unsubscribe();
      if (err) reject(err);
      else resolve();
    };
    const sub: Subscription = reactor.watch(fd, Interest.Readable).subscribe({
      next: () => {
        while (got < length) {
          const n = sys.read(fd, out, got, length - got);
          if (n === sys.EAGAIN) return;
          if (n === 0) return finish(new Error(`end of stream after ${got} of ${length} bytes`));
          if (n < 0) return finish(sys.errnoException(n, 'read'));
          got += n;
        }
        finish();
      },
      error: (err) => finish(err as Error),
    });
    if (got === length) finish();
  });
  return out;
}

/** Writes all of `data`, waiting for writability with the reactor when the socket is full. */
export async function writeAll(reactor: Reactor, fd: number, data: Uint8Array, ms = 5000): Promise<void> {
  let off = 0;
  const step = (): boolean => {
    while (off < data.byteLength) {
      const n = sys.write(fd, data, off);
      if (n === sys.EAGAIN) return false;
      if (n < 0) throw sys.errnoException(n, 'write');
      off += n;
    }
    return true;
  };
  if (step()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`timed out after ${ms} ms with ${off} of ${data.byteLength} bytes written`));
    }, ms);
    const sub: Subscription = reactor.watch(fd, Interest.Writable).subscribe({
      next: () => {
        try {
          if (!step()) return;
        } catch (err) {
          clearTimeout(timer);
          sub.unsubscribe();
          return reject(err);
        }
        clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      },
      error: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
  });
}

/**
 * Asserts `err` is a Node-shaped system error: `code`, `errno` (the negative
 * number os.constants.errno gives for `code`), `syscall`, and `address`/`port`
 * plus the `node:net`-style message when given.
 */
export function assertSystemError(
  t: ExecutionContext,
  err: unknown,
  expected: { code: string; syscall: string; address?: string; port?: number },
): void {
  t.true(err instanceof Error, `expected an Error, got ${String(err)}`);
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const errno = (os.constants.errno as Record<string, number>)[expected.code];
  t.is(e.code, expected.code);
  t.is(e.errno, -errno);
  t.is(e.syscall, expected.syscall);
  if (expected.address !== undefined) {
    t.is(e.address, expected.address);
    t.is(e.port, expected.port);
    t.is(e.message, `${expected.syscall} ${expected.code} ${expected.address}:${expected.port}`);
  } else {
    t.is(e.message, `${expected.syscall} ${expected.code}`);
  }
}
