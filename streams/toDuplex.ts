import { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import { validateInteger } from '../reactor/validate';
import type { Connection } from './connection';

/** Options of {@link toDuplex}. */
export interface ToDuplexOptions {
  /**
   * As `net.Socket`'s: false (the default) ends the writable side once the
   * peer's FIN has been read, so a protocol that does not end its side itself
   * (node:tls, node:http) still closes the connection when the peer leaves.
   */
  allowHalfOpen?: boolean;
}

/**
 * A `node:stream` Duplex over a connection that stands in for a
 * `net.Socket`: `node:tls`, `node:http` (see {@link serveHttp}),
 * `stream.pipeline` and existing stream parsers work over rxnet. It has the
 * socket's addresses (`remoteAddress`, `remotePort`, `remoteFamily`,
 * `localAddress`, `localPort`, `localFamily`, `address()`), `bytesRead`,
 * `bytesWritten`, `setTimeout()` and the 'timeout' event, `setNoDelay()`,
 * `setKeepAlive()`, `destroySoon()`, `resetAndDestroy()`, and `allowHalfOpen`
 * semantics. Backpressure is kept both ways: when the Duplex's readable
 * buffer is full the connection is paused, and writes wait for `drain$`
 * once the connection is above its high-water mark.
 *
 * @example
 * import * as tls from 'node:tls';
 * const secure = tls.connect({ socket: toDuplex(conn), servername: 'example.test' });
 */
export function toDuplex(conn: Connection, options: ToDuplexOptions = {}): Duplex {
  return new ConnectionDuplex(conn, options.allowHalfOpen === true);
}

const CLOSED = 'ERR_RXNET_CLOSED';

/** The Duplex behind toDuplex(); a class so its methods live once, on the prototype. */
class ConnectionDuplex extends Duplex {
  private reading: Subscription | null = null;
  // One counted pause (see backpressure.ts) while the Duplex's reader is
  // full: it neither undoes nor is undone by the user's pause()/resume().
  private holding = false;
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  /** The idle timeout set by setTimeout(), in ms (0: none), as net.Socket#timeout. */
  timeout = 0;
  readonly connecting = false;
  readonly pending = false;
  // allowHalfOpen: false is done here, not by Duplex: its own rule ends the
  // writable side the moment the readable side ends, which cuts off a layer
  // above that still has output to write after the peer's FIN. node:tls is
  // one: TLSWrap keeps one write in flight to this Duplex and hands over the
  // rest of its ciphertext from that write's callback, so with a slow peer
  // the end came between two of its writes, and the rest was refused
  // (ECANCELED) and lost. Here the end waits until no write is in flight
  // and none followed the last callback by the next turn of the loop.
  private readonly endWithPeer: boolean;
  private writesInFlight = 0;
  private peerEnded = false;

  constructor(
    private readonly conn: Connection,
    allowHalfOpen: boolean,
  ) {
    // (Duplex's allowHalfOpen stays true: Readable reads it when the
    // readable side ends, to end the writable side at once.)
    super({ allowHalfOpen: true });
    this.endWithPeer = !allowHalfOpen;
    if (this.endWithPeer) {
      this.once('end', () => {
        this.peerEnded = true;
        setImmediate(() => this.endIfIdle());
      });
    }
    conn.closed$.subscribe((info) => {
      this.clearTimer();
      if (info.error) this.destroy(info.error);
    });
  }

  get remoteAddress(): string | undefined {
    return this.address4('remote')?.address;
  }
  get remotePort(): number | undefined {
    return this.address4('remote')?.port;
  }
  get remoteFamily(): string | undefined {
    return familyName(this.address4('remote')?.family);
  }
  get localAddress(): string | undefined {
    return this.address4('local')?.address;
  }
  get localPort(): number | undefined {
    return this.address4('local')?.port;
  }
  get localFamily(): string | undefined {
    return familyName(this.address4('local')?.family);
  }
  get bytesRead(): number {
    return this.conn.bytesRead;
  }
  get bytesWritten(): number {
    return this.conn.bytesWritten;
  }
  get readyState(): string {
    if (this.conn.closed) return 'closed';
    if (this.readableEnded) return this.writableEnded ? 'closed' : 'writeOnly';
    return this.writableEnded ? 'readOnly' : 'open';
  }

  /** This end's address, as net.Socket#address(). */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const a = this.address4('local');
    return a ? { address: a.address, family: familyName(a.family)!, port: a.port } : {};
  }

  /**
   * Emits 'timeout' after `ms` without anything read or written (0 turns it
   * off); like net.Socket's, it only tells: closing is the listener's call.
   */
  setTimeout(ms: number, callback?: () => void): this {
    validateInteger(ms, 'msecs', 0, 2 ** 31 - 1);
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.timeout = ms;
    if (ms === 0) {
      this.clearTimer();
    } else if (!this.conn.closed) {
      // node:http sets and clears a keep-alive timeout on every request: one
      // timer, refreshed, rather than a new one each time.
      if (this.timer !== null && this.timerMs === ms) this.timer.refresh();
      else {
        this.clearTimer();
        this.timerMs = ms;
        this.timer = setTimeout(() => this.emit('timeout'), ms).unref();
      }
    }
    return this;
  }

  setNoDelay(noDelay = true): this {
    if (!this.conn.closed && this.address4('local')?.family !== 'unix') this.conn.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, _initialDelay?: number): this {
    if (!this.conn.closed && this.address4('local')?.family !== 'unix') this.conn.setKeepAlive(enable);
    return this;
  }

  /** Ends, then destroys once everything is written (what node:http calls after a last response). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Closes with a TCP RST, dropping anything queued. */
  resetAndDestroy(): this {
    if (!this.conn.closed) this.conn.reset();
    return this.destroy();
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  override _read(): void {
    if (this.reading === null) {
      this.reading = this.conn.data$.subscribe({
        next: (chunk) => {
          this.timer?.refresh();
          if (!this.push(chunk) && !this.holding && !this.conn.closed) {
            this.holding = true;
            this.conn.hold();
          }
        },
        error: (err) => this.destroy(err),
        complete: () => this.push(null),
      });
    } else if (this.holding) {
      this.holding = false;
      if (!this.conn.closed) this.conn.release();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (conn.closed) return callback(rxnetError(Error, CLOSED, 'The connection is closed'));
    this.timer?.refresh();
    if (conn.write(chunk)) return callback();
    this.awaitDrain(callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (conn.closed) return callback(rxnetError(Error, CLOSED, 'The connection is closed'));
    this.timer?.refresh();
    let below = true;
    for (let i = 0; i < chunks.length; i++) below = conn.write(chunks[i].chunk);
    if (below) return callback();
    this.awaitDrain(callback);
  }

  /** Calls back once the connection drains; with allowHalfOpen false, ends after the peer if nothing followed. */
  private awaitDrain(callback: (error?: Error | null) => void): void {
    this.writesInFlight++;
    const done = () => {
      this.writesInFlight--;
      callback();
      // Checked after the writer's own next step: node:tls's stream wrapper
      // (JSStreamSocket) completes a write in a setImmediate, and only then
      // does TLSWrap hand over its next ciphertext.
      if (this.peerEnded) setImmediate(() => this.endIfIdle());
    };
    const sub = this.conn.drain$.subscribe({ next: () => (sub.unsubscribe(), done()), complete: done });
  }

  private endIfIdle(): void {
    if (this.writesInFlight === 0 && this.writableLength === 0 && !this.writableEnded && !this.destroyed) this.end();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.conn.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.clearTimer();
    this.reading?.unsubscribe();
    const conn = this.conn;
    // Both sides ended (autoDestroy): the connection closes by itself once
    // its queued bytes and FIN are out; close() now would drop them.
    if (!conn.closed && !(conn.writableEnded && this.readableEnded && !err)) {
      // As net.Socket#destroy(), with or without an error: what was written
      // goes to the kernel now (node:http writes a 408 or 400 and destroys at
      // once), then the fd closes; close() resets only if some of it is
      // still queued (resetAndDestroy() always resets).
      conn.flushQueued();
      conn.close();
    }
    callback(err);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The connection's address, or undefined once it can no longer be asked (as net.Socket's). */
  private address4(which: 'remote' | 'local'): { address: string; family: string; port: number } | undefined {
    try {
      return this.conn[which];
    } catch {
      return undefined;
    }
  }
}

/** net.Socket's family names; a Unix socket has none. */
function familyName(family: string | undefined): string | undefined {
  return family === 'IPv4' || family === 'IPv6' ? family : undefined;
}
