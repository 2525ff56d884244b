import { from, Subject, take, type Observable, type ObservableInput, type Subscription } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import type * as sys from '../reactor/sys';
import { validateFunction, validateInteger } from '../reactor/validate';
import type { Connection, TrafficCounters } from './connection';
import { checkListenOptions, Listener, type ListenOptions, type ServerEvent } from './listen';
import { effectiveSendTimeout, IdleSweeper, type IdleTimeoutOptions } from './idleTimeout';

export interface ServeOptions extends ListenOptions, IdleTimeoutOptions {
  /** Close connections idle (nothing read or written, no output pending) this many ms; 0 = never (default). */
  idleTimeout?: number;
}

/**
 * What a handler returns: the bytes to send back, with backpressure. Its
 * completion half-closes the connection (FIN), an error resets it; `void`
 * leaves the connection to the handler.
 */
export type ConnectionHandler = (conn: Connection) => ObservableInput<Uint8Array | string> | void;

export interface ServerStats extends TrafficCounters {
  accepted: number;
  active: number;
  /** Pending connections closed at once because descriptors ran out. */
  dropped: number;
  emfileEpisodes: number;
  /** Times a connection's reading was paused because its output was above the high-water mark. */
  pauses: number;
}

/**
 * A running server: see {@link serve}.
 */
export class Server {
  /** Where it listens; null until bound (a host name needs a DNS lookup first). */
  get address(): sys.SocketAddress | null {
    return this.listener.address;
  }
  /** Resolves with the address once listening; rejects if binding failed. */
  readonly listening: Promise<sys.SocketAddress>;
  /** Resolves once the listener and every connection are closed. */
  readonly closed: Promise<void>;

  private readonly listener: Listener;
  private readonly conns = new Set<Connection>();
  private readonly events = new Subject<ServerEvent>();
  private readonly counters = { bytesIn: 0, bytesOut: 0, pauses: 0 };
  private readonly sweeper: IdleSweeper | null;
  private shuttingDown: Promise<void> | null = null;
  private listenerClosed = false;
  private resolveClosed!: () => void;

  /** @internal Use serve(). */
  constructor(
    options: ServeOptions,
    private readonly handler: ConnectionHandler,
  ) {
    let resolveListening!: (a: sys.SocketAddress) => void;
    let rejectListening!: (e: Error) => void;
    this.listening = new Promise((resolve, reject) => {
      resolveListening = resolve;
      rejectListening = reject;
    });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    const idleMs = options.idleTimeout ?? 0;
    const sendMs = effectiveSendTimeout(idleMs, options.sendTimeout);
    this.sweeper = idleMs > 0 || sendMs > 0 ? new IdleSweeper(idleMs, sendMs) : null;
    this.listener = new Listener(
      options,
      (conn) => this.accept(conn),
      (err) => {
        rejectListening(err);
        this.events.next({ type: 'error', error: err });
        this.listenerClosed = true;
        this.listener.stop();
        this.maybeClosed();
      },
      (event) => {
        if (event.type === 'listening') resolveListening(event.address);
        options.onEvent?.(event);
        this.events.next(event);
      },
    );
    // A failed bind is reported through `listening` and `events$`; an
    // unobserved `listening` must not crash the process as well.
    this.listening.catch(() => {});
    this.listener.start();
  }

  /** Listener and connection events (listening, accept paused/resumed, handler errors, shutdown). */
  get events$(): Observable<ServerEvent> {
    return this.events.asObservable();
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  get stats(): ServerStats {
    const l = this.listener.stats;
    return {
      accepted: l.accepted,
      active: this.conns.size,
      dropped: l.dropped,
      emfileEpisodes: l.emfileEpisodes,
      bytesIn: this.counters.bytesIn,
      bytesOut: this.counters.bytesOut,
      pauses: this.counters.pauses,
    };
  }

  /**
   * Graceful shutdown: stop accepting, half-close (FIN) every idle
   * connection, let connections with work in flight finish and then
   * half-close them, and at the deadline close whatever is left.
   *
   * A connection is in flight while output is queued, or while input has
   * arrived that no write has answered yet. A protocol that does not answer
   * every input (a chat room, a sink) should end its connections itself on
   * shutdown, or they wait for the deadline. After the server's FIN, writes
   * return false instead of throwing.
   */
  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 5000;
    validateInteger(timeoutMs, 'options.timeoutMs', 0, 2 ** 31 - 1);
    if (this.shuttingDown) return this.shuttingDown;
    this.listener.stop();
    this.listenerClosed = true;
    const finish = () => {
      clearInterval(poll);
      clearTimeout(deadline);
    };
    const endIdle = () => {
      for (const conn of this.conns) {
        if (conn.busy || conn.writableEnded) continue;
        conn.endByServer();
        // Nobody may be reading: discard the rest so the peer's FIN is seen and the connection closes.
        if (!conn.closed && !conn.hasReader) conn.data$.subscribe({ error: () => {} });
      }
    };
    const poll = setInterval(endIdle, 10);
    const deadline = setTimeout(() => {
      const left = [...this.conns];
      // Before closing: closing the last connection completes events$.
      this.events.next({ type: 'shutdown', closedByDeadline: left.length });
      for (const conn of left) conn.close();
    }, timeoutMs);
    this.shuttingDown = this.closed.then(finish);
    endIdle();
    this.maybeClosed();
    return this.shuttingDown;
  }

