/**
 * Helpers for the framing-operator suites: run an operator over chunks
 * synchronously, and cut a byte string into chunks at given points.
 */
import { from, type Observable, type OperatorFunction } from 'rxjs';

export interface Outcome<T> {
  values: T[];
  completed: boolean;
  error: (Error & { code?: string }) | null;
}

/** Subscribes `source.pipe(op)` and returns what happened synchronously (the subscription is closed after). */
export function runSync<I, O>(source: Observable<I>, op: OperatorFunction<I, O>): Outcome<O> {
  const outcome: Outcome<O> = { values: [], completed: false, error: null };
  const sub = source.pipe(op).subscribe({
    next: (v) => outcome.values.push(v),
    error: (e: unknown) => (outcome.error = e as Error),
    complete: () => (outcome.completed = true),
  });
  sub.unsubscribe();
  return outcome;
}

/** Runs `op` over `chunks` (a cold, synchronous source). */
export function runOver<O>(chunks: Uint8Array[], op: OperatorFunction<Uint8Array, O>): Outcome<O> {
  return runSync(from(chunks), op);
}

/**
 * Cuts `data` at the given points (any numbers; taken modulo length + 1 and
 * sorted, repeats give empty chunks). With `plain`, chunks are plain
 * Uint8Arrays over a copy rather than Buffers.
 */
export function cut(data: Uint8Array, points: number[], plain = false): Uint8Array[] {
  const at = points.map((p) => p % (data.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...at, data.length]) {
    const slice = data.subarray(prev, p);
    chunks.push(plain ? new Uint8Array(slice) : Buffer.from(slice));
    prev = p;
  }
  return chunks;
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
