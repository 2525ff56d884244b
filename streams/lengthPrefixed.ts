import { Observable, type OperatorFunction } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import { validateBytes, validateInteger } from '../reactor/validate';
import { Accumulator } from './accumulator';
import { frameTooLong, partialFrame } from './frameErrors';

export interface LengthPrefixedOptions {
  /** Size of the big-endian length prefix: 1, 2 (default, as DNS over TCP) or 4 bytes. */
  bytes?: 1 | 2 | 4;
  /** Longest payload accepted (default 64 KiB); a longer prefix errors with ERR_RXNET_FRAME_TOO_LONG before its payload is buffered. */
  maxLength?: number;
}

const DEFAULT_MAX = 64 * 1024;

function readLength(buf: Buffer, at: number, bytes: number): number {
  return bytes === 1 ? buf[at] : bytes === 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
}

/**
 * Splits a byte stream into payloads each preceded by its big-endian length.
 * Input that ends inside a frame errors with ERR_RXNET_PARTIAL_FRAME.
 *
 * @example
 * // DNS over TCP
 * conn.data$.pipe(lengthPrefixed({ bytes: 2, maxLength: 65535 })).subscribe(handleQuery);
 */
export function lengthPrefixed(options: LengthPrefixedOptions = {}): OperatorFunction<Uint8Array, Buffer> {
  const bytes = options.bytes ?? 2;
  if (bytes !== 1 && bytes !== 2 && bytes !== 4) {
    throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "options.bytes" is out of range. It must be 1, 2 or 4. Received ${String(bytes)}`);
  }
  const maxLength = options.maxLength ?? DEFAULT_MAX;
  validateInteger(maxLength, 'options.maxLength', 0, 2 ** 32 - 1);
  return (source) =>
    new Observable<Buffer>((subscriber) => {
      // A frame split over chunks: its bytes so far.
      const pending = new Accumulator();
      /** Emits the whole frames in buf from `at`; returns where the rest starts, or -1 after an error or unsubscribe. */
      const frames = (buf: Buffer, at: number, copy: boolean): number => {
        while (buf.length - at >= bytes) {
          const length = readLength(buf, at, bytes);
          if (length > maxLength) {
            subscriber.error(frameTooLong(maxLength, length));
            return -1;
          }
          if (buf.length - at - bytes < length) break;
          subscriber.next(copy ? Buffer.from(buf.subarray(at + bytes, at + bytes + length)) : buf.subarray(at + bytes, at + bytes + length));
          if (subscriber.closed) return -1;
          at += bytes + length;
        }
        return at;
      };
      const subscription = source.subscribe({
        next(chunk) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          if (pending.length === 0) {
            // Frames whole in this chunk are views of it: no copy.
            const rest = frames(buf, 0, false);
            if (rest >= 0 && rest < buf.length) pending.append(buf.subarray(rest));
            return;
          }
          pending.append(buf);
          const rest = frames(pending.view(), 0, true);
          if (rest < 0) return pending.clear();
          pending.consume(rest);
        },
        error(err) {
          pending.clear();
          subscriber.error(err);
        },
        complete() {
          const rest = pending.length;
          pending.clear();
          if (rest > 0) return subscriber.error(partialFrame(rest));
          subscriber.complete();
        },
      });
      return () => {
        pending.clear();
        subscription.unsubscribe();
      };
    });
}

/** Prepends a big-endian length prefix: the encoder matching {@link lengthPrefixed}. */
export function lengthPrefix(payload: Uint8Array, bytes: 1 | 2 | 4 = 2): Buffer {
  validateBytes(payload, 'payload');
  const max = bytes === 4 ? 2 ** 32 - 1 : 2 ** (8 * bytes) - 1;
  if (payload.byteLength > max) {
    throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', `A payload of ${payload.byteLength} bytes does not fit a ${bytes}-byte length prefix`);
  }
  const out = Buffer.allocUnsafe(bytes + payload.byteLength);
  if (bytes === 1) out[0] = payload.byteLength;
  else if (bytes === 2) out.writeUInt16BE(payload.byteLength, 0);
  else out.writeUInt32BE(payload.byteLength, 0);
  out.set(payload, bytes);
  return out;
}
