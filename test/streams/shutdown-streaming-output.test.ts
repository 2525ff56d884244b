import test from 'ava';
import { interval, map } from 'rxjs';
import type { CloseInfo } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { client, destroy } from '../helpers/sockets';
import { receive, startServer, within } from '../helpers/streams';

test.serial('shutdown() with a handler that streams output (server push) ends the stream with a FIN and nothing throws', (t) =>
  withReactor(t, async (reactor) => {
    const closes: CloseInfo[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conn.closed$.subscribe((info) => closes.push(info));
      // A ticker: output that never completes and does not depend on input.
      return interval(20).pipe(map((i) => `tick ${i}\n`));
    });
    const socket = await client(port);
    const got = receive(socket);
    await got.until(() => got.text().includes('tick 2\n'), 'a few ticks');
    const shutdown = server.shutdown({ timeoutMs: 2000 });
    // Several more ticks fall due while the connection is being shut down.
    await got.end(3000);
    await delay(100);
    await within(shutdown, 3000, 'shutdown()');
    t.true(/^(tick \d+\n)+$/.test(got.text()), 'only whole ticks, then the FIN');
    t.deepEqual(closes, [{ hadError: false }]);
    await destroy(socket);
  }));