  /** Closes the listener and every connection now. */
  close(): Promise<void> {
    return this.shutdown({ timeoutMs: 0 });
  }

  private accept(conn: Connection): void {
    if (this.shuttingDown) {
      conn.close();
      return;
    }
    this.conns.add(conn);
    conn.counters = this.counters;
    // One small object per connection, methods on its prototype: it is both
    // the output's observer and the close hook (idle memory per connection
    // is one of this server's yardsticks).
    const link = new OutputLink(this, conn);
    conn.onClosed = link.closed;
    this.sweeper?.add(conn);
    let result: ObservableInput<Uint8Array | string> | void;
    try {
      result = this.handler(conn);
    } catch (err) {
      this.failed(conn, err);
      return;
    }
    if (result === undefined || result === null || conn.closed) return;
    link.subscription = from(result).subscribe(link);
  }

  /** @internal */
  onConnectionClosed(conn: Connection, output: Subscription | null): void {
    this.conns.delete(conn);
    this.sweeper?.remove(conn);
    output?.unsubscribe();
    this.maybeClosed();
  }


  /** While output is above the high-water mark, stop reading input. @internal */
  pressure(conn: Connection): void {
    if (conn.pressured) return; // already paused until the next drain
    this.counters.pauses++;
    conn.setPressure(true);
    conn.drain$.pipe(take(1)).subscribe(() => conn.setPressure(false));
  }

  /** @internal */
  failed(conn: Connection, err: unknown): void {
    const error = err instanceof Error ? err : rxnetError(Error, 'ERR_RXNET_HANDLER', `handler failed: ${String(err)}`);
    this.events.next({ type: 'error', error });
    conn.reset();
  }

  private maybeClosed(): void {
    if (this.listenerClosed && this.conns.size === 0) {
      this.sweeper?.stop();
      this.resolveClosed();
      this.events.complete();
    }
  }
}

/** Writes a handler's output to its connection; see Server#accept. */
class OutputLink {
  subscription: Subscription | null = null;

  constructor(
    private readonly server: Server,
    private readonly conn: Connection,
  ) {}

  next(chunk: Uint8Array | string): void {
    if (!this.conn.write(chunk) && !this.conn.closed) this.server.pressure(this.conn);
  }

  error(err: unknown): void {
    this.server.failed(this.conn, err);
  }

  complete(): void {
    const conn = this.conn;
    conn.end();
    // If nobody reads any more, discard what the peer still sends so its FIN
    // is seen and the connection closes. Checked after this call returns: an
    // output built with take/takeWhile completes while still subscribed to
    // data$ and unsubscribes right after.
    queueMicrotask(() => {
      if (!conn.closed && !conn.hasReader) conn.data$.subscribe({ error: () => {} });
    });
  }

  readonly closed = (conn: Connection): void => this.server.onConnectionClosed(conn, this.subscription);
}

/**
 * Serves TCP (or a Unix socket): `handler(conn)` returns what to send back.
 *
 * - Output goes out with backpressure: while it is above `highWaterMark`,
 *   the connection's input is paused, so a peer that sends but never reads
 *   cannot grow the server's memory; past `maxBufferedBytes` the connection
 *   is closed with `ERR_RXNET_MAX_BUFFERED_BYTES`.
 * - The output's completion half-closes the connection; an error resets it
 *   and is reported on `events$`.
 *
 * @example
 * // An echo server
 * const server = serve({ host: '127.0.0.1', port: 7000 }, (conn) => conn.data$);
 * await server.listening;
 * process.on('SIGTERM', () => server.shutdown({ timeoutMs: 5000 }));
 */
export function serve(options: ServeOptions, handler: ConnectionHandler): Server {
  checkListenOptions(options);
  validateFunction(handler, 'handler');
  if (options.idleTimeout !== undefined) validateInteger(options.idleTimeout, 'options.idleTimeout', 0, 2 ** 31 - 1);
  if (options.sendTimeout !== undefined) validateInteger(options.sendTimeout, 'options.sendTimeout', 0, 2 ** 31 - 1);
  return new Server(options, handler);
}
