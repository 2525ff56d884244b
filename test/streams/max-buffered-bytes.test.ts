import test from 'ava';
import { from } from 'rxjs';
import type { CloseInfo, Connection, ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { peerOutcome, receive, startServer, stopServer } from '../helpers/streams';

const CHUNK = Buffer.alloc(16 * 1024, 0x78);
const CHUNKS = 1024; // 16 MiB: more than the socket buffers of a peer that does not read

test.serial('output that ignores backpressure to a peer that does not read closes the connection with ERR_RXNET_MAX_BUFFERED_BYTES; the server survives', (t) =>
  withReactor(t, async (reactor) => {
    let accepted = 0;
    const closes: CloseInfo[] = [];
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        conn.closed$.subscribe((info) => closes.push(info));
        if (accepted++ > 0) return conn.data$;
        // All at once: from() ignores write()'s false.
        return from(Array.from({ length: CHUNKS }, () => CHUNK));
      },
      { highWaterMark: 4 * 1024, maxBufferedBytes: 64 * 1024 },
    );
    server.events$.subscribe((e) => events.push(e));

    // rxnet's own client, so a reset is seen as one (see peerOutcome).
    const greedy = await peerOutcome(reactor, port);
    await until(() => closes.length === 1, 'the overflowing connection to close');
    const error = closes[0].error as NodeJS.ErrnoException;
    t.true(closes[0].hadError);
    t.is(error.code, 'ERR_RXNET_MAX_BUFFERED_BYTES');
    t.regex(error.message, /maxBufferedBytes \(65536\)/);
    t.false(greedy.ended, 'reset, never a FIN: the output was cut off');
    t.is(greedy.error?.code, 'ECONNRESET');
    t.true(greedy.received < CHUNK.length * CHUNKS, `the client got only what the kernel had taken (${greedy.received} bytes)`);

    // The server still accepts and echoes.
    const next = await client(port);
    const nextGot = receive(next);
    next.end('still serving');
    t.is((await nextGot.end()).toString(), 'still serving');
    await nextGot.close();
    await until(() => server.connections === 0, 'the server to close the echo connection');
    t.is(closes.length, 2);
    t.deepEqual(closes[1], { hadError: false });
    await destroy(next);
    await stopServer(server);
  }));

test.serial('a burst larger than maxBufferedBytes to a peer that keeps up is not cut off', (t) =>
  withReactor(t, async (reactor) => {
    const closes: CloseInfo[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        conn.closed$.subscribe((info) => closes.push(info));
        // 256 KiB in one go, over a 64 KiB cap: the kernel takes it at once.
        return from(Array.from({ length: 16 }, () => CHUNK));
      },
      { highWaterMark: 4 * 1024, maxBufferedBytes: 64 * 1024 },
    );
    const socket = await client(port);
    const got = receive(socket);
    t.is((await got.end()).length, 16 * CHUNK.length);
    await until(() => closes.length === 1, 'the connection to close');
    t.deepEqual(closes, [{ hadError: false }]);
    await destroy(socket);
    await stopServer(server);
  }));

test.serial('Connection.write() past maxBufferedBytes, once the kernel takes no more, closes the connection; bufferedAmount drops to 0 and writes return false', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn), { highWaterMark: 1024, maxBufferedBytes: 8192 });
    const socket = await client(port);
    socket.pause();
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    t.is(conn.highWaterMark, 1024);
    t.is(conn.maxBufferedBytes, 8192);
    t.true(conn.write(Buffer.alloc(512)));
    t.false(conn.write(Buffer.alloc(4096)), 'above the high-water mark');
    t.is(conn.bufferedAmount, 4608, 'queued until the flush');
    let writes = 0;
    while (!conn.closed && writes < 64) {
      // Each write over the cap first lets the kernel take what it can.
      conn.write(Buffer.alloc(1024 * 1024));
      writes++;
    }
    t.true(conn.closed, `closed after ${writes} MiB the peer did not read`);
    t.is(conn.bufferedAmount, 0);
    t.false(conn.write('more'), 'writes to a closed connection return false');
    const info = await new Promise<CloseInfo>((resolve) => conn.closed$.subscribe(resolve));
    t.is((info.error as NodeJS.ErrnoException).code, 'ERR_RXNET_MAX_BUFFERED_BYTES');
    await destroy(socket);
    await stopServer(server);
  }));
