/**
 * A TCP or Unix stream connection on the reactor's native data path.
 *
 * Reads happen natively on readiness, into the reactor's arena, and arrive
 * with the event in the reactor's single per-wakeup call into JavaScript.
 * Writes are queued (writeQueue.ts) and flushed once per connection at the
 * end of the batch (one writev for everything written while the batch was
 * dispatched); what the kernel does not take waits for writability.
 */
import type { AsyncScope } from '../reactor/asyncScope';
import { Observable, Subscriber } from 'rxjs';
import { errnoException, rxnetError, ECONNRESET } from '../reactor/errors';
import * as io from '../reactor/io';
import { Reactor, Interest, Ready, copyOut, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateBytes, validateInteger } from '../reactor/validate';
import type { TlsInfo, TlsSession } from './tls';
import type { ProxyHeader } from './proxyProtocol';
import { socketCloseChannel } from './diagnostics';
import { WriteQueue } from './writeQueue';

const NOT_READ = Reactor.NOT_READ;

/** Per-connection limits. */
export interface ConnectionOptions {
  /** `write()` returns false once this many bytes are queued (default 64 KiB). */
  highWaterMark?: number;
  /**
   * Cap on bytes queued for writing (default 64 MiB). A write made while the
   * queue is already at the cap, once the kernel has taken what it can,
   * resets the connection (RST) with `ERR_RXNET_MAX_BUFFERED_BYTES` instead
   * of growing memory. One write larger than the cap is accepted.
   */
  maxBufferedBytes?: number;
}

/** How a connection ended. */
export interface CloseInfo {
  hadError: boolean;
  error?: Error;
}

/** Who is told when a connection closes (serve()'s server). @internal */
export interface ConnectionOwner {
  connectionClosed(conn: Connection, info: CloseInfo): void;
}

const DEFAULT_HWM = 64 * 1024;
const DEFAULT_MAX_BUFFERED = 64 * 1024 * 1024;

/** @internal */
export function connectionLimits(options: ConnectionOptions, name = 'options'): Required<ConnectionOptions> {
  const highWaterMark = options.highWaterMark ?? DEFAULT_HWM;
  validateInteger(highWaterMark, `${name}.highWaterMark`, 1, 2 ** 31 - 1);
  const maxBufferedBytes = options.maxBufferedBytes ?? Math.max(DEFAULT_MAX_BUFFERED, highWaterMark);
  validateInteger(maxBufferedBytes, `${name}.maxBufferedBytes`, highWaterMark, Number.MAX_SAFE_INTEGER);
  return { highWaterMark, maxBufferedBytes };
}

// State bits, one number instead of eight booleans per connection.
const USER_PAUSED = 1;
const READ_ENDED = 2;
const WRITE_ENDED = 4;
const FIN_SENT = 8;
const ENDED_BY_SERVER = 16; // later writes are dropped, not thrown
const NEED_DRAIN = 32;
const FLUSH_SCHEDULED = 64;
const WANT_WRITABLE = 128;
const DISCARD_CHECK = 256; // at the batch's end: discard input if nobody reads

/**
 * One stream connection.
 *
 * @example
 * conn.data$.subscribe({
 *   next: (chunk) => { if (!conn.write(chunk)) conn.pause(); },
 *   complete: () => conn.end(),
 * });
 * conn.drain$.subscribe(() => conn.resume());
 */
export class Connection {
  /** The socket's descriptor; owned by this connection until it closes. */
  readonly fd: number;
  readonly reactor: Reactor;
  readonly highWaterMark: number;
  readonly maxBufferedBytes: number;
  /** Total bytes received and sent (sent: taken by the kernel). */
  bytesRead = 0;
  bytesWritten = 0;
  /** @internal */
  owner: ConnectionOwner | null = null;
  /**
   * The async context its callbacks run in: its listener's (the serve() or
   * listen() subscription) or its connect() subscription's. @internal
   */
  readonly asyncContext: AsyncScope | null;

