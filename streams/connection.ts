/**
 * A TCP or Unix stream connection on the reactor's native data path.
 *
 * Reads happen natively on readiness, into the reactor's arena, and arrive
 * with the event in the reactor's single per-wakeup call into JavaScript.
 * Writes are queued and flushed once per connection at the end of the batch
 * (one writev for everything written while the batch was dispatched); what
 * the kernel does not take waits for writability.
 */
import * as fs from 'node:fs';
import { Observable, type Subscriber } from 'rxjs';
import { native } from '../reactor/binding';
import { errnoException, rxnetError, EAGAIN } from '../reactor/errors';
import { Reactor, Interest, Ready, copyOut, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateBytes, validateInteger } from '../reactor/validate';

const NOT_READ = Reactor.NOT_READ;
const MAX_IOV = 1024;

/** Per-connection limits and socket options. */
export interface ConnectionOptions {
  /** `write()` returns false once this many bytes are queued (default 64 KiB). */
  highWaterMark?: number;
  /**
   * Hard cap on queued bytes (default 64 MiB). Past it the connection is
   * closed with `ERR_RXNET_MAX_BUFFERED_BYTES` instead of growing memory.
   */
  maxBufferedBytes?: number;
}

/** How a connection ended. */
export interface CloseInfo {
  hadError: boolean;
  error?: Error;
}

/** Counters a server aggregates over its connections. @internal */
export interface TrafficCounters {
  bytesIn: number;
  bytesOut: number;
}

interface FileSend {
  fd: number;
  owned: boolean;
  offset: number;
  remaining: number;
  sent: number;
  resolve: (sent: number) => void;
  reject: (err: Error) => void;
}

