/**
 * Regression: a registration handler that throws loses the rest of its batch,
 * including bytes the reactor already read for other connections.
 *
 * For stream registrations (`register(fd, interest, handler, { read: true })`,
 * what the stream layer builds on), Reactor::deliver (native/reactor.cc)
 * recv()s every ready socket of the batch into the arena *before* calling
 * JavaScript once. Reactor.dispatch (reactor/reactor.ts) then calls the
 * handlers in a plain loop inside try/finally: when one throws, the loop
 * ends, the exception goes to 'uncaughtException', and the remaining events
 * are dropped. Level-triggered readiness would bring back a plain event, but
 * the bytes read for the remaining stream registrations are gone: the kernel
 * queue is empty, so they are never reported again. One misbehaving handler
 * silently loses another connection's data.
 *
 * Runs in a child process (fixture handler-throws, mode 'register-batch')
 * because the exception must reach 'uncaughtException'.
 */
import test from 'ava';
import { backend, withReactor } from '../helpers/leaks';
import { runFixture, within } from '../helpers/processes';

test.serial("a throwing stream handler does not lose the bytes of the other registrations in its batch", (t) =>
  withReactor(t, async () => {
    const child = runFixture('handler-throws', ['register-batch'], { RXNET_BACKEND: backend });
    try {
      const result = JSON.parse(await child.nextLine()) as {
        uncaught: string[];
        thrown: string;
        otherGot: string;
        batchEvents: number;
        error?: string;
      };
      t.is(result.error, undefined);
      t.is(result.batchEvents, 2, 'both stream registrations were in one batch');
      t.deepEqual(result.uncaught, [`boom from ${result.thrown}`], 'the exception reached uncaughtException');
      t.is(result.otherGot, 'payload', 'the other registration still received the bytes read for it');
      t.deepEqual(await within(child.exited, 5000, 'the child to exit'), { code: 0, signal: null });
    } finally {
      await child.kill();
    }
  }));
