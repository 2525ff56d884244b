import { X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import test from 'ava';
import { filter, firstValueFrom } from 'rxjs';
import { connect, listen, type Connection, type TlsInfo } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, readAll, stopServer, within } from '../helpers/streams';
import { ids, nodeTlsConnect, SERVER_TLS, startTlsServer } from '../helpers/tls';

test.serial('a node:tls client talks to serve({ tls }): the handler sees conn.tls and bytes echo', (t) =>
  withReactor(t, async (reactor) => {
    const seen: TlsInfo[] = [];
    const { server, port } = await startTlsServer(
      reactor,
      (conn) => {
        seen.push(conn.tls!);
        return conn.data$;
      },
      { ...SERVER_TLS, ALPNProtocols: ['h2', 'echo'] },
    );
    const { socket, received } = await nodeTlsConnect(port, { ALPNProtocols: ['echo'] });
    t.true(socket.authorized, String(socket.authorizationError));
    t.is(socket.alpnProtocol, 'echo');
    const cipher = socket.getCipher().name;
    socket.write('hello over TLS');
    await received.until(() => received.text() === 'hello over TLS', 'the echo');
    socket.end(); // close_notify + FIN: the echo's data$ completes, so the server ends too
    await received.end();
    t.is(received.error, null);
    await received.close();
    t.is(seen.length, 1);
    const info = seen[0];
    t.is(info.protocol, 'TLSv1.3');
    t.is(info.cipher.version, 'TLSv1.3');
    t.is(info.cipher.name, cipher);
    t.is(info.alpnProtocol, 'echo');
    t.is(info.servername, 'localhost');
    t.false(info.sessionReused);
    t.false(info.authorized, 'a server that did not request a certificate has not authorized anybody');
    t.is(info.peerCertificate, null);
    await until(() => server.connections === 0, 'the server side to close');
    t.is(server.stats.tlsClientErrors, 0);
    await stopServer(server);
  }));

test.serial('connect({ tls }) talks to a node:tls server: conn.tls names the protocol, the verified certificate and ALPN', (t) =>
  withReactor(t, async (reactor) => {
    const serverNames: Array<string | false> = [];
    const server = tls.createServer({ key: ids.SERVER_KEY, cert: ids.SERVER_CERT, ALPNProtocols: ['echo'] }, (socket) => {
      serverNames.push(socket.servername ?? false);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const port = (server.address() as { port: number }).port;
    const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, servername: 'localhost', ALPNProtocols: ['x', 'echo'] } }));
    const info = conn.tls!;
    t.is(info.protocol, 'TLSv1.3');
    t.true(info.authorized);
    t.is(info.authorizationError, null);
    t.is(info.alpnProtocol, 'echo');
    t.is(info.servername, 'localhost');
    t.true(info.peerCertificate instanceof X509Certificate);
    t.is(info.peerCertificate!.subject, 'CN=localhost');
    t.true(info.peerCertificate!.checkIssued(new X509Certificate(ids.CA_CERT)));
    const reply = readAll(conn);
    conn.write('ping ');
    conn.end('pong');
    t.is((await reply).toString(), 'ping pong');
    t.deepEqual(await closedInfo(conn), { hadError: false });
    t.deepEqual(serverNames, ['localhost']);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }));

test.serial('TLSv1.2 both ways: rxnet server with a node:tls client, rxnet client with maxVersion', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    const { socket, received } = await nodeTlsConnect(port, { maxVersion: 'TLSv1.2' });
    t.is(socket.getProtocol(), 'TLSv1.2');
    socket.end('twelve');
    t.is((await received.end()).toString(), 'twelve');
    await received.close();
    const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, maxVersion: 'TLSv1.2' } }));
    t.is(conn.tls!.protocol, 'TLSv1.2');
    t.regex(conn.tls!.cipher.name, /^ECDHE-ECDSA-/);
    const reply = readAll(conn);
    conn.end('again');
    t.is((await reply).toString(), 'again');
    await closedInfo(conn);
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('listen({ tls }) emits a connection only once its handshake is done', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    let port = 0;
    const source = listen({ host: HOST, port: 0, reactor, tls: SERVER_TLS, onListening: (a) => (port = a.port) });
    const sub = source.subscribe((conn) => conns.push(conn));
    await until(() => port !== 0, 'listening');
    const reported = firstValueFrom(source.events$.pipe(filter((e) => e.type === 'tls-client-error')));
    // A TCP connection that never says a word is not a connection yet.
    const silent = await new Promise<net.Socket>((resolve) => {
      const s = net.connect(port, HOST, () => resolve(s));
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.is(conns.length, 0);
    const { socket, received } = await nodeTlsConnect(port);
    await until(() => conns.length === 1, 'the connection to be emitted');
    t.is(conns[0].tls!.protocol, 'TLSv1.3');
    const echo = conns[0];
    echo.data$.subscribe({ next: (chunk) => echo.write(chunk), complete: () => echo.end() });
    socket.end('via listen()');
    t.is((await received.end()).toString(), 'via listen()');
    await received.close();
    await closedInfo(echo);
    silent.destroy();
    const event = await within(reported, 5000, 'the silent client to be reported');
    t.is((event as { error: NodeJS.ErrnoException }).error.code, 'ECONNRESET');
    t.is(conns.length, 1, 'the silent client never became a connection');
    sub.unsubscribe();
  }));
