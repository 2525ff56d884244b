import test from 'ava';
import type { ServerEvent } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { runFixture } from '../helpers/processes';
import { until } from '../helpers/readiness';
import { startServer, stopServer, within } from '../helpers/streams';

// select cannot watch fds >= FD_SETSIZE (1024): with the server in this
// process, it gets as many connections as fit below that.
const COUNT = backend === 'select' ? 900 : 5000;
const RAMP = 200;
const title =
  backend === 'select'
    ? `${COUNT} concurrent connections (select: FD_SETSIZE leaves room for 900, not 5,000), ramped ${RAMP} at a time from a child process, each echo exactly`
    : `${COUNT} concurrent connections, ramped ${RAMP} at a time from a child process, each echo exactly`;

test.serial(title, (t) =>
  withReactor(t, async (reactor) => {
    let open = 0;
    let maxOpen = 0;
    let closedWithError = 0;
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        conn.closed$.subscribe((info) => {
          open--;
          if (info.hadError) closedWithError++;
        });
        return conn.data$;
      },
      { backlog: 1024 },
    );
    server.events$.subscribe((e) => events.push(e));
    const child = runFixture('streams/ramped-echo-clients', [String(port), String(COUNT), String(RAMP)]);
    try {
      const report = JSON.parse(await child.nextLine(60_000)) as unknown;
      t.deepEqual(report, { echoed: COUNT, open: COUNT }, 'every client got its exact echo with all connections open');
      t.is(maxOpen, COUNT, 'the server held every connection at once');
      t.deepEqual(await within(child.exited, 20_000, 'the clients to exit'), { code: 0, signal: null });
    } finally {
      await child.kill();
    }
    await until(() => server.connections === 0, 'the server to close every connection', 20_000);
    t.is(server.stats.accepted, COUNT);
    t.is(server.stats.dropped, 0);
    t.is(closedWithError, 0);
    t.deepEqual(
      events.filter((e) => e.type !== 'listening'),
      [],
    );
    await stopServer(server);
  }));
