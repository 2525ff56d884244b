import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import type { Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { closedInfo, randomBytes, receive, startServer, stopServer } from '../helpers/streams';

function tempFile(t: { teardown(fn: () => void): void }, data: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-sendfile-'));
  const file = path.join(dir, 'payload.bin');
  fs.writeFileSync(file, data);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return file;
}

test.serial('sendFile(path) sends a 3 MB file byte-exact, in order between the writes before and after it', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const file = tempFile(t, data);
    const sent: Promise<number>[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conn.data$.subscribe(); // to see the client's FIN
      conn.write('HEAD:');
      sent.push(conn.sendFile(file));
      conn.write(':TAIL');
      conn.end();
    });
    const socket = await client(port);
    const got = receive(socket);
    const body = await got.end(10_000);
    t.is(await sent[0], data.length, 'resolves with the bytes sent');
    t.is(body.length, data.length + 10);
    t.is(body.subarray(0, 5).toString(), 'HEAD:');
    t.true(body.subarray(5, 5 + data.length).equals(data), 'the file, byte-exact');
    t.is(body.subarray(5 + data.length).toString(), ':TAIL');
    await got.close();
    await until(() => server.connections === 0, 'the connection to close');
    t.is(server.stats.bytesOut, data.length + 10);
    await stopServer(server);
  }));

test.serial('sendFile(fd, { offset, length }) sends a slice and leaves the fd open', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(1024 * 1024);
    const file = tempFile(t, data);
    const fd = fs.openSync(file, 'r');
    const results: number[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conn.data$.subscribe();
      void (async () => {
        results.push(await conn.sendFile(fd, { offset: 1000, length: 500_000 }));
        results.push(await conn.sendFile(fd, { offset: 1_000_000 })); // to the end: 48,576 bytes
        conn.end();
      })();
    });
    const socket = await client(port);
    const got = receive(socket);
    const body = await got.end(10_000);
    t.deepEqual(results, [500_000, data.length - 1_000_000]);
    t.true(body.equals(Buffer.concat([data.subarray(1000, 501_000), data.subarray(1_000_000)])));
    t.notThrows(() => fs.fstatSync(fd), 'a caller-owned fd stays open');
    fs.closeSync(fd);
    await got.close();
    await until(() => server.connections === 0, 'the connection to close');
    await stopServer(server);
  }));

test.serial('sendFile after end() rejects with ERR_STREAM_WRITE_AFTER_END; a file pending when the connection closes rejects and is closed', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(8 * 1024 * 1024);
    const file = tempFile(t, data);
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const socket = await client(port);
    socket.pause(); // never reads: the file cannot all go out
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    const pending = conn.sendFile(file);
    await new Promise((resolve) => setTimeout(resolve, 100));
    conn.close();
    const err = (await pending.then(
      () => null,
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    t.is(err?.code, 'ERR_RXNET_CLOSED');
    t.deepEqual(await closedInfo(conn), { hadError: false });

    const socket2 = await client(port);
    await until(() => conns.length === 2, 'the second connection');
    conns[1].end();
    const late = await conns[1].sendFile(file).then(
      () => null,
      (e: unknown) => e,
    );
    t.is((late as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END');
    for (const s of [socket, socket2]) await destroy(s);
    await stopServer(server, 500);
  }));
