import * as tls from 'node:tls';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { of } from 'rxjs';
import { toDuplex, type CloseInfo } from '../../index';
import { CERT, KEY } from '../fixtures/streams/tls-identity';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, dial, randomBytes, randomChunks, readAll, startServer, stopServer, within } from '../helpers/streams';

/** A Writable that keeps what it gets. */
function collector(): { stream: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        cb();
      },
    }),
    bytes: () => Buffer.concat(parts),
  };
}

test.serial('stream.pipeline(source, toDuplex(conn), sink) round-trips 4 MB through an echo server byte-exact', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const conn = await dial(reactor, port);
    const data = randomBytes(4 * 1024 * 1024);
    const sink = collector();
    await within(pipeline(Readable.from(randomChunks(data, 100_000)), toDuplex(conn), sink.stream), 20_000, 'the pipeline');
    t.true(sink.bytes().equals(data));
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('toDuplex keeps backpressure on reading: an unread Duplex pauses the connection, and nothing is lost', (t) =>
  withReactor(t, async (reactor) => {
    const data = randomBytes(8 * 1024 * 1024);
    const { server, port } = await startServer(reactor, () => of(...randomChunks(data, 256 * 1024)), { maxBufferedBytes: 16 * 1024 * 1024 });
    const conn = await dial(reactor, port);
    const duplex = toDuplex(conn);
    duplex.end();
    duplex.pause();
    duplex.read(0); // start reading into the Duplex's buffer, then nobody reads it
    await until(() => !conn.flowing, 'the connection to pause');
    t.false(conn.isPaused, "backpressure's pause is its own, not the user's");
    await delay(100);
    t.true(duplex.readableLength < 1024 * 1024, `the Duplex buffers ${duplex.readableLength} bytes, not the whole reply`);
    t.true(conn.bytesRead < data.length);
    const sink = collector();
    await within(pipeline(duplex, sink.stream), 20_000, 'reading the rest');
    t.true(sink.bytes().equals(data));
    t.deepEqual(await closedInfo(conn), { hadError: false });
    await stopServer(server, 1000);
  }));

test.serial('toDuplex: bytes written just before end() reach the peer when the peer had ended first', (t) =>
  withReactor(t, async (reactor) => {
    const received: Promise<Buffer>[] = [];
    const closes: CloseInfo[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      received.push(readAll(conn));
      conn.closed$.subscribe((info) => closes.push(info));
      return of('server done'); // ends first
    });
    const conn = await dial(reactor, port);
    const duplex = toDuplex(conn);
    const parts: Buffer[] = [];
    duplex.on('data', (chunk: Buffer) => parts.push(chunk));
    // As a request/response client would: once the reply has ended, send the last words and end.
    duplex.on('end', () => duplex.end('last words'));
    await within(new Promise((resolve) => duplex.once('close', resolve)), 5000, 'the Duplex to close');
    t.is(Buffer.concat(parts).toString(), 'server done');
    t.is((await within(received[0], 5000, "the server's data$")).toString(), 'last words');
    await until(() => server.connections === 0, 'the server side to close');
    t.deepEqual(closes, [{ hadError: false }]);
    await stopServer(server);
  }));

test.serial('a reset connection destroys the Duplex with its error', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => {
      conn.data$.subscribe({ next: () => conn.reset(), error: () => {} });
    });
    const conn = await dial(reactor, port);
    const duplex = toDuplex(conn);
    const errored = new Promise<Error>((resolve) => duplex.once('error', resolve));
    duplex.resume();
    duplex.write('reset me');
    const err = (await within(errored, 5000, 'the Duplex error')) as NodeJS.ErrnoException;
    t.is(err.code, 'ECONNRESET');
    t.true(conn.closed);
    await stopServer(server, 1000);
  }));

for (const highWaterMark of [undefined, 4096]) {
  // With a small high-water mark every write waits for drain$, on every
  // backend: the client's FIN then arrives while node:tls still has
  // ciphertext to hand over, and the Duplex must not end its writable side
  // under it (allowHalfOpen: false waits for the writer to be idle).
  const label = highWaterMark === undefined ? '' : ` (highWaterMark ${highWaterMark}: the peer's FIN arrives while writes wait for drain)`;
  test.serial(`node:tls over toDuplex: a TLS server on an rxnet connection echoes to a node:tls client${label}`, (t) =>
    withReactor(t, async (reactor) => {
      const secureContext = tls.createSecureContext({ cert: CERT, key: KEY });
      const closes: CloseInfo[] = [];
      const { server, port } = await startServer(reactor, (conn) => {
        conn.closed$.subscribe((info) => closes.push(info));
        const secure = new tls.TLSSocket(toDuplex(conn), { isServer: true, secureContext });
        secure.on('data', (chunk: Buffer) => secure.write(chunk));
        secure.on('end', () => secure.end());
        secure.on('error', () => {});
      }, highWaterMark === undefined ? {} : { highWaterMark });
      const data = randomBytes(1024 * 1024);
      const socket = tls.connect({ host: HOST, port, ca: CERT, servername: 'localhost' });
      await within(new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject)), 5000, 'the TLS handshake');
      t.true(socket.authorized, 'the certificate verified');
      const parts: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => parts.push(chunk));
      const ended = new Promise((resolve) => socket.once('end', resolve));
      socket.end(data);
      await within(ended, 10_000, 'the TLS echo');
      const echoed = Buffer.concat(parts);
      t.is(echoed.length, data.length, 'every byte echoed');
      t.true(echoed.equals(data), 'byte-exact');
      await new Promise((resolve) => socket.once('close', resolve));
      await until(() => server.connections === 0, 'the rxnet connection to close');
      t.deepEqual(closes, [{ hadError: false }]);
      await stopServer(server);
    }));
}
