import { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import type { Connection } from './connection';

/**
 * A `node:stream` Duplex over a connection, so `node:tls`, `stream.pipeline`
 * and existing stream parsers work over rxnet. Backpressure is kept both
 * ways: when the Duplex's readable buffer is full the connection is paused,
 * and writes wait for `drain$` once the connection is above its high-water mark.
 *
 * @example
 * import * as tls from 'node:tls';
 * const secure = tls.connect({ socket: toDuplex(conn), servername: 'example.test' });
 */
export function toDuplex(conn: Connection): Duplex {
  let reading: Subscription | null = null;
  // One counted pause (see backpressure.ts) while the Duplex's reader is
  // full: it neither undoes nor is undone by the user's pause()/resume().
  let holding = false;
  const duplex = new Duplex({
    read() {
      if (reading === null) {
        reading = conn.data$.subscribe({
          next: (chunk) => {
            if (!duplex.push(chunk) && !holding && !conn.closed) {
              holding = true;
              conn.hold();
            }
          },
          error: (err) => duplex.destroy(err),
          complete: () => duplex.push(null),
        });
      } else if (holding) {
        holding = false;
        if (!conn.closed) conn.release();
      }
    },
    write(chunk: Buffer, _encoding, callback) {
      if (conn.closed) return callback(Object.assign(new Error('The connection is closed'), { code: 'ERR_RXNET_CLOSED' }));
      if (conn.write(chunk)) return callback();
      const sub = conn.drain$.subscribe({ next: () => (sub.unsubscribe(), callback()), complete: () => callback() });
    },
    final(callback) {
      conn.end();
      callback();
    },
    destroy(err, callback) {
      reading?.unsubscribe();
      if (!conn.closed) {
        if (err) conn.reset();
        // Both sides ended (autoDestroy): the connection closes by itself once
        // its queued bytes and FIN are out; close() now would drop them.
        else if (!(conn.writableEnded && duplex.readableEnded)) conn.close();
      }
      callback(err);
    },
  });
  conn.closed$.subscribe((info) => {
    if (info.error) duplex.destroy(info.error);
  });
  return duplex;
}
