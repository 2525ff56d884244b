import { Subject, type Observable, type ObservableInput } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import type * as sys from '../reactor/sys';
import { validateFunction, validateInteger } from '../reactor/validate';
import type { CloseInfo, Connection } from './connection';
import { checkListenOptions, Listener, type ListenOptions, type ServerEvent } from './listen';
import { effectiveSendTimeout, IdleSweeper, type IdleTimeoutOptions } from './idleTimeout';
import { sendOutput, type OutputHandle } from './sendOutput';

export interface ServeOptions extends ListenOptions, IdleTimeoutOptions {
  /** Close connections idle (nothing read or written, no output pending) this many ms; 0 = never (default). */
  idleTimeout?: number;
}

/**
 * What a handler returns: the bytes to send back. Async iterables, generators
 * and Node Readables are pulled with backpressure (only while the connection
 * is below its high-water mark); Observables and promises are pushed, with
 * the connection's input paused while its output is above the high-water
 * mark. Completion half-closes the connection (FIN), an error resets it;
 * `void` leaves the connection to the handler.
 */
export type ConnectionHandler = (conn: Connection) => ObservableInput<Uint8Array | string> | void;

export interface ServerStats {
  accepted: number;
  active: number;
  /** Pending connections closed at once because descriptors ran out. */
  dropped: number;
  /** Accepted connections that could not be adopted and were reset. */
  rejected: number;
  emfileEpisodes: number;
  /** Bytes received and sent (taken by the kernel) over all connections. */
  bytesIn: number;
  bytesOut: number;
  /** Times a connection's output reached the high-water mark and its input or producer was paused. */
  pauses: number;
}

// Kinds of event that are worth a process warning when nobody observes events$.
const WARN_ON = new Set<ServerEvent['type']>(['error', 'connection-rejected', 'accept-paused']);

/**
 * A running server: see {@link serve}.
 */
export class Server {
  /** Where it listens; null until bound (a host name needs a DNS lookup first). */
  get address(): sys.SocketAddress | null {
    return this.listener.address;
  }
  /** Resolves once the listener and every connection are closed. */
  readonly closed: Promise<void>;

  private readonly listener: Listener;
  // Each open connection and its running output (null: the handler returned none).
  private readonly conns = new Map<Connection, OutputHandle | null>();
  private readonly events = new Subject<ServerEvent>();
  private readonly totals = { bytesIn: 0, bytesOut: 0, pauses: 0 };
  private readonly sweeper: IdleSweeper | null;
  private shuttingDown: Promise<void> | null = null;
  private listenerClosed = false;
  private resolveClosed!: () => void;
  // `listening` is made when first asked for, so the server knows whether
  // anybody will hear of a failure to bind.
  private listeningPromise: Promise<sys.SocketAddress> | null = null;
  private settleListening: ((address: sys.SocketAddress | null, error: Error | null) => void) | null = null;
  private bound: sys.SocketAddress | null = null;
  private fatal: Error | null = null;
  private fatalReported = false;
  private warned: Set<string> | null = null;
  private readonly onEvent: ((event: ServerEvent) => void) | undefined;

  /** @internal Use serve(). */
  constructor(
    options: ServeOptions,
    private readonly handler: ConnectionHandler,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.onEvent = options.onEvent;
    const idleMs = options.idleTimeout ?? 0;
    const sendMs = effectiveSendTimeout(idleMs, options.sendTimeout);
    this.sweeper = idleMs > 0 || sendMs > 0 ? new IdleSweeper(idleMs, sendMs) : null;
    this.listener = new Listener(
      options,
      (conn) => this.accept(conn),
      (err) => this.failedToListen(err),
      (event) => {
        if (event.type === 'listening') {
          this.bound = event.address;
          this.settleListening?.(event.address, null);
        }
        this.emit(event);
      },
      this,
    );
    this.listener.start();
  }

  /**
   * Resolves with the address once listening; rejects if binding or
   * listening failed. A failure that nobody can hear of (`listening` never
   * asked for, no `events$` subscriber, no `onEvent`) is thrown as an
   * uncaught exception instead, as node:net does with an unhandled 'error'.
   */
  get listening(): Promise<sys.SocketAddress> {
    if (this.listeningPromise === null) {
      if (this.bound !== null) this.listeningPromise = Promise.resolve(this.bound);
      else if (this.fatal !== null && this.fatalReported) this.listeningPromise = Promise.reject(this.fatal);
      else {
        this.listeningPromise = new Promise((resolve, reject) => {
          this.settleListening = (address, error) => (error ? reject(error) : resolve(address!));
        });
      }
    }
    return this.listeningPromise;
  }

