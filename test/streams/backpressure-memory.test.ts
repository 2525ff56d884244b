import test from 'ava';
import type { CloseInfo, Connection } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { runFixture } from '../helpers/processes';
import { until } from '../helpers/readiness';
import { lineMatching } from '../helpers/children';
import { startServer, stopServer, within } from '../helpers/streams';

const TOTAL = 200 * 1024 * 1024;
const MAX_GROWTH = 32 * 1024 * 1024;

test.serial('a client that sends 200 MB and does not read: the echo server pauses, its RSS stays flat, then everything arrives byte-exact', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const closes: CloseInfo[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conns.push(conn);
      conn.closed$.subscribe((info) => closes.push(info));
      return conn.data$;
    });
    await delay(100);
    const baseline = process.memoryUsage().rss;
    const child = runFixture('streams/flood-client', [String(port), String(TOTAL)]);
    try {
      t.deepEqual(JSON.parse(await child.nextLine()), { type: 'connected' });
      // The client pushes for a few seconds while nothing reads its echo.
      let peak = baseline;
      const bytesIn: number[] = [];
      for (let i = 0; i < 60; i++) {
        await delay(50);
        peak = Math.max(peak, process.memoryUsage().rss);
        bytesIn.push(server.stats.bytesIn);
      }
      const growth = peak - baseline;
      t.log(`RSS growth ${(growth / 1048576).toFixed(1)} MB, ${server.stats.bytesIn} bytes read before pausing, ${server.stats.pauses} pauses`);
      t.true(growth < MAX_GROWTH, `RSS grew ${(growth / 1048576).toFixed(1)} MB while the client pushed (limit 32 MB)`);
      const stats = server.stats;
      t.true(stats.pauses >= 1, 'reading was paused for backpressure');
      t.is(server.connections, 1, 'the connection is paused, not dropped');
      t.false(conns[0].closed);
      t.true(stats.bytesIn < TOTAL / 2, `the server stopped reading (${stats.bytesIn} bytes in)`);
      t.is(bytesIn[bytesIn.length - 1], bytesIn[bytesIn.length - 11], 'nothing was read in the last 500 ms');
      t.true(conns[0].bufferedAmount <= 256 * 1024, `the write queue is bounded (${conns[0].bufferedAmount} bytes)`);

      // Now the client reads: everything comes back, and the connection closes cleanly.
      child.child.kill('SIGUSR1');
      const done = JSON.parse(await lineMatching(child, (l) => l.includes('"done"') || l.includes('"error"'), 'the client to finish', 60_000)) as {
        type: string;
        sent: number;
        received: number;
        sentHash: string;
        receivedHash: string;
      };
      t.is(done.type, 'done');
      t.is(done.sent, TOTAL);
      t.is(done.received, TOTAL);
      t.is(done.receivedHash, done.sentHash, 'the echo is byte-exact');
      t.deepEqual(await within(child.exited, 10_000, 'the client to exit'), { code: 0, signal: null });
    } finally {
      await child.kill();
    }
    await until(() => server.connections === 0, 'the server to close the connection');
    t.deepEqual(closes, [{ hadError: false }]);
    t.is(server.stats.bytesIn, TOTAL);
    t.is(server.stats.bytesOut, TOTAL);
    await stopServer(server);
  }));
