/**
 * DNS over TCP framing (RFC 1035 §4.2.2): each message is preceded by its
 * length, two bytes, big-endian. Separate from rxnet's generic
 * `lengthPrefixed()` for two reasons this server has:
 *
 * - Time linear in the input however it is split. A message arriving whole
 *   in one read is passed on without a copy; a split one is gathered into a
 *   buffer that grows geometrically up to the announced length, so every byte
 *   is copied a bounded number of times. (Re-concatenating everything
 *   pending on each segment is quadratic: a 64 KiB message dribbled a byte
 *   at a time cost 0.62 s of CPU.) Memory follows what has arrived, not what
 *   was announced: two bytes cannot make the server allocate 64 KiB.
 * - A per-message deadline measured from the message's first byte, which a
 *   peer dribbling a byte now and then cannot reset (an idle timeout can).
 */
import { Observable, type OperatorFunction } from 'rxjs';

/** First buffer for a split message; doubled as needed up to its length. */
const INITIAL_CAPACITY = 512;

/** Splits a byte stream into DNS messages. */
export class MessageFramer {
  /** The split message's first prefix byte while only it has arrived; -1 otherwise. */
  private high = -1;
  /** Length of the message being gathered; -1 when between messages. */
  private length = -1;
  private buf: Buffer | null = null;
  private got = 0;

  /** True while a message (its length prefix included) has begun and not ended. */
  get partial(): boolean {
    return this.high >= 0 || this.length >= 0;
  }

  /**
   * Feeds one chunk; `emit` gets each complete message (the chunk's own bytes
   * when it held the message whole) and returns false to stop early.
   * @returns how many messages were completed.
   */
  push(chunk: Buffer, emit: (message: Buffer) => boolean): number {
    let done = 0;
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.length < 0) {
        if (this.high >= 0) {
          this.start((this.high << 8) | chunk[at]);
          this.high = -1;
          at += 1;
        } else if (end - at >= 2) {
          const length = chunk.readUInt16BE(at);
          if (end - at - 2 >= length) {
            done++;
            if (!emit(chunk.subarray(at + 2, at + 2 + length))) return done;
            at += 2 + length;
            continue;
          }
          this.start(length);
          at += 2;
        } else {
          this.high = chunk[at];
          at += 1;
          continue;
        }
      }
      const take = Math.min(end - at, this.length - this.got);
      let buf = this.buf!;
      if (this.got + take > buf.length) {
        const grown = Buffer.allocUnsafe(Math.min(this.length, Math.max(buf.length * 2, this.got + take)));
        buf.copy(grown, 0, 0, this.got);
        buf = this.buf = grown;
      }
      chunk.copy(buf, this.got, at, at + take);
      this.got += take;
      at += take;
      if (this.got === this.length) {
        const message = buf.subarray(0, this.length);
        this.length = -1;
        this.buf = null;
        done++;
        if (!emit(message)) return done;
      }
    }
    return done;
  }

  private start(length: number): void {
    this.length = length;
    this.got = 0;
    this.buf = Buffer.allocUnsafe(Math.min(length, INITIAL_CAPACITY));
  }
}

/** A message whose bytes did not all arrive within the deadline. */
export class QueryTimeoutError extends Error {
  readonly code = 'ERR_DNS_QUERY_TIMEOUT';
}

/** A message cut short by the peer's FIN. */
export class PartialMessageError extends Error {
  readonly code = 'ERR_DNS_PARTIAL_MESSAGE';
}

/**
 * The DNS messages in a connection's bytes. Errors with a
 * {@link QueryTimeoutError} when a message is not complete `timeoutMs` after
 * its first byte (0: no deadline), and with a {@link PartialMessageError} when
 * the input ends inside one.
 *
 * @example
 * conn.data$.pipe(tcpMessages({ timeoutMs: 2000 }), map((query) => lengthPrefix(answer(query))));
 */
export function tcpMessages(options: { timeoutMs: number }): OperatorFunction<Buffer, Buffer> {
  const { timeoutMs } = options;
  return (source) =>
    new Observable<Buffer>((subscriber) => {
      const framer = new MessageFramer();
      const emit = (message: Buffer): boolean => {
        subscriber.next(message);
        return !subscriber.closed;
      };
      /** When the message in progress began; its timer is armed only while one is. */
      let since = 0;
      let timer: NodeJS.Timeout | null = null;
      const stopClock = () => {
        if (timer !== null) clearTimeout(timer);
        timer = null;
      };
      const check = (): void => {
        timer = null;
        if (!framer.partial) return;
        const left = since + timeoutMs - Date.now();
        if (left > 0) {
          timer = setTimeout(check, left);
          return;
        }
        subscription.unsubscribe();
        subscriber.error(new QueryTimeoutError(`a query was not complete ${timeoutMs} ms after its first byte`));
      };
      const subscription = source.subscribe({
        next(chunk) {
          const wasPartial = framer.partial;
          const completed = framer.push(chunk, emit);
          if (subscriber.closed || !framer.partial || timeoutMs === 0) return;
          // A message begun in this chunk: its clock starts now. One still in
          // progress keeps the clock it has, and its timer.
          if (!wasPartial || completed > 0) since = Date.now();
          if (timer === null) timer = setTimeout(check, Math.max(1, since + timeoutMs - Date.now()));
        },
        error(err) {
          stopClock();
          subscriber.error(err);
        },
        complete() {
          stopClock();
          if (framer.partial) subscriber.error(new PartialMessageError('the input ended inside a message'));
          else subscriber.complete();
        },
      });
      return () => {
        stopClock();
        subscription.unsubscribe();
      };
    });
}
