/**
 * io_uring's multishot accept takes connections off the backlog into a
 * queue of the backend's own, and JavaScript takes them from there, at most
 * its accept budget (128) per batch. The listener was reported again only
 * when another accept completed: when a client had connected a wave of
 * connections at once and then waited for replies, the ones past the budget
 * stayed in the queue for ever (5,000 ramped connections hung about one run
 * in two on a loaded machine). A listener whose queue is left non-empty must
 * be reported again, as a level-triggered readiness backend does.
 *
 * Provoked here: the event loop is blocked while a child process connects
 * 300 clients at once, so the next batch finds them all waiting; each
 * client then waits for its echo and connects nothing more. Runs on every
 * backend: the contract (every accepted connection is served) is the same.
 */
import test from 'ava';
import { withReactor } from '../helpers/leaks';
import { runFixture } from '../helpers/processes';
import { startServer, stopServer } from '../helpers/streams';

const CLIENTS = 300; // more than twice the accept budget

test.serial(`${CLIENTS} connections arriving while the loop is busy are all served, though no more arrive after them`, (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$, { backlog: 1024 });
    // All at once (one wave), each waiting for its exact echo.
    const child = runFixture('streams/ramped-echo-clients', [String(port), String(CLIENTS), String(CLIENTS)]);
    try {
      // Block the loop while the child connects: the connections wait in the
      // backlog, and the next batch finds all of them.
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        // busy: nothing of ours runs meanwhile
      }
      const report = JSON.parse(await child.nextLine(20_000)) as unknown;
      t.deepEqual(report, { echoed: CLIENTS, open: CLIENTS }, 'every client got its echo');
      t.is(server.stats.accepted, CLIENTS);
      t.deepEqual(await child.exited, { code: 0, signal: null });
    } finally {
      await child.kill();
    }
    await stopServer(server);
  }));
