/**
 * Writes what a serve() handler returns to its connection.
 *
 * - Sources that can be pulled are pulled, one value at a time, only while
 *   the connection is below its high-water mark, and again on drain: async
 *   iterables (async generators, Node Readables, web ReadableStreams) and
 *   sync iterables (generators, arrays). A slow peer holds the producer back.
 * - Sources that push (Observables, promises) cannot be paused. Their writes
 *   are coupled to the connection's own input instead: while the output is
 *   above the high-water mark the connection stops reading, which is all the
 *   backpressure an echo or a request/response protocol needs. A push source
 *   that overflows maxBufferedBytes regardless resets the connection.
 *
 * The output's completion half-closes the connection (FIN); its error, or a
 * pulled source that throws, is handed to `failed` (serve() resets the
 * connection and reports it).
 * @internal
 */
import { from, isObservable, type ObservableInput, type Subscription } from 'rxjs';
import { Backpressure } from './backpressure';
import type { Connection } from './connection';

export type Output = ObservableInput<Uint8Array | string>;

/** What sendOutput reports to. */
export interface OutputSink {
  /** The output failed; the connection is still open. */
  failed(conn: Connection, err: unknown): void;
  /** The output reached the high-water mark: the connection's input or its producer was paused. */
  paused(conn: Connection): void;
}

/** A running output; `stop()` when the connection closes. */
export interface OutputHandle {
  stop(): void;
}

export function sendOutput(conn: Connection, output: Output, sink: OutputSink): OutputHandle {
  if (!isObservable(output) && typeof (output as PromiseLike<unknown>).then !== 'function') {
    const asyncIterable = (output as AsyncIterable<unknown>)[Symbol.asyncIterator];
    if (typeof asyncIterable === 'function') return new Puller(conn, asyncIterable.call(output), true, sink);
    const iterable = (output as Iterable<unknown>)[Symbol.iterator];
    if (typeof iterable === 'function') return new Puller(conn, iterable.call(output), false, sink);
  }
  return new Pusher(conn, output, sink);
}

/** After the output completes: end, and if nobody reads any more, discard the rest of the input. */
function completed(conn: Connection): void {
  conn.end();
  // Checked after the current call returns: an output built with
  // take/takeWhile completes while still subscribed to data$ and
  // unsubscribes right after.
  queueMicrotask(() => conn.discardInput());
}

class Pusher implements OutputHandle {
  // Made on first need: most connections never reach the high-water mark.
  private backpressure: Backpressure | null = null;
  private readonly subscription: Subscription;

  constructor(
    private readonly conn: Connection,
    output: Output,
    private readonly sink: OutputSink,
  ) {
    this.subscription = from(output).subscribe(this);
  }

  next(chunk: Uint8Array | string): void {
    const conn = this.conn;
    if (!conn.write(chunk) && !conn.closed) {
      const backpressure = (this.backpressure ??= new Backpressure(conn, conn));
      const before = backpressure.engaged;
      backpressure.engage();
      if (backpressure.engaged !== before) this.sink.paused(conn);
    }
  }

  error(err: unknown): void {
    this.sink.failed(this.conn, err);
  }

  complete(): void {
    completed(this.conn);
  }

  stop(): void {
    // The subscription may not be assigned yet when the output ends the
    // connection synchronously during subscribe().
    this.subscription?.unsubscribe();
    this.backpressure?.dispose();
  }
}

class Puller implements OutputHandle {
  private stopped = false;
  private pulling = false;
  private drain: Subscription | null = null;

  constructor(
    private readonly conn: Connection,
    private readonly iterator: Iterator<unknown> | AsyncIterator<unknown>,
    private readonly async: boolean,
    private readonly sink: OutputSink,
  ) {
    void this.pump();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.drain?.unsubscribe();
    this.drain = null;
    // Let the producer clean up (a generator's finally, a Readable's destroy).
    if (!this.pulling) this.finishIterator();
  }

  private finishIterator(): void {
    try {
      const done = this.iterator.return?.();
      if (done && typeof (done as Promise<unknown>).then === 'function') (done as Promise<unknown>).then(undefined, () => {});
    } catch {
      // A producer failing while being closed has nobody left to tell.
    }
  }

  /** Pulls while below the high-water mark; waits for drain when above it. */
  private async pump(): Promise<void> {
    const conn = this.conn;
    this.pulling = true;
    try {
      while (!this.stopped) {
        if (conn.bufferedAmount >= conn.highWaterMark) {
          this.drain ??= conn.drain$.subscribe(() => {
            if (!this.pulling && !this.stopped) void this.pump();
          });
          this.sink.paused(this.conn);
          return;
        }
        const step = this.async ? await (this.iterator as AsyncIterator<unknown>).next() : (this.iterator as Iterator<unknown>).next();
        if (this.stopped) return;
        if (step.done) {
          this.stop();
          completed(conn);
          return;
        }
        conn.write(step.value as Uint8Array | string);
      }
    } catch (err) {
      if (this.stopped) return;
      this.stopped = true;
      this.drain?.unsubscribe();
      this.sink.failed(this.conn, err);
    } finally {
      this.pulling = false;
      // Stopped (the connection closed) while a pull was under way.
      if (this.stopped && !conn.writableEnded) this.finishIterator();
    }
  }
}
