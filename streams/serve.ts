import { Subject, type Observable, type ObservableInput } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import { Reactor } from '../reactor/reactor';
import type * as sys from '../reactor/sys';
import { validateFunction, validateInteger, validateString } from '../reactor/validate';
import type { CloseInfo, Connection } from './connection';
import { checkListenOptions, Listener, listenTlsSetup, type ListenOptions, type ServerEvent } from './listen';
import { HandoffOffer } from './handoff';
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
  /** Connections closed for a missing, bad, late or untrusted PROXY header. */
  proxyRejected: number;
  /** Bytes received and sent (taken by the kernel) over all connections. */
  bytesIn: number;
  bytesOut: number;
  /** Times a connection's output reached the high-water mark and its input or producer was paused. */
  pauses: number;
  /** TLS handshakes that failed ('tls-client-error' events); those clients never reached the handler. */
  tlsClientErrors: number;
}

/** handOff()'s default idleGraceMs. */
const HANDOFF_IDLE_GRACE_MS = 1000;

// Kinds of event that are worth a process warning when nobody observes events$.
const WARN_ON = new Set<ServerEvent['type']>(['error', 'connection-rejected', 'accept-paused', 'proxy-rejected']);

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
  private readonly conns = new ConnTable();
  private readonly events = new Subject<ServerEvent>();
  private readonly totals = { bytesIn: 0, bytesOut: 0, pauses: 0 };
  private readonly sweeper: IdleSweeper | null;
  private shuttingDown: Promise<void> | null = null;
  private drainingSince = 0;
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
  private readonly reactor: Reactor;
  private offer: HandoffOffer | null = null;

  /** @internal Use serve(). */
  constructor(
    options: ServeOptions,
    private readonly handler: ConnectionHandler,
    tlsSetup: ReturnType<typeof listenTlsSetup> = null,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.onEvent = options.onEvent;
    this.reactor = options.reactor ?? Reactor.default();
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
        // A connection refused at its PROXY header may have been the last thing a shutdown waited for.
        if (event.type === 'proxy-rejected') this.maybeClosed();
      },
      this,
      tlsSetup,
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

  /**
   * True once shutdown() (or a handoff) has begun: the server accepts no
   * more connections and drains. A protocol that can say goodbye in-band
   * reads it to end each connection cleanly (HTTP: `Connection: close` on
   * the next response), together with shutdown's `idleGraceMs`.
   */
  get draining(): boolean {
    return this.drainingSince !== 0;
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  get stats(): ServerStats {
    const l = this.listener.stats;
    let bytesIn = this.totals.bytesIn;
    let bytesOut = this.totals.bytesOut;
    for (const conn of this.conns.list()) {
      bytesIn += conn.bytesRead;
      bytesOut += conn.bytesWritten;
    }
    return {
      accepted: l.accepted,
      active: this.conns.size,
      dropped: l.dropped,
      rejected: l.rejected,
      emfileEpisodes: l.emfileEpisodes,
      proxyRejected: l.proxyRejected,
      bytesIn,
      bytesOut,
      pauses: this.totals.pauses,
      tlsClientErrors: l.tlsClientErrors,
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
   *
   * `idleGraceMs` (default 0) delays the half-close of idle connections: a
   * request-response protocol whose client may be sending its next request
   * at this very moment (HTTP keep-alive) would otherwise meet a FIN
   * instead of an answer. Within the grace the protocol ends connections
   * in-band after their next answer (see `draining`).
   */
  shutdown(options: { timeoutMs?: number; idleGraceMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 5000;
    validateInteger(timeoutMs, 'options.timeoutMs', 0, 2 ** 31 - 1);
    const idleGraceMs = options.idleGraceMs ?? 0;
    validateInteger(idleGraceMs, 'options.idleGraceMs', 0, 2 ** 31 - 1);
    if (this.shuttingDown) return this.shuttingDown;
    this.drainingSince = Date.now();
    this.offer?.cancel();
    // Connections still waiting for their PROXY header may finish arriving:
    // they are served and drained like the rest (a handoff must refuse nobody).
    this.listener.stop({ closePending: false });
    this.listenerClosed = true;
    const finish = () => {
      clearInterval(poll);
      clearTimeout(deadline);
    };
    const endIdle = () => {
      if (idleGraceMs > 0 && Date.now() - this.drainingSince < idleGraceMs) return;
      for (const conn of this.conns.list()) {
        if (conn.inFlight || conn.writableEnded) continue;
        conn.endByServer();
        // Nobody may be reading: discard the rest so the peer's FIN is seen and the connection closes.
        conn.discardInput();
      }
    };
    const poll = setInterval(endIdle, 10);
    const deadline = setTimeout(() => {
      const left = this.conns.list();
      // Before closing: closing the last connection completes events$.
      this.emit({ type: 'shutdown', closedByDeadline: left.length + this.listener.pendingHeaders });
      this.listener.closePending();
      for (const conn of left) conn.close();
      this.maybeClosed();
    }, timeoutMs);
    this.shuttingDown = this.closed.then(finish);
    endIdle();
    this.maybeClosed();
    return this.shuttingDown;
  }

  /**
   * Hands the listening socket to a successor process without refusing a
   * single connection: waits at the Unix socket `path` (created with mode
   * 0600) until a new process calls `receiveListeners(path)`, passes it the
   * listening socket (SCM_RIGHTS), and once it reports that it is
   * accepting, stops accepting here and drains with
   * `shutdown({ timeoutMs, idleGraceMs })`; `idleGraceMs` defaults to 1000
   * here, so that a connection accepted just before the handoff, whose first
   * request is still on its way, is answered rather than met with a FIN.
   * Resolves when this server has
   * drained; rejects if the successor fails before it is ready (this server
   * then keeps serving, and may offer again) or if the server shuts down
   * first. The sequence is in streams/handoff.ts and docs/deployment.md.
   *
   * @example
   * // The old process, started with --handoff /run/app/handoff.sock:
   * server.handOff('/run/app/handoff.sock', { timeoutMs: 10_000 }).then(() => process.exit(0));
   * // The new one: see receiveListeners().
   */
  handOff(path: string, options: { timeoutMs?: number; idleGraceMs?: number; readyTimeoutMs?: number } = {}): Promise<void> {
    validateString(path, 'path');
    const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    validateInteger(readyTimeoutMs, 'options.readyTimeoutMs', 1, 2 ** 31 - 1);
    if (options.timeoutMs !== undefined) validateInteger(options.timeoutMs, 'options.timeoutMs', 0, 2 ** 31 - 1);
    if (options.idleGraceMs !== undefined) validateInteger(options.idleGraceMs, 'options.idleGraceMs', 0, 2 ** 31 - 1);
    if (this.shuttingDown) return Promise.reject(rxnetError(Error, 'ERR_RXNET_HANDOFF', 'The server is shutting down'));
    if (this.offer !== null) return Promise.reject(rxnetError(Error, 'ERR_RXNET_HANDOFF', 'A handoff is already offered'));
    const describe = () => {
      const fd = this.listener.listeningFd;
      if (fd < 0 || this.listener.address === null) throw rxnetError(Error, 'ERR_RXNET_HANDOFF', 'The server is not listening');
      return { fds: [fd], addresses: [this.listener.address] };
    };
    const offer = new HandoffOffer(this.reactor, path, describe, readyTimeoutMs);
    try {
      offer.start();
    } catch (err) {
      return Promise.reject(err);
    }
    this.offer = offer;
    return offer.result.then(
      (pid) => {
        this.offer = null;
        // The successor accepts on the same socket already: close our
        // descriptor only (its Unix path, if any, is the successor's now).
        this.listener.stop({ handedOff: true, closePending: false });
        this.emit({ type: 'handed-off', pid });
        return this.shutdown({ timeoutMs: options.timeoutMs, idleGraceMs: options.idleGraceMs ?? HANDOFF_IDLE_GRACE_MS });
      },
      (err: Error) => {
        this.offer = null;
        throw err;
      },
    );
  }

  /** Closes the listener and every connection now. */
  close(): Promise<void> {
    return this.shutdown({ timeoutMs: 0 });
  }

  private accept(conn: Connection): void {
    // During a shutdown only a connection whose PROXY header completed after
    // the listener closed arrives here: it is served and drained like the
    // others, not refused. After the deadline nothing arrives at all.
    this.conns.add(conn);
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
    if (!this.conns.setOutput(conn, output)) output.stop();
  }

  /** @internal */
  connectionClosed(conn: Connection, info: CloseInfo): void {
    const output = this.conns.remove(conn);
    if (output === undefined) return;
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
    if (this.listenerClosed && this.conns.size === 0 && this.listener.pendingHeaders === 0) {
      this.sweeper?.stop();
      this.resolveClosed();
      this.events.complete();
    }
  }
}

/**
 * serve()'s open connections and their outputs, by fd: an fd belongs to one
 * open connection at a time, so an array indexed by it tracks them without
 * the hashing a Map did per connection (a visible share of the CPU per
 * connection when every request brings a new one).
 */
class ConnTable {
  size = 0;
  private readonly conns: (Connection | undefined)[] = [];
  private readonly outputs: (OutputHandle | null)[] = [];

  add(conn: Connection): void {
    const fd = conn.fd;
    // Grown without holes: V8 keeps a dense array fast.
    while (this.conns.length <= fd) {
      this.conns.push(undefined);
      this.outputs.push(null);
    }
    if (this.conns[fd] === undefined) this.size++;
    this.conns[fd] = conn;
    this.outputs[fd] = null;
  }

  /** Records a connection's output; false if it is no longer here. */
  setOutput(conn: Connection, output: OutputHandle): boolean {
    if (this.conns[conn.fd] !== conn) return false;
    this.outputs[conn.fd] = output;
    return true;
  }

  /** Removes it; returns its output (null: none), or undefined if it was not here. */
  remove(conn: Connection): OutputHandle | null | undefined {
    const fd = conn.fd;
    if (this.conns[fd] !== conn) return undefined;
    const output = this.outputs[fd];
    this.conns[fd] = undefined;
    this.outputs[fd] = null;
    this.size--;
    return output;
  }

  /** A snapshot, in fd order. */
  list(): Connection[] {
    const out: Connection[] = [];
    for (const conn of this.conns) if (conn !== undefined) out.push(conn);
    return out;
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
  // TLS options are checked and the context made here, once, so a bad key throws now.
  return new Server(options, handler, listenTlsSetup(options));
}
