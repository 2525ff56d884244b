/**
 * One HTTP connection of the http example: parses pipelined requests in
 * order, answers each in order, and applies backpressure.
 */
import * as fs from 'node:fs';
import type { Connection } from '../../index';
import { RequestError, RequestReader } from './parser';
import { textResponse } from './responses';
import type { ResponseSink, Site } from './site';

/** The deadlines of one connection, in ms. */
export interface SessionTimeouts {
  /**
   * From the first byte of a request head (blank lines before it included)
   * until the head is complete; then 408 and close. Measured from that first
   * byte, not reset by each later one (node:http's headersTimeout, nginx's
   * client_header_timeout), so a peer dribbling a byte a second cannot hold
   * the connection. 0 = no limit.
   */
  headerTimeout: number;
  /**
   * After our last response has been taken by the kernel, how long the peer
   * may take to close its side (nginx's lingering_time). Until then we keep
   * reading and discarding: closing with unread input makes the kernel send
   * RST, which can destroy the response in flight.
   */
  lingeringTime: number;
}

export const DEFAULT_TIMEOUTS: Readonly<SessionTimeouts> = { headerTimeout: 20_000, lingeringTime: 2000 };

/**
 * Serves HTTP on `conn` until either side closes it.
 *
 * Backpressure: sendFile queues files outside `bufferedAmount`, so the bytes
 * of files not yet sent are counted here; while queued bytes exceed the
 * high-water mark, no further request is answered and reading pauses. A
 * client pipelining a thousand requests for a large file without reading
 * costs us one chunk of input and one open file, not a thousand.
 */
export function serveHttp(
  conn: Connection,
  site: Site,
  timeouts: Readonly<SessionTimeouts> = DEFAULT_TIMEOUTS,
  draining: () => boolean = () => false,
): void {
  new Session(conn, site, timeouts, draining);
}

