import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import type { CloseInfo, Connection } from '../../index';
import { idleTimeout, listen, serve, sys } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, errorOf, randomBytes, receive, startServer, stopServer } from '../helpers/streams';

test.serial('serve({ idleTimeout: 200 }) closes an idle connection with ERR_RXNET_IDLE_TIMEOUT and keeps an active one', (t) =>
  withReactor(t, async (reactor) => {
    const closes = new Map<number, CloseInfo>();
    let n = 0;
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        const id = n++;
        conn.closed$.subscribe((info) => closes.set(id, info));
        return conn.data$;
      },
      { idleTimeout: 200 },
    );
    const idle = await client(port);
    const idleGot = receive(idle);
    await until(() => n === 1, 'the idle connection');
    const active = await client(port);
    const activeGot = receive(active);
    await until(() => n === 2, 'the active connection');

    // The active client talks every 50 ms for 700 ms.
    let sent = 0;
    for (let i = 0; i < 14; i++) {
      active.write('x');
      sent++;
      await delay(50);
    }
    const idleClose = closes.get(0);
    t.truthy(idleClose, 'the idle connection was closed');
    t.true(idleClose!.hadError);
    t.is((idleClose!.error as NodeJS.ErrnoException).code, 'ERR_RXNET_IDLE_TIMEOUT');
    await idleGot.close();
    t.is(idleGot.length, 0);
    t.false(closes.has(1), 'the active connection is still open');
    await activeGot.atLeast(sent);
    t.is(activeGot.text(), 'x'.repeat(sent));

    // Once it stops talking, it times out too.
    await activeGot.close(2000);
    t.is((closes.get(1)!.error as NodeJS.ErrnoException).code, 'ERR_RXNET_IDLE_TIMEOUT');
    t.is(server.connections, 0);
    for (const s of [idle, active]) await destroy(s);
    await stopServer(server);
  }));

test.serial('listen().pipe(idleTimeout(200)) closes idle connections (data$ and closed$ report ERR_RXNET_IDLE_TIMEOUT) and keeps active ones', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    let port = 0;
    const sub = listen({ host: HOST, port: 0, reactor, onListening: (a) => (port = a.port) })
      .pipe(idleTimeout(200))
      .subscribe((conn) => conns.push(conn));
    await until(() => port !== 0, 'listening');
    const idle = await client(port);
    const idleGot = receive(idle);
    await until(() => conns.length === 1, 'the idle connection');
    const idleError = errorOf(conns[0].data$, 2000);
    const active = await client(port);
    await until(() => conns.length === 2, 'the active connection');
    const echoed: Buffer[] = [];
    conns[1].data$.subscribe((chunk) => {
      echoed.push(chunk);
      conns[1].write(chunk);
    });
    for (let i = 0; i < 14; i++) {
      active.write('y');
      await delay(50);
    }
    const err = await idleError;
    t.is(err.code, 'ERR_RXNET_IDLE_TIMEOUT');
    t.regex(err.message, /200 ms/);
    t.true(conns[0].closed);
    await idleGot.close();
    t.false(conns[1].closed, 'the active connection is still open');
    t.is(Buffer.concat(echoed).toString(), 'y'.repeat(14));
    // Unsubscribing closes the listener (not the connections) and stops the sweeper.
    sub.unsubscribe();
    await delay(400);
    t.false(conns[1].closed, 'after the operator is unsubscribed, nothing times out any more');
    conns[1].close();
    for (const s of [idle, active]) await destroy(s);
  }));

