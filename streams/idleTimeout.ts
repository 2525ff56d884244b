import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import { validateInteger } from '../reactor/validate';
import type { Connection } from './connection';

/**
 * Closes connections that read and write nothing for `ms`. One coarse timer
 * per sweeper (a quarter of the timeout), not one per connection: 10,000 idle
 * connections cost one interval and a Map.
 * @internal
 */
export class IdleSweeper {
  private readonly seen = new Map<Connection, { activity: number; since: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ms: number) {}

  add(conn: Connection): void {
    this.seen.set(conn, { activity: conn.activity, since: Date.now() });
    if (this.timer === null) {
      this.timer = setInterval(this.sweep, Math.max(5, Math.floor(this.ms / 4)));
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
      } else if (conn.activity !== state.activity) {
        state.activity = conn.activity;
        state.since = now;
      } else if (now - state.since >= this.ms) {
        this.seen.delete(conn);
        conn.destroy(rxnetError(Error, 'ERR_RXNET_IDLE_TIMEOUT', `Connection closed after ${this.ms} ms without traffic`));
      }
    }
    if (this.seen.size === 0) this.stop();
  };
}

/**
 * Closes each connection that passes through once it has been idle (nothing
 * read or written) for `ms` milliseconds; its `data$` and `closed$` report
 * `ERR_RXNET_IDLE_TIMEOUT`. `serve()` takes the same as its `idleTimeout` option.
 *
 * @example
 * listen({ port: 7000 }).pipe(idleTimeout(30_000)).subscribe(handle);
 */
export function idleTimeout(ms: number): MonoTypeOperatorFunction<Connection> {
  validateInteger(ms, 'ms', 1, 2 ** 31 - 1);
  return (source) =>
    new Observable<Connection>((subscriber) => {
      const sweeper = new IdleSweeper(ms);
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
