/**
 * The one backpressure mechanism of the stream layer: while a destination
 * connection is above its high-water mark, its source holds one counted
 * pause (Connection.hold) until the destination's next drain. serve() couples
 * a connection's input to its own output with it, pipeTo() one connection to
 * another; toDuplex() holds a pause while the Duplex's reader is full. Each
 * source of backpressure is counted once, so they never undo each other's
 * pause, nor the user's pause()/resume().
 * @internal
 */
import type { Subscription } from 'rxjs';
import type { Connection } from './connection';

export class Backpressure {
  /** Times the source was paused for the destination. */
  engaged = 0;
  private holding = false;
  private drain: Subscription | null = null;

  constructor(
    private readonly source: Connection,
    private readonly destination: Connection,
  ) {}

  /** The destination's write() returned false: pause the source until it drains. */
  engage(): void {
    if (this.holding || this.source.closed || this.destination.closed) return;
    this.holding = true;
    this.engaged++;
    this.source.hold();
    // One subscription for the coupling's life, made on first need.
    this.drain ??= this.destination.drain$.subscribe(() => this.relax());
  }

  dispose(): void {
    this.drain?.unsubscribe();
    this.drain = null;
    this.relax();
  }

  private relax(): void {
    if (!this.holding) return;
    this.holding = false;
    if (!this.source.closed) this.source.release();
  }
}