test.serial('idleTimeout(ms) validates ms synchronously', (t) =>
  withReactor(t, () => {
    t.throws(() => idleTimeout(0), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => idleTimeout(1.5), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => idleTimeout('100' as unknown as number), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
  }));

test.serial('serve({ idleTimeout }): a connection busy sending a file to a slow reader is not idle', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(1024 * 1024);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-idle-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, data);
    const closes: CloseInfo[] = [];
    const sends: Promise<number | Error>[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        conn.closed$.subscribe((info) => closes.push(info));
        conn.data$.subscribe({ error: () => {} });
        // A small send buffer: the file has to go out bit by bit as the client reads.
        sys.setsockopt(conn.fd, 'SO_SNDBUF', 16 * 1024);
        sends.push(conn.sendFile(file).catch((e: Error) => e));
        conn.end();
      },
      { idleTimeout: 200 },
    );
    // A slow client on a raw socket with a small receive buffer (set before
    // connecting, so TCP never advertises more): 32 KiB every 20 ms.
    const fd = sys.socket('ipv4', 'stream');
    sys.setsockopt(fd, 'SO_RCVBUF', 16 * 1024);
    sys.connect(fd, { address: HOST, port });
    const parts: Buffer[] = [];
    const started = Date.now();
    const buf = Buffer.alloc(32 * 1024);
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const n = sys.read(fd, buf);
        if (n === sys.EAGAIN) return;
        if (n > 0) return void parts.push(Buffer.from(buf.subarray(0, n)));
        clearInterval(timer);
        if (n === 0) resolve();
        else reject(sys.errnoException(n, 'read'));
      }, 20);
    });
    const elapsed = Date.now() - started;
    const body = Buffer.concat(parts);
    t.is(body.length, data.length, `received ${body.length} of ${data.length} bytes in ${elapsed} ms`);
    t.true(body.equals(data));
    const sent = await sends[0];
    t.is(sent instanceof Error ? sent.message : sent, data.length, 'sendFile resolved with the whole file');
    t.true(elapsed > 400, `the transfer (${elapsed} ms) took longer than the idle timeout`);
    sys.close(fd);
    await until(() => closes.length === 1, 'the server side to close');
    t.deepEqual(closes, [{ hadError: false }], 'not closed as idle');
    await stopServer(server);
  }));

/**
 * A server whose every connection is sent `data` (written, or with sendFile
 * when `file` is given) through a 16 KiB send buffer, so most of it waits in
 * rxnet's queue until the client reads; records how each connection closed.
 */
async function stalledOutputServer(
  reactor: import('../../index').Reactor,
  data: Buffer,
  options: { idleTimeout?: number; sendTimeout?: number },
  file?: string,
) {
  const closes: CloseInfo[] = [];
  const conns: Connection[] = [];
  const { server, port } = await startServer(
    reactor,
    (conn) => {
      conns.push(conn);
      conn.closed$.subscribe((info) => closes.push(info));
      conn.data$.subscribe({ error: () => {} });
      sys.setsockopt(conn.fd, 'SO_SNDBUF', 16 * 1024);
      if (file === undefined) conn.write(data);
      else conn.sendFile(file).catch(() => {});
      conn.end();
    },
    options,
  );
  return { server, port, closes, conns };
}

/** A node:net client that reads nothing for `pauseMs`, then everything. */
async function pausingReader(port: number, pauseMs: number) {
  const socket = await client(port);
  // Paused explicitly first, so receive()'s 'data' listener does not start the flow.
  socket.pause();
  const got = receive(socket);
  await delay(pauseMs);
  socket.resume();
  return { socket, got };
}

test.serial('serve({ idleTimeout }): a connection whose output waits for a paused reader is not idle (written bytes)', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(4 * 1024 * 1024);
    const { server, port, closes, conns } = await stalledOutputServer(reactor, data, { idleTimeout: 150 });
    const { socket, got } = await pausingReader(port, 700);
    t.true(closes.length === 0, `still open after the reader's pause: ${JSON.stringify(closes)}`);
    const body = await got.end(5000);
    t.true(body.equals(data), `received ${body.length} of ${data.length} bytes`);
    await destroy(socket);
    await until(() => closes.length === 1, 'the server side to close');
    t.deepEqual(closes, [{ hadError: false }]);
    t.is(conns[0].bytesWritten, data.length);
    await stopServer(server);
  }));