type Queued = Uint8Array | FileSend;

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

  private registration: Registration | null;
  private interest = 0;
  private dataSubscriber: Subscriber<Buffer> | null = null;
  private unclaimed: Buffer[] | null = null;
  private drainSubscribers: Subscriber<void>[] | null = null;
  private closeSubscribers: Subscriber<CloseInfo>[] | null = null;
  private closeInfo: CloseInfo | null = null;
  private queue: Queued[] = [];
  private queued = 0;
  private needDrain = false;
  private flushScheduled = false;
  private wantWritable = false;
  private userPaused = false;
  private pressurePaused = false;
  private readEnded = false;
  private writeEnded = false;
  private finSent = false;
  private endedByServer = false;
  private connectCallback: ((err: Error | null) => void) | null = null;
  private remoteCache: sys.SocketAddress | undefined;
  private localCache: sys.SocketAddress | undefined;
  /** Chunks received / the received count when output was last written: in flight while they differ. @internal */
  readSeq = 0;
  /** @internal */
  answeredSeq = 0;
  /** Bumped on every read and write; the idle sweeper compares it between sweeps. @internal */
  activity = 0;
  /** Total bytes received and sent. */
  bytesRead = 0;
  bytesWritten = 0;
  /** @internal */
  counters: TrafficCounters | null = null;
  /** @internal Called once, after the fd is closed. */
  onClosed: ((conn: Connection) => void) | null = null;

  /** @internal Use listen(), serve() or connect(). */
  constructor(fd: number, reactor: Reactor, options: ConnectionOptions = {}, connecting?: (err: Error | null) => void) {
    const limits = connectionLimits(options);
    this.fd = fd;
    this.reactor = reactor;
    this.highWaterMark = limits.highWaterMark;
    this.maxBufferedBytes = limits.maxBufferedBytes;
    if (connecting) {
      this.connectCallback = connecting;
      this.interest = Interest.Writable;
    }
    this.registration = reactor.register(fd, this.interest, this.onReady, { read: true, owned: true });
  }

  /**
   * The bytes the peer sends, as they arrive. Unicast: one subscriber at a
   * time. Nothing is read before it is subscribed, so nothing is lost.
   * Completes on the peer's FIN; errors on a reset or other read error.
   * Chunks are the subscriber's to keep.
   */
  get data$(): Observable<Buffer> {
    return new Observable<Buffer>((subscriber) => {
      if (this.dataSubscriber !== null) {
        subscriber.error(rxnetError(Error, 'ERR_RXNET_ALREADY_SUBSCRIBED', 'data$ is unicast and already has a subscriber'));
        return;
      }
      const unclaimed = this.unclaimed;
      this.unclaimed = null;
      if (unclaimed !== null) for (const chunk of unclaimed) subscriber.next(chunk);
      if (subscriber.closed) return;
      if (this.closeInfo !== null || this.readEnded) {
        if (this.closeInfo?.error) subscriber.error(this.closeInfo.error);
        else subscriber.complete();
        return;
      }
      this.dataSubscriber = subscriber;
      this.updateInterest();
      return () => {
        if (this.dataSubscriber === subscriber) {
          this.dataSubscriber = null;
          this.updateInterest();
        }
      };
    });
  }

  /** Emits each time the write queue empties after `write()` returned false. */
  get drain$(): Observable<void> {
    return new Observable<void>((subscriber) => {
      if (this.closeInfo !== null) {
        subscriber.complete();
        return;
      }
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
        subscriber.complete();
        return;
      }
      (this.closeSubscribers ??= []).push(subscriber);
      return () => {
        if (this.closeSubscribers) this.closeSubscribers = this.closeSubscribers.filter((s) => s !== subscriber);
      };
    });
  }

  /** Bytes queued and not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.queued;
  }

  /** True once the fd is closed. */
  get closed(): boolean {
    return this.closeInfo !== null;
  }

  /** True after pause() until resume(). */
  get isPaused(): boolean {
    return this.userPaused;
  }

  /** The peer's address. */
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
    if (this.writeEnded) {
      // A graceful shutdown ended this connection on the server's own
      // initiative: late output is dropped like output to a closed
      // connection, not thrown into whoever happens to be writing.
      if (this.endedByServer) return false;
      throw rxnetError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end');
    }
    if (this.closeInfo !== null) return false;
    this.answeredSeq = this.readSeq;
    if (bytes.byteLength === 0) return this.queued < this.highWaterMark;
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    // Over the cap: the batch-end flush has not run yet, so first let the
    // kernel take what it can now. Only a peer that really is not reading
    // (or a handler ignoring write()'s false) gets the connection closed.
    if (this.queued > this.maxBufferedBytes && !this.wantWritable) this.flushNow();
    if (this.queued > this.maxBufferedBytes) {
      this.destroy(
        rxnetError(
          Error,
          'ERR_RXNET_MAX_BUFFERED_BYTES',
          `Connection closed: ${this.queued} bytes queued for writing exceed maxBufferedBytes (${this.maxBufferedBytes}); the peer is not reading`,
        ),
      );
      return false;
    }
    this.scheduleFlush();
    if (this.queued >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Half-closes: sends FIN once everything queued has been written. The peer
   * can still send, and `data$` keeps delivering until its FIN.
   */
  end(chunk?: Uint8Array | string): void {
    if (this.writeEnded || this.closeInfo !== null) return;
    if (chunk !== undefined) this.write(chunk);
    this.writeEnded = true;
    this.scheduleFlush();
  }

  /**
   * Closes now: deregisters and closes the fd. Bytes still queued in rxnet are
   * dropped; bytes the kernel already took are delivered before its FIN.
   */
  close(): void {
    this.finish(null);
  }

  /** Aborts with a TCP RST (SO_LINGER 0), dropping anything queued. */
  reset(): void {
    if (this.closeInfo !== null) return;
    native.setsockopt(this.fd, 'SO_LINGER', 0);
    this.finish(null);
  }

  /** Half-closes on behalf of a server shutdown: later writes return false instead of throwing. @internal */
  endByServer(): void {
    if (this.writeEnded || this.closeInfo !== null) return;
    this.endedByServer = true;
    this.end();
  }

  /** Closes with an error, which `data$` (if subscribed) and `closed$` report. @internal */
  destroy(error: Error): void {
    this.finish(error);
  }

  /** Stops reading: Readable interest is dropped, the kernel buffers and TCP flow control pushes back on the peer. */
  pause(): void {
    this.userPaused = true;
    this.updateInterest();
  }

  resume(): void {
    this.userPaused = false;
    this.updateInterest();
  }

  /** @internal */
  get pressured(): boolean {
    return this.pressurePaused;
  }

  /** Backpressure from serve(): pauses reading while output is above the high-water mark. @internal */
  setPressure(paused: boolean): void {
    if (this.pressurePaused === paused) return;
    this.pressurePaused = paused;
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
   * queued before and after it.
   * @param file a path (opened and closed here) or an open fd (left open).
   * @returns the bytes sent.
   */
  sendFile(file: string | number, options: { offset?: number; length?: number } = {}): Promise<number> {
    const offset = options.offset ?? 0;
    validateInteger(offset, 'options.offset', 0, Number.MAX_SAFE_INTEGER);
    if (options.length !== undefined) validateInteger(options.length, 'options.length', 0, Number.MAX_SAFE_INTEGER);
    if (this.writeEnded) return Promise.reject(rxnetError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end'));
    if (this.closeInfo !== null) return Promise.reject(rxnetError(Error, 'ERR_RXNET_CLOSED', 'The connection is closed'));
    let fd: number;
    let owned = false;
    if (typeof file === 'number') {
      fd = file;
    } else {
      fd = fs.openSync(file, 'r');
      owned = true;
    }
    let length = options.length;
    if (length === undefined) {
      try {
        length = Math.max(0, fs.fstatSync(fd).size - offset);
      } catch (err) {
        if (owned) fs.closeSync(fd);
        return Promise.reject(err);
      }
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ fd, owned, offset, remaining: length, sent: 0, resolve, reject });
      this.answeredSeq = this.readSeq;
      this.scheduleFlush();
    });
  }

  /** In flight: input arrived after the last output, or output is still queued. @internal */
  get busy(): boolean {
    return this.queue.length > 0 || this.readSeq !== this.answeredSeq;
  }

  /** True while `data$` has a subscriber. @internal */
  get hasReader(): boolean {
    return this.dataSubscriber !== null;
  }

  /** True once end() was called (by you, or by a server's graceful shutdown). */
  get writableEnded(): boolean {
    return this.writeEnded;
  }

  // ---- the data path -------------------------------------------------------

  private readonly onReady = (events: number, length: number, offset: number): void => {
    if (this.connectCallback !== null) {
      this.onConnectReady(events);
      return;
    }
    if (length > 0) {
      this.readSeq++;
      this.activity++;
      this.bytesRead += length;
      if (this.counters !== null) this.counters.bytesIn += length;
      // Copy out of the arena: the chunk is the subscriber's to keep.
      const chunk = copyOut(this.reactor, offset, length);
      const subscriber = this.dataSubscriber;
      // Read in this batch after data$ was unsubscribed earlier in it: keep it for the next subscriber.
      if (subscriber !== null) subscriber.next(chunk);
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
      this.destroy(sys.socketError(this.fd, 'read') ?? errnoException(-104, 'read'));
    } else if (events & Ready.Hangup && !(this.interest & Interest.Readable) && !this.wantWritable) {
      // A full hangup is level-triggered and reported whatever the interest:
      // while nobody reads, stop watching instead of waking on it forever.
      // Reading again (resume, a new data$ subscriber) registers anew.
      this.detach();
    }
  };

  private onConnectReady(events: number): void {
    const callback = this.connectCallback!;
    const error = sys.socketError(this.fd, 'connect');
    if (error === null && !(events & (Ready.Writable | Ready.Error | Ready.Hangup))) return;
    this.connectCallback = null;
    if (error === null) {
      this.interest = -1; // force the next update to apply
      this.updateInterest();
    }
    callback(error);
  }

  private onEof(): void {
    this.readEnded = true;
    const subscriber = this.dataSubscriber;
    this.dataSubscriber = null;
    this.updateInterest();
    if (subscriber !== null) subscriber.complete();
    this.maybeFinish();
  }

  private updateInterest(): void {
    if (this.closeInfo !== null || this.connectCallback !== null) return;
    const reading = this.dataSubscriber !== null && !this.userPaused && !this.pressurePaused && !this.readEnded;
    const interest = (reading ? Interest.Readable : 0) | (this.wantWritable ? Interest.Writable : 0);
    if (interest === this.interest) return;
    this.interest = interest;
    if (this.registration === null) {
      if (interest !== 0) this.registration = this.reactor.register(this.fd, interest, this.onReady, { read: true, owned: true });
      return;
    }
    this.registration.update(interest);
  }

  private detach(): void {
    if (this.registration !== null) {
      this.registration.close();
      this.registration = null;
    }
    this.interest = 0;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.wantWritable || this.closeInfo !== null) return;
    this.flushScheduled = true;
    this.reactor.atBatchEnd(this.flushHook);
  }

  private readonly flushHook = (): void => {
    this.flushScheduled = false;
    if (!this.wantWritable && this.closeInfo === null) this.flushNow();
  };

  private flushNow(): void {
    const queue = this.queue;
    while (queue.length > 0) {
      const head = queue[0];
      if (!(head instanceof Uint8Array)) {
        if (!this.sendFileStep(head)) break;
        continue;
      }
      let attempted: number;
      let r: number;
      if (queue.length === 1 || !(queue[1] instanceof Uint8Array)) {
        attempted = head.byteLength;
        r = native.write(this.fd, head, 0, attempted);
      } else {
        const chunks: Uint8Array[] = [];
        attempted = 0;
        for (let i = 0; i < queue.length && i < MAX_IOV; i++) {
          const q = queue[i];
          if (!(q instanceof Uint8Array)) break;
          chunks.push(q);
          attempted += q.byteLength;
        }
        r = native.writev(this.fd, chunks);
      }
      if (r < 0) {
        if (r === EAGAIN) break;
        this.destroy(errnoException(r, 'write'));
        return;
      }
      this.consume(r);
      if (r < attempted) break;
    }
    const blocked = queue.length > 0;
    if (blocked !== this.wantWritable) {
      this.wantWritable = blocked;
      this.updateInterest();
    }
    if (blocked) return;
    if (this.needDrain) {
      this.needDrain = false;
      const subscribers = this.drainSubscribers;
      if (subscribers !== null) for (const s of [...subscribers]) s.next();
    }
    // A drain$ subscriber may have written more (and ended): the FIN waits for that too.
    if (this.writeEnded && !this.finSent && this.closeInfo === null && this.queue.length === 0) {
      this.finSent = true;
      native.shutdown(this.fd, native.constants.SHUT_WR);
      this.maybeFinish();
    }
  }

  private consume(n: number): void {
    this.activity++;
    this.queued -= n;
    this.bytesWritten += n;
    if (this.counters !== null) this.counters.bytesOut += n;
    const queue = this.queue;
    let i = 0;
    while (n > 0) {
      const head = queue[i] as Uint8Array;
      if (n >= head.byteLength) {
        n -= head.byteLength;
        i++;
      } else {
        queue[i] = head.subarray(n);
        n = 0;
      }
    }
    if (i > 0) queue.splice(0, i);
  }

  /** @returns true if the file is done (or failed) and the queue can move on. */
  private sendFileStep(f: FileSend): boolean {
    while (f.remaining > 0) {
      const r = native.sendfile(this.fd, f.fd, f.offset, Math.min(f.remaining, 0x7ffff000));
      if (r === EAGAIN) return false;
      if (r < 0) {
        const error = errnoException(r, 'sendfile');
        this.queue.shift();
        this.settleFile(f, error);
        this.destroy(error);
        return true;
      }
      if (r === 0) break; // the file is shorter than asked: send what there is
      f.offset += r;
      f.remaining -= r;
      f.sent += r;
      this.activity++;
      this.bytesWritten += r;
      if (this.counters !== null) this.counters.bytesOut += r;
    }
    this.queue.shift();
    this.settleFile(f, null);
    return true;
  }

  private settleFile(f: FileSend, error: Error | null): void {
    if (f.owned) fs.closeSync(f.fd);
    if (error) f.reject(error);
    else f.resolve(f.sent);
  }

  private maybeFinish(): void {
    if (this.readEnded && this.finSent) this.finish(null);
  }

  private finish(error: Error | null): void {
    if (this.closeInfo !== null) return;
    this.closeInfo = error ? { hadError: true, error } : { hadError: false };
    if (this.registration !== null) this.registration.close();
    this.registration = null;
    native.close(this.fd);
    const pending = this.queue;
    this.queue = [];
    this.queued = 0;
    for (const q of pending) {
      if (!(q instanceof Uint8Array)) this.settleFile(q, error ?? rxnetError(Error, 'ERR_RXNET_CLOSED', 'The connection closed before the file was sent'));
    }
    const connect = this.connectCallback;
    this.connectCallback = null;
    if (connect) connect(error ?? rxnetError(Error, 'ERR_RXNET_CLOSED', 'The connection closed while connecting'));
    const data = this.dataSubscriber;
    this.dataSubscriber = null;
    if (data !== null) {
      if (error) data.error(error);
      else data.complete();
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
    this.onClosed?.(this);
  }
}
