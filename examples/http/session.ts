/**
 * One HTTP connection of the http example: parses pipelined requests in
 * order, answers each in order, and applies backpressure.
 */
import * as fs from 'node:fs';
import type { Connection } from '../../index';
import { RequestError, RequestReader } from './parser';
import { textResponse } from './responses';
import type { ResponseSink, Site } from './site';

/**
 * After our last response, how long the peer may take to close its side.
 * Until then we keep reading (and discarding): closing with unread input
 * makes the kernel send RST, which can destroy the response in flight.
 */
const LINGER_MS = 2000;

/**
 * Serves HTTP on `conn` until either side closes it.
 *
 * Backpressure: sendFile queues files outside `bufferedAmount`, so the bytes
 * of files not yet sent are counted here; while queued bytes exceed the
 * high-water mark, no further request is answered and reading pauses. A
 * client pipelining a thousand requests for a large file without reading
 * costs us one chunk of input and one open file, not a thousand.
 */
export function serveHttp(conn: Connection, site: Site): void {
  new Session(conn, site);
}

class Session implements ResponseSink {
  private readonly reader = new RequestReader();
  /** Bytes handed to sendFile and not yet sent. */
  private fileBytes = 0;
  private paused = false;
  /** The peer sent FIN. */
  private eof = false;
  /** No more responses: our side is ended (or being ended). */
  private done = false;

  constructor(
    private readonly conn: Connection,
    private readonly site: Site,
  ) {
    conn.data$.subscribe({
      next: (chunk) => {
        if (this.done) return;
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
      },
    });
    conn.drain$.subscribe(() => this.pump());
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
    this.fileBytes += length;
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
        this.fileBytes -= length;
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
      if (conn.bufferedAmount + this.fileBytes >= conn.highWaterMark) {
        if (!this.paused) {
          this.paused = true;
          conn.pause();
        }
        return;
      }
      const request = this.reader.next();
      if (request === null) break;
      if (request instanceof RequestError) {
        this.write(textResponse(request.status, 'Connection: close\r\n', true));
        return this.finish();
      }
      if (!this.site.respond(request, this)) return this.finish();
      if (this.done) return;
    }
    if (this.eof) return this.finish();
    if (this.paused) {
      this.paused = false;
      conn.resume();
    }
  }

  /** Half-closes after the responses so far, then lingers until the peer closes. */
  private finish(): void {
    const conn = this.conn;
    this.done = true;
    conn.end();
    if (conn.closed) return;
    if (this.paused) conn.resume();
    const timer = setTimeout(() => conn.close(), LINGER_MS);
    timer.unref();
    conn.closed$.subscribe(() => clearTimeout(timer));
  }
}
