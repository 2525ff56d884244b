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
import { from as rxFrom, isObservable as rxIsObservable, type ObservableInput, type Subscription } from 'rxjs';
import { Backpressure } from './backpressure';
import { OwnReader, type Connection } from './connection';

// rxjs' index is some 300 getters on a dictionary-mode object: a named
// import read per connection is a LoadIC lookup and a getter call. Read once.
const from = rxFrom;
const isObservable = rxIsObservable;

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
  // Checked once the current call has returned: an output built with
  // take/takeWhile completes while still subscribed to data$ and
  // unsubscribes right after.
  conn.discardInputSoon();
}

/**
 * An rxjs Subscriber of its own, not an observer object: subscribe() uses a
 * Subscriber as it is, where an observer object gets a SafeSubscriber, a
 * ConsumerObserver and three bound functions wrapped around it, per
 * connection (memory per idle connection and GC per new one are yardsticks
 * here). What SafeSubscriber would add, catching a throwing next, is done in
 * _next itself.
 */
class Pusher extends OwnReader<Uint8Array | string> implements OutputHandle {
  // Made on first need: most connections never reach the high-water mark.
  private backpressure: Backpressure | null = null;

  constructor(
    private readonly conn: Connection,
    output: Output,
    private readonly sink: OutputSink,
  ) {
    super();
    from(output).subscribe(this);
  }

  protected override _next(chunk: Uint8Array | string): void {
    const conn = this.conn;
    try {
      if (conn.write(chunk) || conn.closed) return;
    } catch (err) {
      // write() after the handler's own end(), or not bytes at all.
      return this.error(err);
    }
    const backpressure = (this.backpressure ??= new Backpressure(conn, conn));
    const before = backpressure.engaged;
    backpressure.engage();
    if (backpressure.engaged !== before) this.sink.paused(conn);
  }

  protected override _error(err: unknown): void {
    this.unsubscribe();
    this.sink.failed(this.conn, err);
  }

  protected override _complete(): void {
    this.unsubscribe();
    completed(this.conn);
  }

  stop(): void {
    this.unsubscribe();
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
