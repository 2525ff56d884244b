import { Observable, type OperatorFunction } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import { validateInteger, validateOneOf } from '../reactor/validate';
import { Accumulator } from './accumulator';
import { frameTooLong, partialFrame } from './frameErrors';

export interface DelimitedOptions {
  /** Longest frame accepted, delimiter excluded (default 64 KiB); a longer one errors with ERR_RXNET_FRAME_TOO_LONG. */
  maxLength?: number;
  /** What to do with bytes after the last delimiter at completion: 'emit' them as a last frame (default) or 'error' with ERR_RXNET_PARTIAL_FRAME. */
  partial?: 'emit' | 'error';
}

const DEFAULT_MAX = 64 * 1024;

/**
 * Splits a byte stream into the frames between `delimiter`s (the delimiter is
 * not included). Frames are views of the input where they fit in one chunk,
 * copies where they span several; nothing buffers past `maxLength`.
 *
 * @example
 * conn.data$.pipe(delimited('\r\n\r\n', { maxLength: 8192 })) // HTTP heads
 */
export function delimited(delimiter: string | Uint8Array, options: DelimitedOptions = {}): OperatorFunction<Uint8Array, Buffer> {
  const delim = typeof delimiter === 'string' ? Buffer.from(delimiter) : Buffer.from(delimiter);
  if (delim.length === 0) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', 'The delimiter must not be empty');
  const maxLength = options.maxLength ?? DEFAULT_MAX;
  validateInteger(maxLength, 'options.maxLength', 0, 2 ** 31 - 1);
  const partial = options.partial ?? 'emit';
  validateOneOf(partial, 'options.partial', ['emit', 'error'] as const);

  return (source) =>
    new Observable<Buffer>((subscriber) => {
      // Bytes after the last delimiter seen so far.
      const pending = new Accumulator();
      const subscription = source.subscribe({
        next(chunk) {
          let buf: Buffer;
          let searchFrom = 0;
          const held = pending.length > 0;
          if (!held) {
            // Frames whole in this chunk are views of it: no copy.
            buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          } else {
            // A delimiter may straddle the boundary: search from just before it.
            searchFrom = Math.max(0, pending.length - delim.length + 1);
            pending.append(chunk);
            buf = pending.view();
          }
          let start = 0;
          for (;;) {
            const at = buf.indexOf(delim, Math.max(start, searchFrom));
            if (at < 0) break;
            if (at - start > maxLength) {
              pending.clear();
              return subscriber.error(frameTooLong(maxLength, at - start));
            }
            subscriber.next(held ? pending.copy(start, at) : buf.subarray(start, at));
            if (subscriber.closed) return pending.clear();
            start = at + delim.length;
          }
          const rest = buf.length - start;
          // The frame in progress is already too long: fail now rather than buffer on.
          if (rest > maxLength + delim.length - 1) {
            pending.clear();
            return subscriber.error(frameTooLong(maxLength, rest));
          }
          if (held) pending.consume(start);
          else if (rest > 0) pending.append(buf.subarray(start));
        },
        error(err) {
          pending.clear();
          subscriber.error(err);
        },
        complete() {
          const rest = pending.length;
          const last = rest > 0 ? pending.copy(0, rest) : null;
          pending.clear();
          if (last !== null) {
            if (partial === 'error') return subscriber.error(partialFrame(rest));
            if (rest > maxLength) return subscriber.error(frameTooLong(maxLength, rest));
            subscriber.next(last);
          }
          subscriber.complete();
        },
      });
      return () => {
        pending.clear();
        subscription.unsubscribe();
      };
    });
}