  private registration: Registration | null;
  private interest = 0;
  private state = 0;
  // Pauses held by the stream layer's own backpressure (serve, pipeTo,
  // toDuplex), each source counted once; reading waits until all are gone.
  private holds = 0;
  // bytesRead when output was last written: input after it is unanswered.
  private readMark = 0;
  private reader: Subscriber<Buffer> | null = null;
  private unclaimed: Buffer[] | null = null;
  private out: WriteQueue | null = null;
  private drainSubscribers: Subscriber<void>[] | null = null;
  private closeSubscribers: Subscriber<CloseInfo>[] | null = null;
  private closeInfo: CloseInfo | null = null;
  private remoteCache: sys.SocketAddress | undefined;
  private proxyHeader: ProxyHeader | null = null;
  private localCache: sys.SocketAddress | undefined;
  // TLS (streams/tls.ts): the session reads and writes through the reactor's
  // TLS stage, and is the registration's target, translating its status bits.
  private readonly tlsSession: TlsSession | null;

  /**
   * @internal Use listen(), serve() or connect(). `registration` is one the
   * caller made for the fd already (connect()'s handshake); without it the
   * connection registers when it first has an interest, or at `register()`.
   */
  constructor(
    fd: number,
    reactor: Reactor,
    limits: Required<ConnectionOptions>,
    registration: Registration | null = null,
    tls: TlsSession | null = null,
    asyncContext: AsyncScope | null = registration?.context ?? null,
  ) {
    reactor.checkFdLimit(fd);
    this.fd = fd;
    this.asyncContext = asyncContext;
    this.reactor = reactor;
    this.highWaterMark = limits.highWaterMark;
    this.maxBufferedBytes = limits.maxBufferedBytes;
    this.registration = registration;
    this.tlsSession = tls;
    if (registration !== null) {
      registration.target = tls ?? this;
      this.interest = registration.interest;
      this.updateInterest();
    }
  }

  /**
   * The bytes the peer sends, as they arrive. Unicast: one subscriber at a
   * time. Nothing is read before it is subscribed, so nothing is lost.
   * Completes on the peer's FIN; errors on a reset or other read error.
   * Chunks are the subscriber's to keep.
   */
  get data$(): Observable<Buffer> {
    return new DataSource(this);
  }

  /** A data$ subscriber arrives: it becomes the reader, or errors if there is one. @internal */
  attachReader(subscriber: Subscriber<Buffer>): (() => void) | undefined {
    if (this.reader !== null) {
      subscriber.error(rxnetError(Error, 'ERR_RXNET_ALREADY_SUBSCRIBED', 'data$ is unicast and already has a subscriber'));
      return;
    }
    const unclaimed = this.unclaimed;
    this.unclaimed = null;
    if (unclaimed !== null) for (const chunk of unclaimed) subscriber.next(chunk);
    if (subscriber.closed) return;
    if (this.closeInfo !== null || this.state & READ_ENDED) {
      if (this.closeInfo?.error) subscriber.error(this.closeInfo.error);
      else subscriber.complete();
      return;
    }
    this.reader = subscriber;
    this.updateInterest();
    // The stream layer's own subscribers say themselves when they stop
    // reading: no teardown closure, and no finalizer array in rxjs, per
    // connection (memory per idle connection is a yardstick here).
    if (subscriber instanceof OwnReader) {
      subscriber.readingFrom = this;
      return;
    }
    return () => this.detachReader(subscriber);
  }

  /** The reader unsubscribed: stop reading unless somebody else took over. @internal */
  detachReader(subscriber: Subscriber<Buffer>): void {
    if (this.reader === subscriber) {
      this.reader = null;
      this.updateInterest();
    }
  }

  /** Emits each time the write queue empties after `write()` returned false. */
  get drain$(): Observable<void> {
    return new Observable<void>((subscriber) => {
      if (this.closeInfo !== null) return subscriber.complete();
      (this.drainSubscribers ??= []).push(subscriber);
      return () => {
        if (this.drainSubscribers) this.drainSubscribers = this.drainSubscribers.filter((s) => s !== subscriber);
      };
    });
  }

  /** Emits once, when the connection has closed, then completes; late subscribers get it too. */
  get closed$(): Observable<CloseInfo> {
    return new Observable<CloseInfo>((subscriber) => {
      if (this.closeInfo !== null) {
        subscriber.next(this.closeInfo);
        return subscriber.complete();
      }
      (this.closeSubscribers ??= []).push(subscriber);
      return () => {
        if (this.closeSubscribers) this.closeSubscribers = this.closeSubscribers.filter((s) => s !== subscriber);
      };
    });
  }

  /** Bytes queued and not yet taken by the kernel, including the unsent part of files given to sendFile(). */
  get bufferedAmount(): number {
    return this.out === null ? 0 : this.out.size;
  }

