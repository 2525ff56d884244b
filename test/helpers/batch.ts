/**
 * Putting several fds into one batch on purpose, on every backend.
 */
import * as fs from 'node:fs';
import { Interest, sys, type Reactor } from '../../index';
import { socketPair } from './sockets';

/** The reactor's counters at the end of the gate's batch. */
export interface BatchMark {
  /** Set once the peers have written. */
  armed: boolean;
  wakeups: number;
  events: number;
}

/**
 * Makes the sockets whose peers are `peers` readable so that the next wakeup
 * reports all of them in one batch. A gate socket is made readable first;
 * while its handler runs, the loop thread is inside a dispatch (and the
 * poll/select helper thread is parked until that dispatch ends), and that is
 * when every peer writes `data`. The next wait then finds them all ready at
 * once. Subscribe the watchers of the receiving sockets before calling this.
 *
 * Resolves after the gate's handler ran; `mark` is filled in synchronously
 * inside it, so handlers of the next batch can check
 * `reactor.stats.wakeups === mark.wakeups + 1` and
 * `reactor.stats.events - mark.events === peers.length`.
 */
export async function writeInOneBatch(reactor: Reactor, peers: number[], data = Buffer.from('x')): Promise<BatchMark> {
  const mark: BatchMark = { armed: false, wakeups: 0, events: 0 };
  const [ga, gb] = await socketPair((fd) => reactor.watch(fd));
  try {
    await new Promise<void>((resolve, reject) => {
      const sub = reactor.watch(gb, Interest.Readable).subscribe({
        next: () => {
          if (mark.armed) return;
          for (const peer of peers) {
            const n = sys.write(peer, data);
            if (n !== data.length) return reject(new Error(`write to ${peer} returned ${n}`));
          }
          const stats = reactor.stats;
          mark.wakeups = stats.wakeups;
          mark.events = stats.events;
          mark.armed = true;
          sub.unsubscribe();
          resolve();
        },
        error: reject,
      });
      sys.write(ga, Buffer.from('g'));
    });
  } finally {
    sys.close(ga);
    sys.close(gb);
  }
  return mark;
}

/**
 * Opens /dev/null into every free fd number below `fd`, so the next
 * descriptor made after `fd` is closed gets `fd`'s number. Returns the
 * fillers; close them with `closeFillers`.
 */
export function fillFdHolesBelow(fd: number): number[] {
  const fillers: number[] = [];
  for (;;) {
    const f = fs.openSync('/dev/null', 'r');
    if (f > fd) {
      fs.closeSync(f);
      return fillers;
    }
    fillers.push(f);
  }
}

export function closeFillers(fillers: number[]): void {
  for (const f of fillers) fs.closeSync(f);
}
