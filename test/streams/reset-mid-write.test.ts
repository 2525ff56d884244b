import test from 'ava';
import { from, ignoreElements, merge, tap } from 'rxjs';
import type { CloseInfo, ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { receive, startServer, stopServer } from '../helpers/streams';

const CHUNK = 64 * 1024;
const CHUNKS = 512; // 32 MiB: far more than the socket buffers, under maxBufferedBytes

test.serial('a peer that resets while the server writes a large reply closes that connection with ECONNRESET/EPIPE; the server serves on', (t) =>
  withReactor(t, async (reactor) => {
    let accepted = 0;
    let floodClosed: CloseInfo | null = null;
    let floodDataError: unknown = null;
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      // The second connection is the one that resets; the others echo.
      if (accepted++ !== 1) return conn.data$;
      conn.closed$.subscribe((info) => (floodClosed = info));
      const payload = Buffer.alloc(CHUNK, 0x61);
      return merge(
        conn.data$.pipe(
          tap({ error: (e: unknown) => (floodDataError = e) }),
          ignoreElements(),
        ),
        from(Array.from({ length: CHUNKS }, () => payload)),
      );
    });
    server.events$.subscribe((e) => events.push(e));

    // An established, echoing connection before the reset...
    const before = await client(port);
    const beforeGot = receive(before);
    before.write('before');
    await beforeGot.atLeast(6);

    const victim = await client(port);
    const victimGot = receive(victim);
    await victimGot.atLeast(1024 * 1024);
    t.true(victimGot.length < CHUNK * CHUNKS, 'the server was still writing when the client reset');
    victim.resetAndDestroy();
    await victimGot.close();

    await until(() => floodClosed !== null, 'the server to notice the reset');
    const info = floodClosed as unknown as CloseInfo;
    t.true(info.hadError);
    const code = (info.error as NodeJS.ErrnoException).code;
    t.true(code === 'ECONNRESET' || code === 'EPIPE', `closed with ${String(code)}`);
    t.true(typeof (info.error as NodeJS.ErrnoException).syscall === 'string');
    t.is(floodDataError, info.error, 'data$ errored with the same error closed$ reports');
    await until(() => server.connections === 1, 'the server to drop the reset connection');

    // ...still echoes, and a new one is served too.
    before.write(' and after');
    await beforeGot.atLeast(16);
    t.is(beforeGot.text(), 'before and after');
    const after = await client(port);
    const afterGot = receive(after);
    after.end('a new connection');
    t.is((await afterGot.end()).toString(), 'a new connection');

    t.true(events.some((e) => e.type === 'error' && e.error === info.error), 'the failed output is reported on events$');
    for (const s of [before, after]) await destroy(s);
    await until(() => server.connections === 0, 'the server to close the rest');
    await stopServer(server);
  }));
