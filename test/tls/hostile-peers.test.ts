import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect, type TlsError } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, closedInfo, readAll, rejection, stopServer, within } from '../helpers/streams';
import { clientErrors, ids, SERVER_TLS, startTlsServer } from '../helpers/tls';

test.serial('garbage instead of a ClientHello costs that peer its connection with an ERR_SSL_ code, never the handler', (t) =>
  withReactor(t, async (reactor) => {
    let handled = 0;
    const { server, port, events } = await startTlsServer(reactor, (conn) => {
      handled++;
      return conn.data$;
    });
    const peers: Array<[string, Buffer]> = [
      // Not random: random bytes can spell a record header that asks for more (the stall is handshakeTimeout's).
      ['a flood of one byte', Buffer.alloc(4096, 0x16)],
      ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')],
      ['a handshake record of an unknown version', Buffer.from([0x16, 0x09, 0x09, 0x00, 0x40, ...crypto.randomBytes(64)])],
    ];
    for (const [, bytes] of peers) {
      const socket = await client(port);
      socket.on('error', () => {});
      socket.write(bytes);
      await within(new Promise((resolve) => socket.once('close', resolve)), 5000, 'the server to drop the peer');
    }
    await until(() => clientErrors(events).length === peers.length, 'every peer to be reported');
    const codes = clientErrors(events).map((e) => (e as TlsError).code);
    t.is(codes[1], 'ERR_SSL_HTTP_REQUEST');
    for (const code of codes) t.regex(code, /^ERR_SSL_/);
    for (const e of clientErrors(events)) t.is((e as TlsError).library, 'SSL routines');
    t.is(server.stats.tlsClientErrors, peers.length);
    t.is(handled, 0);
    t.is(server.connections, 0);
    // The server is none the worse for it.
    const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT } }));
    const reply = readAll(conn);
    conn.end('still here');
    t.is((await reply).toString(), 'still here');
    await closedInfo(conn);
    await stopServer(server);
  }));

test.serial('a client that stops mid-handshake meets handshakeTimeout; one that leaves is ECONNRESET', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, events } = await startTlsServer(reactor, (conn) => conn.data$, { ...SERVER_TLS, handshakeTimeout: 300 });
    // Half a ClientHello, then silence.
    const hello = await firstClientHello();
    const stalled = await client(port);
    stalled.on('error', () => {});
    stalled.write(hello.subarray(0, hello.length >> 1));
    const started = Date.now();
    await within(new Promise((resolve) => stalled.once('close', resolve)), 5000, 'the stalled peer to be dropped');
    t.true(Date.now() - started >= 250, 'not before the timeout');
    const leaving = await client(port);
    leaving.write(hello.subarray(0, 10));
    await until(() => server.stats.accepted === 2, 'the second peer to be accepted');
    await destroy(leaving);
    await until(() => clientErrors(events).length === 2, 'both to be reported');
    const [timeout, reset] = clientErrors(events) as TlsError[];
    t.is(timeout.code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
    t.is(timeout.message, 'TLS handshake timeout');
    t.is(reset.code, 'ECONNRESET');
    t.is(reset.message, 'Client network socket disconnected before secure TLS connection was established');
    t.is(server.connections, 0);
    await stopServer(server);
  }));

test.serial('a server that never answers the handshake meets the client\'s handshakeTimeout; unsubscribing mid-handshake aborts it', (t) =>
  withReactor(t, async (reactor) => {
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, HOST, resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const error = (await rejection(firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, handshakeTimeout: 200 } })))) as TlsError;
    t.is(error.code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
    t.is(error.port, port);
    const sub = connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT } }).subscribe({ error: () => t.fail('no error after unsubscribing') });
    await until(() => held.size === 2, 'the attempt to be under way');
    sub.unsubscribe();
    t.is(reactor.stats.registrations, 0);
    for (const s of held) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }));

test.serial('renegotiation is refused: a TLSv1.2 client asking for it gets ERR_SSL_NO_RENEGOTIATION', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    const socket = tls.connect({ host: HOST, port, ca: ids.CA_CERT, servername: 'localhost', maxVersion: 'TLSv1.2' });
    await within(new Promise((resolve) => socket.once('secureConnect', resolve)), 5000, 'the handshake');
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    socket.renegotiate({}, () => {});
    t.is((await within(failed, 5000, 'the refusal')).code, 'ERR_SSL_NO_RENEGOTIATION');
    socket.destroy();
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

/** A real ClientHello, as node:tls sends it (captured from a plain socket). */
function firstClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const capture = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        capture.close();
      });
    });
    capture.listen(0, HOST, () => {
      const s = tls.connect({ host: HOST, port: (capture.address() as net.AddressInfo).port, servername: 'localhost' });
      s.on('error', () => {});
    });
    capture.on('error', reject);
  });
}