  /** What the TLS handshake agreed (protocol, cipher, ALPN, SNI, the peer's certificate); null for plain TCP. */
  get tls(): TlsInfo | null {
    return this.tlsSession?.info ?? null;
  }

  /** True once the fd is closed. */
  get closed(): boolean {
    return this.closeInfo !== null;
  }

  /** True after pause() until resume(). */
  get isPaused(): boolean {
    return (this.state & USER_PAUSED) !== 0;
  }

  /**
   * True while bytes are being read: `data$` has a subscriber, the peer has
   * not ended, and nothing holds reading paused: neither pause() nor the
   * stream layer's backpressure (serve(), pipeTo(), toDuplex() while their
   * destination is full).
   */
  get flowing(): boolean {
    return this.reader !== null && this.holds === 0 && !(this.state & (USER_PAUSED | READ_ENDED)) && this.closeInfo === null;
  }

  /** True once end() was called (by you, or by a server's graceful shutdown). */
  get writableEnded(): boolean {
    return (this.state & WRITE_ENDED) !== 0;
  }

  /**
   * The PROXY protocol header this connection arrived with (listen/serve
   * with `proxyProtocol`): command, family, addresses, TLVs. Null otherwise.
   */
  get proxy(): ProxyHeader | null {
    return this.proxyHeader;
  }

  /**
   * The peer's address; behind a load balancer that sent a PROXY header
   * (see `proxy`), the original client's.
   */
  get remote(): sys.SocketAddress {
    return (this.remoteCache ??= sys.getpeername(this.fd));
  }

  /** This end's address. */
  get local(): sys.SocketAddress {
    return (this.localCache ??= sys.getsockname(this.fd));
  }

  /**
   * Queues bytes (strings are UTF-8 unless `encoding` says otherwise).
   * @returns false once `bufferedAmount` reaches `highWaterMark`: wait for
   *   `drain$` before writing more.
   * @throws ERR_STREAM_WRITE_AFTER_END after end().
   */
  write(chunk: Uint8Array | string, encoding?: BufferEncoding): boolean {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk;
    if (typeof chunk !== 'string') validateBytes(chunk, 'chunk');
    if (this.state & WRITE_ENDED) {
      // A graceful shutdown ended this connection on the server's own
      // initiative: late output is dropped like output to a closed
      // connection, not thrown into whoever happens to be writing.
      if (this.state & ENDED_BY_SERVER) return false;
      throw rxnetError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end');
    }
    if (this.closeInfo !== null) return false;
    this.readMark = this.bytesRead;
    const out = (this.out ??= this.newQueue());
    if (bytes.byteLength === 0) return out.size < this.highWaterMark;
    // The cap is on what stays queued: a producer that writes on while the
    // queue is already at the cap, after the kernel has taken what it can,
    // is ignoring backpressure, and the peer gets a reset rather than a
    // response that looks complete and is not.
    if (out.size >= this.maxBufferedBytes) {
      if (!(this.state & WANT_WRITABLE)) this.flushNow();
      if (out.size >= this.maxBufferedBytes) {
        this.destroy(
          rxnetError(
            Error,
            'ERR_RXNET_MAX_BUFFERED_BYTES',
            `Connection reset: ${out.size} bytes queued for writing reached maxBufferedBytes (${this.maxBufferedBytes}) and more were written; the peer is not reading, or the output ignores backpressure`,
          ),
        );
        return false;
      }
    }
    out.push(bytes);
    this.scheduleFlush();
    if (out.size >= this.highWaterMark) {
      this.state |= NEED_DRAIN;
      return false;
    }
    return true;
  }

  /**
   * Half-closes: sends FIN once everything queued has been written (TLS:
   * close_notify, then FIN). The peer can still send, and `data$` keeps
   * delivering until its FIN (or close_notify).
   */
  end(chunk?: Uint8Array | string): void {
    if (this.state & WRITE_ENDED || this.closeInfo !== null) return;
    if (chunk !== undefined) this.write(chunk);
    this.state |= WRITE_ENDED;
    if (this.tlsSession !== null) (this.out ??= this.newQueue()).end();
    this.scheduleFlush();
  }

  /**
   * Closes now: deregisters and closes the fd. If output was still queued in
   * rxnet, it is dropped and the peer gets a reset (RST), never a FIN that
   * would make a cut-off response look complete; otherwise a FIN follows
   * what the kernel holds.
   */
  close(): void {
    this.finish(null);
  }

