import { rxnetError } from '../reactor/errors';

/** A frame longer than the operator's `maxLength`. */
export function frameTooLong(maxLength: number, seen: number): Error {
  return rxnetError(Error, 'ERR_RXNET_FRAME_TOO_LONG', `Frame of ${seen} bytes exceeds maxLength (${maxLength})`);
}

/** Input ended in the middle of a frame. */
export function partialFrame(pending: number): Error {
  return rxnetError(Error, 'ERR_RXNET_PARTIAL_FRAME', `Input ended inside a frame (${pending} bytes pending)`);
}