class Session implements ResponseSink {
  private readonly reader = new RequestReader();
  /** Bytes handed to sendFile and not yet sent. */
  private paused = false;
  /** The peer sent FIN. */
  private eof = false;
  /** No more responses: our side is ended (or being ended). */
  private done = false;
  /**
   * When the first byte after the last complete request head arrived (0:
   * none since). A timestamp rather than a timer per request: the timer is
   * armed only when a head is left incomplete, never on the hot path.
   */
  private headSince = 0;
  /** Bytes arrived with no clock running; a request completing after them clears it. */
  private headPending = false;
  private headTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly conn: Connection,
    private readonly site: Site,
    private readonly timeouts: Readonly<SessionTimeouts>,
    /**
     * The server is draining (shutdown, handoff): the next response says
     * `Connection: close` and ends the connection, so a keep-alive client
     * learns in-band and reconnects (to the successor) instead of meeting
     * a FIN that races its next request.
     */
    private readonly draining: () => boolean,
  ) {
    conn.data$.subscribe({
      next: (chunk) => {
        if (this.done) return;
        // The clock is read at the end of answer(), in the same tick, and
        // only if no request completed after these bytes: most chunks hold
        // whole requests and need no clock at all.
        if (this.headSince === 0) this.headPending = true;
        this.reader.push(chunk);
        this.pump();
      },
      complete: () => {
        this.eof = true;
        this.pump();
      },
      // A reset or read error: the library has closed the connection.
      error: () => {
        this.done = true;
        this.stopHeadClock();
      },
    });
    // data$ is never unsubscribed, so its complete (then finish()) or error
    // stops the head clock whenever the connection ends.
    conn.drain$.subscribe(() => this.pump());
  }

  get peer(): { address: string; port: number } {
    return this.conn.remote;
  }

  write(bytes: Buffer): void {
    if (this.done) return;
    try {
      this.conn.write(bytes);
    } catch (err) {
      // server.shutdown() half-closes idle connections; a request racing
      // with that FIN gets no answer.
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_WRITE_AFTER_END') throw err;
      this.done = true;
    }
  }

  sendFile(fd: number, offset: number, length: number): void {
    if (this.done) {
      fs.closeSync(fd);
      return;
    }
    this.conn
      .sendFile(fd, { offset, length })
      .then(
        // The file shrank since fstat: the promised Content-Length cannot be
        // met, and the client can only tell by the connection closing.
        (sent) => sent < length && this.conn.close(),
        () => {}, // the connection closed first; nothing to tell anyone
      )
      .finally(() => {
        fs.closeSync(fd);
        this.pump();
      });
  }

  /** Answers every complete request while output is below the high-water mark. */
  private pump(): void {
    if (this.done) return;
    try {
      this.answer();
    } catch (err) {
      // A bug of ours must cost this connection only, never the process.
      process.stderr.write(`http: ${(err as Error).stack ?? String(err)}\n`);
      this.done = true;
      this.conn.reset();
    }
  }

  private answer(): void {
    const conn = this.conn;
    for (;;) {
      if (conn.bufferedAmount >= conn.highWaterMark) {
        if (!this.paused) {
          this.paused = true;
          conn.pause();
        }
        return;
      }
      const request = this.reader.next();
      if (request === null) break;
      this.headSince = 0;
      this.headPending = false;
      if (request instanceof RequestError) {
        this.write(textResponse(request.status, 'Connection: close\r\n', true));
        return this.finish();
      }
      if (this.draining()) request.keepAlive = false;
      if (!this.site.respond(request, this)) return this.finish();
      if (this.done) return;
    }
    if (this.eof) return this.finish();
    if (this.paused) {
      this.paused = false;
      conn.resume();
      // The head clock does not count the time our own output held reading
      // paused: it restarts now.
      if (this.headSince !== 0) this.headSince = Date.now();
    }
    // Bytes of a head in progress, or bytes that were no head at all (blank
    // lines before a request line count too: a peer sending only those is
    // dribbling all the same).
    if (this.headSince === 0 && (this.headPending || this.reader.buffered > 0)) this.headSince = Date.now();
    this.headPending = false;
    if (this.headSince !== 0 && this.headTimer === null && this.timeouts.headerTimeout > 0) this.armHeadClock();
  }

  private armHeadClock(): void {
    const timer = setTimeout(this.onHeadClock, Math.max(1, this.headSince + this.timeouts.headerTimeout - Date.now()));
    timer.unref();
    this.headTimer = timer;
  }

  private stopHeadClock(): void {
    if (this.headTimer !== null) clearTimeout(this.headTimer);
    this.headTimer = null;
  }

  /**
   * The head deadline, checked when its timer fires: the head it was armed
   * for may have completed since, and a later one begun.
   */
  private readonly onHeadClock = (): void => {
    this.headTimer = null;
    if (this.done || this.paused || this.headSince === 0) return;
    if (Date.now() - this.headSince < this.timeouts.headerTimeout) return this.armHeadClock();
    this.write(textResponse(408, 'Connection: close\r\n', true));
    this.finish();
  };

  /**
   * Half-closes after the responses so far; once the kernel has taken all of
   * them (bytes and files), lingers until the peer closes, at most
   * `lingeringTime`. The linger never starts earlier: closing while a file
   * is still being sent would cut a close-delimited download short.
   */
  private finish(): void {
    const conn = this.conn;
    this.done = true;
    this.stopHeadClock();
    if (conn.closed) return;
    const sent = conn.flushed();
    conn.end();
    if (conn.closed) return;
    if (this.paused) conn.resume();
    sent.then(
      () => {
        if (conn.closed) return;
        const timer = setTimeout(() => conn.close(), this.timeouts.lingeringTime);
        timer.unref();
        conn.closed$.subscribe(() => clearTimeout(timer));
      },
      () => {}, // closed (or ended by a shutdown) before the output left: nothing to linger for
    );
  }
}
