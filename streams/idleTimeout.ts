import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import { validateInteger } from '../reactor/validate';
import type { Connection } from './connection';

/** Options of {@link idleTimeout} (and of `serve()`, which takes the same). */
export interface IdleTimeoutOptions {
  /**
   * Close a connection whose output is pending when the kernel has taken
   * none of it for this many ms (a peer that stopped reading), with
   * `ERR_RXNET_SEND_TIMEOUT`; 0 = never. Like nginx's `send_timeout`, it
   * runs between two successive writes, not over a whole response. Default
   * with an idle timeout: 60 s (nginx's default) or the idle timeout,
   * whichever is longer; without one, never.
   */
  sendTimeout?: number;
}

/** nginx's `send_timeout` default. */
const DEFAULT_SEND_TIMEOUT = 60_000;

/**
 * The send deadline that applies: `sendTimeout` if given, else a default
 * when an idle timeout is set (so a peer that stops reading is never held
 * forever where idle peers are not), else none. @internal
 */
export function effectiveSendTimeout(idleMs: number, sendTimeout: number | undefined): number {
  if (sendTimeout !== undefined) return sendTimeout;
  return idleMs > 0 ? Math.max(idleMs, DEFAULT_SEND_TIMEOUT) : 0;
}

/** Whether output waits in the connection: bytes, or the unsent part of a file (both count in bufferedAmount). */
function outputPending(conn: Connection): boolean {
  return conn.bufferedAmount > 0;
}

interface Watch {
  /** `conn.activity` at the last sweep. */
  activity: number;
  /** When the connection was last seen active, or with output pending. */
  idleSince: number;
  /** `conn.bytesWritten` at the last sweep. */
  written: number;
  /** When output was last seen leaving, or not pending. */
  sendSince: number;
}

/**
 * Closes connections that are idle, or that stopped taking their output. One
 * coarse timer per sweeper (a quarter of the shorter deadline), not one per
 * connection: 10,000 idle connections cost one interval and a Map.
 *
 * - Idle (`idleMs`): nothing read or written for that long, and no output
 *   pending. A connection whose output waits for the peer to read is not
 *   idle, however long the peer pauses: that is the send deadline's case.
 * - Send (`sendMs`): output pending and none of it taken by the kernel for
 *   that long.
 * @internal
 */
export class IdleSweeper {
  private readonly seen = new Map<Connection, Watch>();
  private timer: NodeJS.Timeout | null = null;

  /** Either deadline may be 0 (off), not both. */
  constructor(
    private readonly idleMs: number,
    private readonly sendMs = 0,
  ) {}

  add(conn: Connection): void {
    const now = Date.now();
    this.seen.set(conn, { activity: conn.activity, idleSince: now, written: conn.bytesWritten, sendSince: now });
    if (this.timer === null) {
      const shortest = Math.min(this.idleMs || Infinity, this.sendMs || Infinity);
      this.timer = setInterval(this.sweep, Math.max(5, Math.floor(shortest / 4)));
      // Connections keep the loop alive; the sweeper need not.
      this.timer.unref();
    }
  }

  remove(conn: Connection): void {
    this.seen.delete(conn);
    if (this.seen.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const [conn, state] of this.seen) {
      if (conn.closed) {
        this.seen.delete(conn);
        continue;
      }
      const active = conn.activity !== state.activity;
      state.activity = conn.activity;
      if (outputPending(conn)) {
        state.idleSince = now;
        if (conn.bytesWritten !== state.written) {
          state.written = conn.bytesWritten;
          state.sendSince = now;
        } else if (this.sendMs > 0 && now - state.sendSince >= this.sendMs) {
          this.seen.delete(conn);
          conn.destroy(
            rxnetError(Error, 'ERR_RXNET_SEND_TIMEOUT', `Connection closed: the peer took none of its pending output for ${this.sendMs} ms`),
          );
        }
        continue;
      }
      state.written = conn.bytesWritten;
      state.sendSince = now;
      if (active) {
        state.idleSince = now;
      } else if (this.idleMs > 0 && now - state.idleSince >= this.idleMs) {
        this.seen.delete(conn);
        conn.destroy(rxnetError(Error, 'ERR_RXNET_IDLE_TIMEOUT', `Connection closed after ${this.idleMs} ms without traffic`));
      }
    }
    if (this.seen.size === 0) this.stop();
  };
}

/**
 * Closes each connection that passes through once it has been idle (nothing
 * read or written, no output pending) for `ms` milliseconds; its `data$` and
 * `closed$` report `ERR_RXNET_IDLE_TIMEOUT`. A connection whose output waits
 * for a peer that stopped reading is closed by the separate `sendTimeout`
 * instead, with `ERR_RXNET_SEND_TIMEOUT`. `serve()` takes the same as its
 * `idleTimeout` and `sendTimeout` options.
 *
 * @example
 * listen({ port: 7000 }).pipe(idleTimeout(30_000, { sendTimeout: 60_000 })).subscribe(handle);
 */
export function idleTimeout(ms: number, options: IdleTimeoutOptions = {}): MonoTypeOperatorFunction<Connection> {
  validateInteger(ms, 'ms', 1, 2 ** 31 - 1);
  if (options.sendTimeout !== undefined) validateInteger(options.sendTimeout, 'options.sendTimeout', 0, 2 ** 31 - 1);
  const sendMs = effectiveSendTimeout(ms, options.sendTimeout);
  return (source) =>
    new Observable<Connection>((subscriber) => {
      const sweeper = new IdleSweeper(ms, sendMs);
      const subscription = source.subscribe({
        next: (conn) => {
          sweeper.add(conn);
          conn.closed$.subscribe(() => sweeper.remove(conn));
          subscriber.next(conn);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        sweeper.stop();
      };
    });
}