  /**
   * Listener and connection events: listening, connection-rejected, accept
   * paused/resumed (EMFILE), error (a handler or its output failed; or
   * binding failed), shutdown. Error-like events that nobody observes (no
   * subscriber, no `onEvent` option) become one process warning per kind.
   */
  get events$(): Observable<ServerEvent> {
    return this.events.asObservable();
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  get stats(): ServerStats {
    const l = this.listener.stats;
    let bytesIn = this.totals.bytesIn;
    let bytesOut = this.totals.bytesOut;
    for (const conn of this.conns.keys()) {
      bytesIn += conn.bytesRead;
      bytesOut += conn.bytesWritten;
    }
    return {
      accepted: l.accepted,
      active: this.conns.size,
      dropped: l.dropped,
      rejected: l.rejected,
      emfileEpisodes: l.emfileEpisodes,
      bytesIn,
      bytesOut,
      pauses: this.totals.pauses,
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
      for (const conn of this.conns.keys()) {
        if (conn.inFlight || conn.writableEnded) continue;
        conn.endByServer();
        // Nobody may be reading: discard the rest so the peer's FIN is seen and the connection closes.
        conn.discardInput();
      }
    };
    const poll = setInterval(endIdle, 10);
    const deadline = setTimeout(() => {
      const left = [...this.conns.keys()];
      // Before closing: closing the last connection completes events$.
      this.emit({ type: 'shutdown', closedByDeadline: left.length });
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
    this.conns.set(conn, null);
    conn.owner = this;
    this.sweeper?.add(conn);
    let result: ObservableInput<Uint8Array | string> | void;
    try {
      result = this.handler(conn);
    } catch (err) {
      this.failed(conn, err);
      return;
    }
    if (result === undefined || result === null || conn.closed) return;
    const output = sendOutput(conn, result, this);
    // The output may have ended the connection already.
    if (this.conns.has(conn)) this.conns.set(conn, output);
    else output.stop();
  }

  /** @internal */
  connectionClosed(conn: Connection, info: CloseInfo): void {
    if (!this.conns.has(conn)) return;
    const output = this.conns.get(conn);
    this.conns.delete(conn);
    this.totals.bytesIn += conn.bytesRead;
    this.totals.bytesOut += conn.bytesWritten;
    this.sweeper?.remove(conn);
    output?.stop();
    // The output overflowed maxBufferedBytes: a failure of the server's own,
    // as much as a handler error.
    if ((info.error as NodeJS.ErrnoException | undefined)?.code === 'ERR_RXNET_MAX_BUFFERED_BYTES') this.emit({ type: 'error', error: info.error! });
    this.maybeClosed();
  }

  /** A connection's output reached the high-water mark. @internal */
  paused(_conn: Connection): void {
    this.totals.pauses++;
  }

  /** A handler or its output failed: reset that connection and report it. @internal */
  failed(conn: Connection, err: unknown): void {
    const error = err instanceof Error ? err : rxnetError(Error, 'ERR_RXNET_HANDLER', `handler failed: ${String(err)}`);
    // An output built on data$ errors when the connection itself failed (a
    // peer's reset, an idle timeout): reported, but that is the peer's doing,
    // not a failure worth a process warning.
    this.emit({ type: 'error', error }, !conn.closed);
    conn.reset();
  }

  private failedToListen(err: Error): void {
    this.fatal = err;
    this.listenerClosed = true;
    this.listener.stop();
    // On the next tick, as node:net emits 'error': a bind to an IP literal
    // fails inside serve() itself, before its caller could ask for
    // `listening` or subscribe to events$.
    process.nextTick(() => {
      this.fatalReported = true;
      const heard = this.settleListening !== null || this.events.observed || this.onEvent !== undefined;
      this.settleListening?.(null, err);
      // Not emit(): this failure is loud by itself (below), not a warning.
      this.onEvent?.({ type: 'error', error: err });
      this.events.next({ type: 'error', error: err });
      this.maybeClosed();
      // Nobody can hear of it: fail loudly, as node:net's unhandled 'error' does.
      if (!heard) throw err;
    });
  }

  private get onEventOption(): boolean {
    return this.onEvent !== undefined;
  }

  private emit(event: ServerEvent, warnable = true): void {
    this.onEvent?.(event);
    if (warnable && !this.events.observed && !this.onEventOption && WARN_ON.has(event.type) && 'error' in event) this.warn(event.error);
    this.events.next(event);
  }

  /** One process warning per kind of error, so an unobserved failure is seen but never floods the log. */
  private warn(error: Error): void {
    const kind = (error as NodeJS.ErrnoException).code ?? error.name;
    this.warned ??= new Set();
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    process.emitWarning(`rxnet server: ${error.message} (further ${kind} errors are not reported; subscribe to server.events$ to see each)`, {
      type: 'RxnetWarning',
      code: kind,
    });
  }

  private maybeClosed(): void {
    if (this.listenerClosed && this.conns.size === 0) {
      this.sweeper?.stop();
      this.resolveClosed();
      this.events.complete();
    }
  }
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
