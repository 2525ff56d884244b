import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { firstValueFrom, of } from 'rxjs';
import { connect, type Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, stopServer, within, writeWithBackpressure } from '../helpers/streams';
import { ids, nodeTlsConnect, startTlsServer } from '../helpers/tls';

const MB = 1024 * 1024;

/** sha256 and length of everything data$ delivers until it completes. */
function digestOf(conn: Connection, ms: number): Promise<{ length: number; sha256: string }> {
  const hash = crypto.createHash('sha256');
  let length = 0;
  return within(
    new Promise((resolve, reject) => {
      conn.data$.subscribe({
        next: (chunk) => {
          hash.update(chunk);
          length += chunk.length;
        },
        error: reject,
        complete: () => resolve({ length, sha256: hash.digest('hex') }),
      });
    }),
    ms,
    'the transfer',
  );
}

test.serial('100 MB through a TLS echo (rxnet client and server) arrives whole: same length, same sha256', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT } }));
    const total = 100 * MB;
    const block = crypto.randomBytes(MB);
    const sent = crypto.createHash('sha256');
    const received = digestOf(conn, 120_000);
    // Chunks of every size, so records are cut everywhere.
    const chunks = function* () {
      let offset = 0;
      let i = 0;
      while (offset < total) {
        const size = Math.min(total - offset, [1, 7, 1500, 16384, 16385, 65536, 300_000][i++ % 7]);
        const start = offset % MB;
        const chunk = start + size <= MB ? block.subarray(start, start + size) : Buffer.concat([block.subarray(start), block.subarray(0, start + size - MB)]);
        sent.update(chunk);
        offset += size;
        yield chunk;
      }
    };
    await writeWithBackpressure(conn, chunks(), 60_000);
    conn.end();
    const got = await received;
    t.is(got.length, total);
    t.is(got.sha256, sent.digest('hex'));
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await until(() => server.connections === 0, 'the server side to close');
    t.is(server.stats.bytesIn, total);
    t.is(server.stats.bytesOut, total);
    await stopServer(server);
  }));

test.serial('sendFile over TLS: the file is read and encrypted natively, in order with writes; flushed() waits for the ciphertext', (t) =>
  withReactor(t, async (reactor) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-tls-sendfile-'));
    const file = path.join(dir, 'payload.bin');
    const payload = crypto.randomBytes(5 * MB + 12345);
    fs.writeFileSync(file, payload);
    const results: number[] = [];
    const { server, port } = await startTlsServer(reactor, (conn) => {
      conn.data$.subscribe(); // to see the client's end
      conn.write('head:');
      void conn
        .sendFile(file, { offset: 10, length: payload.length - 20 })
        .then((n) => results.push(n))
        .then(() => conn.write(':tail'))
        .then(() => conn.flushed())
        .then(() => {
          results.push(conn.bufferedAmount);
          conn.end();
        });
    });
    const { socket, received } = await nodeTlsConnect(port);
    const got = await received.end(60_000);
    const expected = Buffer.concat([Buffer.from('head:'), payload.subarray(10, payload.length - 10), Buffer.from(':tail')]);
    t.is(got.length, expected.length);
    t.true(got.equals(expected));
    t.deepEqual(results, [payload.length - 20, 0]);
    socket.end();
    await received.close();
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }));

test.serial('backpressure: bufferedAmount counts ciphertext the kernel has not taken; nothing is lost once the peer reads', (t) =>
  withReactor(t, async (reactor) => {
    const payload = crypto.randomBytes(16 * MB);
    const conns: Connection[] = [];
    const { server, port } = await startTlsServer(reactor, (conn) => {
      conns.push(conn);
      return of(payload);
    });
    const { socket, received } = await nodeTlsConnect(port);
    socket.pause(); // reads nothing: the kernel buffers fill
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    let last = -1;
    // The queue stops shrinking once the socket buffers are full: what
    // remains is plaintext not yet encrypted plus ciphertext not yet taken.
    await until(
      () => {
        const now = conn.bufferedAmount;
        const settled = now === last && now > 0;
        last = now;
        return settled;
      },
      'the queue to stop shrinking',
      10_000,
    );
    // bytesWritten is the plaintext encrypted so far, so plaintext alone
    // would leave exactly payload - bytesWritten queued; a blocked session
    // always owes some ciphertext on top, and that is counted too.
    const plaintextQueued = payload.length - conn.bytesWritten;
    t.true(conn.bytesWritten < payload.length);
    t.true(conn.bufferedAmount > plaintextQueued, `bufferedAmount ${conn.bufferedAmount} > ${plaintextQueued} of plaintext`);
    t.true(conn.bufferedAmount < plaintextQueued + 128 * 1024, 'at most about one round of ciphertext waits in the session');
    socket.resume();
    const got = await received.end(60_000);
    t.true(got.equals(payload));
    t.is(conn.bufferedAmount, 0);
    socket.end();
    await received.close();
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

