import test from 'ava';
import type { CloseInfo } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { closedInfo, dial, randomBytes, readAll, startServer, stopServer, within } from '../helpers/streams';

test.serial('writing the last bytes and calling end() inside a drain$ subscriber sends them before the FIN', (t) =>
  withReactor(t, async (reactor) => {
    const received: Promise<Buffer>[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      received.push(
        readAll(conn).then((body) => {
          conn.end('ok');
          return body;
        }),
      );
    });
    const conn = await dial(reactor, port);
    const reply = readAll(conn).then(String, (e: NodeJS.ErrnoException) => `error ${e.code}`);
    const head = randomBytes(4 * 1024 * 1024);
    t.false(conn.write(head), 'above the high-water mark');
    // The common pattern: wait for drain, then finish the message and end.
    const sub = conn.drain$.subscribe(() => {
      sub.unsubscribe();
      conn.write('tail');
      conn.end();
    });
    await until(() => received.length === 1, 'the server connection');
    const body = await within(received[0], 10_000, "the server's data$");
    t.is(body.length, head.length + 4, 'the server got everything, then the FIN');
    t.true(body.subarray(head.length).equals(Buffer.from('tail')));
    t.is(await reply, 'ok');
    const info: CloseInfo = await closedInfo(conn);
    t.deepEqual(info.hadError ? { hadError: true, code: (info.error as NodeJS.ErrnoException).code } : info, { hadError: false }, 'no EPIPE');
    await stopServer(server, 1000);
  }));
