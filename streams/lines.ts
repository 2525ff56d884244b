import { map, type OperatorFunction } from 'rxjs';
import { validateInteger, validateOneOf } from '../reactor/validate';
import { delimited, type DelimitedOptions } from './delimited';
import { frameTooLong } from './frameErrors';

export interface LinesOptions extends DelimitedOptions {
  /** Text encoding of the lines (default 'utf8'). */
  encoding?: BufferEncoding;
}

/**
 * Splits a byte stream into text lines ending in `\n` (a `\r` before it is
 * dropped too). A last line without a newline is emitted at completion
 * (`partial: 'error'` makes that an ERR_RXNET_PARTIAL_FRAME instead); a line
 * longer than `maxLength` bytes (default 64 KiB) errors with
 * ERR_RXNET_FRAME_TOO_LONG.
 *
 * @example
 * conn.data$.pipe(lines({ maxLength: 1024 })).subscribe((line) => console.log(line));
 */
export function lines(options: LinesOptions = {}): OperatorFunction<Uint8Array, string> {
  const encoding = options.encoding ?? 'utf8';
  validateOneOf(encoding, 'options.encoding', ['utf8', 'utf-8', 'ascii', 'latin1', 'binary', 'utf16le', 'ucs2', 'ucs-2', 'base64', 'base64url', 'hex'] as const);
  const maxLength = options.maxLength ?? 64 * 1024;
  validateInteger(maxLength, 'options.maxLength', 0, 2 ** 31 - 2);
  return (source) =>
    source.pipe(
      // One more byte for a \r, checked exactly below.
      delimited('\n', { maxLength: maxLength + 1, partial: options.partial }),
      map((frame) => {
        const end = frame.length > 0 && frame[frame.length - 1] === 0x0d ? frame.length - 1 : frame.length;
        if (end > maxLength) throw frameTooLong(maxLength, end);
        return frame.toString(encoding, 0, end);
      }),
    );
}
