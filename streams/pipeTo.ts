import { Observable } from 'rxjs';
import { Backpressure } from './backpressure';
import type { Connection } from './connection';

/**
 * Copies everything `source` sends into `destination` with the backpressure
 * serve() uses: while the destination is above its high-water mark the source
 * is paused, so a fast sender and a slow receiver cannot grow memory. The
 * source's FIN half-closes the destination; an error on either side resets
 * the other. Cold: nothing flows until it is subscribed; completes when the
 * source has ended and the destination was ended.
 *
 * @example
 * // A proxy: both directions
 * merge(pipeTo(client, upstream), pipeTo(upstream, client)).subscribe();
 */
export function pipeTo(source: Connection, destination: Connection): Observable<void> {
  return new Observable<void>((subscriber) => {
    const backpressure = new Backpressure(source, destination);
    const destinationClosed = destination.closed$.subscribe((info) => {
      if (!source.closed) {
        if (info.hadError) source.reset();
        else source.close();
      }
    });
    const reading = source.data$.subscribe({
      next: (chunk) => {
        if (!destination.write(chunk)) backpressure.engage();
      },
      error: (err) => {
        destination.reset();
        subscriber.error(err);
      },
      complete: () => {
        destination.end();
        subscriber.complete();
      },
    });
    return () => {
      reading.unsubscribe();
      backpressure.dispose();
      destinationClosed.unsubscribe();
    };
  });
}
