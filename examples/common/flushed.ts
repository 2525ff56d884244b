/**
 * Knowing when a connection's output has left: the demos close a connection
 * some time after their last byte, and that time must run from when the
 * kernel took the last byte, not from when the response was queued.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Connection } from '../../index';

/** An fd for zero-length sendFile calls; opened once, never read. */
let barrierFd = -1;

/**
 * Resolves once everything queued on `conn` so far (writes and files) has
 * been taken by the kernel; rejects if the connection closes first.
 *
 * sendFile is queued in order with writes and settles when its bytes have
 * been sent, so a zero-length sendFile queued now settles exactly when the
 * queue reaches it. Nothing is read from the fd (there are no bytes to send),
 * and rxnet does not close an fd it was handed.
 *
 * Call it before `conn.end()`: sendFile after end() rejects.
 */
export function flushed(conn: Connection): Promise<void> {
  if (barrierFd < 0) barrierFd = fs.openSync(os.devNull, 'r');
  return conn.sendFile(barrierFd, { offset: 0, length: 0 }).then(() => undefined);
}