test.serial('serve({ idleTimeout }): a sendFile waiting for a paused reader is not idle', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(4 * 1024 * 1024);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-idle-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, data);
    const { server, port, closes } = await stalledOutputServer(reactor, data, { idleTimeout: 150 }, file);
    const { socket, got } = await pausingReader(port, 700);
    t.true(closes.length === 0, `still open after the reader's pause: ${JSON.stringify(closes)}`);
    const body = await got.end(5000);
    t.true(body.equals(data), `received ${body.length} of ${data.length} bytes`);
    await destroy(socket);
    await until(() => closes.length === 1, 'the server side to close');
    t.deepEqual(closes, [{ hadError: false }]);
    await stopServer(server);
  }));

test.serial('serve({ idleTimeout, sendTimeout }): a reader that stops for good is closed with ERR_RXNET_SEND_TIMEOUT after sendTimeout', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(4 * 1024 * 1024);
    const { server, port, closes } = await stalledOutputServer(reactor, data, { idleTimeout: 100, sendTimeout: 500 });
    const socket = await client(port);
    socket.pause();
    socket.on('error', () => {});
    const started = Date.now();
    await until(() => closes.length === 1, 'the send timeout', 5000);
    const elapsed = Date.now() - started;
    t.true(closes[0].hadError);
    const err = closes[0].error as NodeJS.ErrnoException;
    t.is(err.code, 'ERR_RXNET_SEND_TIMEOUT');
    t.regex(err.message, /500 ms/);
    t.true(elapsed >= 450 && elapsed < 2000, `closed after ${elapsed} ms`);
    await destroy(socket);
    await stopServer(server);
  }));

test.serial('serve({ sendTimeout }) alone: a stalled reader is closed, an idle connection is not', (t) =>
  withReactor(t, async (reactor) => {
    const closes = new Map<string, CloseInfo>();
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        conn.data$.subscribe({
          next: (chunk) => {
            const what = chunk.toString();
            conn.closed$.subscribe((info) => closes.set(what, info));
            sys.setsockopt(conn.fd, 'SO_SNDBUF', 16 * 1024);
            if (what === 'flood') conn.write(randomBytes(4 * 1024 * 1024));
          },
          error: () => {},
        });
      },
      { sendTimeout: 300 },
    );
    const quiet = await client(port);
    quiet.write('quiet');
    const flooded = await client(port);
    flooded.pause();
    flooded.on('error', () => {});
    flooded.write('flood');
    await until(() => closes.has('flood'), 'the send timeout', 5000);
    t.is((closes.get('flood')!.error as NodeJS.ErrnoException).code, 'ERR_RXNET_SEND_TIMEOUT');
    await delay(400);
    t.false(closes.has('quiet'), 'no idle timeout was asked for');
    t.is(server.connections, 1);
    for (const s of [quiet, flooded]) await destroy(s);
    await stopServer(server);
  }));

test.serial('idleTimeout(ms, { sendTimeout }): the operator applies both deadlines', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const closes: CloseInfo[] = [];
    let port = 0;
    const sub = listen({ host: HOST, port: 0, reactor, onListening: (a) => (port = a.port) })
      .pipe(idleTimeout(5000, { sendTimeout: 300 }))
      .subscribe((conn) => {
        conns.push(conn);
        conn.closed$.subscribe((info) => closes.push(info));
        sys.setsockopt(conn.fd, 'SO_SNDBUF', 16 * 1024);
        conn.write(randomBytes(4 * 1024 * 1024));
      });
    await until(() => port !== 0, 'listening');
    const socket = await client(port);
    socket.pause();
    socket.on('error', () => {});
    await until(() => closes.length === 1, 'the send timeout', 5000);
    t.is((closes[0].error as NodeJS.ErrnoException).code, 'ERR_RXNET_SEND_TIMEOUT');
    sub.unsubscribe();
    await destroy(socket);
  }));

test.serial('sendTimeout is validated synchronously', (t) =>
  withReactor(t, (reactor) => {
    t.throws(() => idleTimeout(100, { sendTimeout: -1 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => idleTimeout(100, { sendTimeout: '1' as unknown as number }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => serve({ host: HOST, port: 0, reactor, sendTimeout: 1.5 }, () => {}), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
  }));
