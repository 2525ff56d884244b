import * as net from 'node:net';
import test from 'ava';
import { concat, of, throwError } from 'rxjs';
import type { CloseInfo, ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, receive, startServer, stopServer } from '../helpers/streams';

test.serial("a handler that throws or whose output errors costs that connection (reset) and is reported on events$; the server serves on", (t) =>
  withReactor(t, async (reactor) => {
    const thrown = new Error('handler threw');
    const failed = new Error('output failed');
    const events: ServerEvent[] = [];
    const closes: CloseInfo[] = [];
    let n = 0;
    const { server, port } = await startServer(reactor, (conn) => {
      conn.closed$.subscribe((info) => closes.push(info));
      const k = n++;
      if (k === 0) throw thrown;
      if (k === 1) return concat(of('partial reply'), throwError(() => failed));
      return conn.data$;
    });
    server.events$.subscribe((e) => events.push(e));

    for (const expected of [thrown, failed]) {
      // The reset may come before node:net reports the connection as established.
      const socket = net.connect(port, HOST);
      socket.on('error', () => {});
      const got = receive(socket);
      await got.close();
      t.is(got.error === null ? 'no error' : (got.error as NodeJS.ErrnoException).code, 'ECONNRESET', 'the client sees a reset');
      await until(() => events.some((e) => e.type === 'error' && e.error === expected), `the ${expected.message} event`);
      await destroy(socket);
    }
    t.is(closes.length, 2);
    const ok = await client(port);
    const got = receive(ok);
    ok.end('fine');
    t.is((await got.end()).toString(), 'fine');
    await destroy(ok);
    await until(() => server.connections === 0, 'the connections to close');
    await stopServer(server);
  }));