  /** Aborts with a TCP RST (SO_LINGER 0), dropping anything queued. */
  reset(): void {
    if (this.closeInfo !== null) return;
    io.lingerZero(this.fd);
    this.finish(null);
  }

  /** Closes with an error, which `data$` (if subscribed) and `closed$` report. @internal */
  destroy(error: Error): void {
    this.finish(error);
  }

  /** Stops reading: Readable interest is dropped, the kernel buffers and TCP flow control pushes back on the peer. */
  pause(): void {
    this.state |= USER_PAUSED;
    this.updateInterest();
  }

  resume(): void {
    this.state &= ~USER_PAUSED;
    this.updateInterest();
  }

  setNoDelay(noDelay = true): this {
    if (this.closeInfo === null) sys.setsockopt(this.fd, 'TCP_NODELAY', noDelay);
    return this;
  }

  setKeepAlive(enable = true): this {
    if (this.closeInfo === null) sys.setsockopt(this.fd, 'SO_KEEPALIVE', enable);
    return this;
  }

  /**
   * Sends a file's bytes with sendfile(2) (zero-copy), in order with writes
   * queued before and after it. Its unsent bytes count in `bufferedAmount`.
   * @param file a path (opened and closed here) or an open fd (left open).
   * @returns the bytes sent.
   */
  sendFile(file: string | number, options: { offset?: number; length?: number } = {}): Promise<number> {
    const offset = options.offset ?? 0;
    validateInteger(offset, 'options.offset', 0, Number.MAX_SAFE_INTEGER);
    if (options.length !== undefined) validateInteger(options.length, 'options.length', 0, Number.MAX_SAFE_INTEGER);
    if (this.state & WRITE_ENDED) return Promise.reject(rxnetError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end'));
    if (this.closeInfo !== null) return Promise.reject(rxnetError(Error, 'ERR_RXNET_CLOSED', 'The connection is closed'));
    const sent = (this.out ??= this.newQueue()).pushFileFrom(file, offset, options.length);
    this.readMark = this.bytesRead;
    this.scheduleFlush();
    return sent;
  }

  /**
   * Resolves once everything queued so far (writes and files) has been taken
   * by the kernel: now, if nothing is queued. Rejects with ERR_RXNET_CLOSED
   * if the connection closes first. Unlike sendFile() it works after end(),
   * e.g. to start a lingering close only once the last byte has left.
   */
  flushed(): Promise<void> {
    if (this.closeInfo !== null) return Promise.reject(rxnetError(Error, 'ERR_RXNET_CLOSED', 'The connection is closed'));
    const out = this.out;
    if (out === null || out.empty) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      // A file of no bytes settles exactly when the queue reaches it.
      out.pushFile({ fd: -1, owned: false, offset: 0, remaining: 0, sent: 0, resolve: () => resolve(), reject });
    });
  }

  // ---- for the stream layer (serve, pipeTo, toDuplex) -------------------------

  /** Records the PROXY header; a PROXY command with addresses makes its source the remote. @internal */
  setProxyHeader(header: ProxyHeader): void {
    this.proxyHeader = header;
    if (header.command === 'PROXY' && header.source !== null) this.remoteCache = header.source;
  }

  /**
   * Ends an internal first reader's turn (the PROXY header stage) and runs
   * `next` (which hands the connection to its handler); `rest`, the bytes
   * after the header, go first to the next data$ subscriber. The interest is
   * settled only after `next`, so a handler that subscribes at once keeps
   * reading without an epoll_ctl in between. @internal
   */
  handOver(rest: Buffer | null, next: () => void): void {
    this.reader = null;
    if (rest !== null) (this.unclaimed ??= []).push(rest);
    try {
      next();
    } finally {
      this.updateInterest();
    }
  }

  /** Registers with no interest if nothing has yet, so an idle connection keeps the process alive. @internal */
  register(): void {
    if (this.registration === null && this.closeInfo === null) {
      const tls = this.tlsSession;
      this.registration = this.reactor.register(this.fd, this.interest, tls ?? this, { read: true, tls: tls !== null, owned: true, context: this.asyncContext });
    }
  }

  /** Flushes at the end of this batch even with nothing queued here: the TLS stage has ciphertext of its own waiting. @internal */
  flushSoon(): void {
    if (this.closeInfo !== null) return;
    this.out ??= this.newQueue();
    this.scheduleFlush();
  }

  /** Holds reading paused for one more source of backpressure. @internal */
  hold(): void {
    if (this.holds++ === 0) this.updateInterest();
  }

  /** Releases one hold(). @internal */
  release(): void {
    if (--this.holds === 0) this.updateInterest();
  }

  /** In flight: output is queued, or input arrived after the last output. @internal */
  get inFlight(): boolean {
    return this.bufferedAmount > 0 || this.bytesRead !== this.readMark;
  }

  /** Bumped by every byte read or sent; an idle sweeper compares it between sweeps. @internal */
  get activity(): number {
    return this.bytesRead + this.bytesWritten;
  }

  /** Half-closes on behalf of a server shutdown: later writes return false instead of throwing. @internal */
  endByServer(): void {
    if (this.state & WRITE_ENDED || this.closeInfo !== null) return;
    this.state |= ENDED_BY_SERVER;
    this.end();
  }

  /**
   * Hands what is queued to the kernel now rather than at the batch's end,
   * as far as it takes it: toDuplex()'s destroy() after a last write (a
   * node:http error response) then closes with a FIN, not a reset. @internal
   */
  flushQueued(): void {
    if (this.closeInfo === null && !(this.state & WANT_WRITABLE)) this.flushNow();
  }

  /** If nobody reads, reads and discards the rest so the peer's FIN is seen and the connection can close. @internal */
  discardInput(): void {
    if (this.closeInfo === null && this.reader === null && !(this.state & READ_ENDED)) this.data$.subscribe({ error: () => {} });
  }

  /**
   * discardInput() at the end of this batch (on a microtask outside one):
   * an output that completes while still subscribed to data$ (take,
   * takeWhile) unsubscribes right after. Rides on the batch's end the
   * connection has scheduled for its FIN anyway, where queueMicrotask made
   * an AsyncResource and a bound function per connection. @internal
   */
  discardInputSoon(): void {
    if (this.closeInfo !== null || this.state & READ_ENDED) return;
    this.state |= DISCARD_CHECK;
    this.scheduleBatchEnd();
  }

  // ---- the data path -------------------------------------------------------

  /** @internal */
  onReady(events: number, length: number, offset: number): void {
    if (length > 0) {
      this.bytesRead += length;
      // Copy out of the arena: the chunk is the subscriber's to keep.
      const chunk = copyOut(this.reactor, offset, length);
      const reader = this.reader;
      // Read in this batch after data$ was unsubscribed earlier in it: keep it for the next subscriber.
      if (reader !== null) reader.next(chunk);
      else (this.unclaimed ??= []).push(chunk);
    } else if (length === 0) {
      this.onEof();
    } else if (length !== NOT_READ) {
      this.destroy(errnoException(length, 'read'));
      return;
    }
    if (this.closeInfo !== null) return;
    if (events & Ready.Writable) this.flushNow();
    if (this.closeInfo !== null) return;
    if (events & Ready.Error && length === NOT_READ) {
      this.destroy(sys.socketError(this.fd, 'read') ?? errnoException(ECONNRESET, 'read'));
    } else if (events & Ready.Hangup && !(this.interest & Interest.Readable) && !(this.state & WANT_WRITABLE)) {
      // A full hangup is level-triggered and reported whatever the interest:
      // while nobody reads, stop watching instead of waking on it forever.
      // Reading again (resume, a new data$ subscriber) registers anew.
      this.registration?.close();
      this.registration = null;
      this.interest = 0;
    }
  }

  /** @internal */
  onBatchEnd(): void {
    this.state &= ~FLUSH_SCHEDULED;
    if (this.closeInfo !== null) return;
    if (!(this.state & WANT_WRITABLE)) this.flushNow();
    if (this.state & DISCARD_CHECK) {
      this.state &= ~DISCARD_CHECK;
      this.discardInput();
    }
    this.updateInterest();
  }

  private onEof(): void {
    this.state |= READ_ENDED;
    const reader = this.reader;
    this.reader = null;
    if (reader !== null) reader.complete();
    this.maybeFinish();
    // Dropping Readable interest waits for the batch's end: a connection
    // that ends its side in reply (an echo, a request/response protocol)
    // closes by then, and its registration goes without a modify first.
    if (this.closeInfo === null) this.scheduleBatchEnd();
  }

  private updateInterest(): void {
    if (this.closeInfo !== null) return;
    const interest = (this.flowing ? Interest.Readable : 0) | (this.state & WANT_WRITABLE ? Interest.Writable : 0);
    if (interest === this.interest) return;
    this.interest = interest;
    if (this.registration === null) {
      if (interest !== 0) this.register();
      return;
    }
    this.registration.update(interest);
  }

  private newQueue(): WriteQueue {
    return this.tlsSession !== null ? this.tlsSession.newQueue() : new WriteQueue();
  }

  private scheduleFlush(): void {
    if (this.state & WANT_WRITABLE) return;
    this.scheduleBatchEnd();
  }

  private scheduleBatchEnd(): void {
    if (this.state & FLUSH_SCHEDULED || this.closeInfo !== null) return;
    this.state |= FLUSH_SCHEDULED;
    this.reactor.atBatchEnd(this);
  }

  private flushNow(): void {
    const out = this.out;
    if (out !== null && !out.empty) {
      const sent = out.flush(this.fd, this.reactor.io);
      if (typeof sent !== 'number') return this.destroy(sent);
      this.bytesWritten += sent;
    }
    const blocked = out !== null && !out.empty;
    if (blocked !== ((this.state & WANT_WRITABLE) !== 0)) {
      this.state ^= WANT_WRITABLE;
      this.updateInterest();
    }
    if (blocked) return;
    if (this.state & NEED_DRAIN) {
      this.state &= ~NEED_DRAIN;
      const subscribers = this.drainSubscribers;
      if (subscribers !== null) for (const s of [...subscribers]) s.next();
    }
    // A drain$ subscriber may have written more (and ended): the FIN waits for
    // that too, and for anything else the queue still holds (TLS: close_notify).
    if ((this.state & (WRITE_ENDED | FIN_SENT)) === WRITE_ENDED && this.closeInfo === null && (this.out === null || this.out.empty)) {
      this.state |= FIN_SENT;
      // Both sides done: close() sends the FIN itself, one syscall fewer.
      if (this.state & READ_ENDED) return this.finish(null);
      this.reactor.io.shutdownWrite(this.fd);
    }
  }

  private maybeFinish(): void {
    if ((this.state & (READ_ENDED | FIN_SENT)) === (READ_ENDED | FIN_SENT)) this.finish(null);
  }

  private finish(error: Error | null): void {
    if (this.closeInfo !== null) return;
    this.closeInfo = error ? { hadError: true, error } : { hadError: false };
    this.registration?.close();
    this.registration = null;
    const out = this.out;
    // Output the peer will not receive whole ends with RST, never FIN.
    if (out !== null && !out.empty) io.lingerZero(this.fd);
    this.tlsSession?.detach();
    this.reactor.io.close(this.fd);
    out?.clear(error);
    const reader = this.reader;
    this.reader = null;
    if (reader !== null) {
      if (error) reader.error(error);
      else reader.complete();
    }
    const drains = this.drainSubscribers;
    this.drainSubscribers = null;
    if (drains) for (const s of drains) s.complete();
    const closes = this.closeSubscribers;
    this.closeSubscribers = null;
    if (closes) {
      for (const s of closes) {
        s.next(this.closeInfo);
        s.complete();
      }
    }
    this.owner?.connectionClosed(this, this.closeInfo);
    if (socketCloseChannel.hasSubscribers) socketCloseChannel.publish(error ? { socket: this, error } : { socket: this });
  }
}

/** data$: an Observable subclass rather than a subscribe closure, one object per access. */
class DataSource extends Observable<Buffer> {
  constructor(private readonly conn: Connection) {
    super();
  }

  /** @internal */
  _subscribe(subscriber: Subscriber<Buffer>): (() => void) | undefined {
    return this.conn.attachReader(subscriber);
  }
}

/**
 * A Subscriber of the stream layer's own (serve()'s output writer) that, as
 * data$'s direct subscriber, tells the connection itself when it stops
 * reading, so subscribing adds nothing to it. @internal
 */
export abstract class OwnReader<T> extends Subscriber<T> {
  /** The connection this reads from directly, if any. @internal */
  readingFrom: Connection | null = null;

  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    const conn = this.readingFrom;
    if (conn !== null) {
      this.readingFrom = null;
      conn.detachReader(this as unknown as Subscriber<Buffer>);
    }
  }
}
