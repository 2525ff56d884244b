import * as crypto from 'node:crypto';
import * as tls from 'node:tls';
import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect, createSecureContext, type Reactor, type TlsClientOptions, type TlsError } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, readAll, rejection, stopServer } from '../helpers/streams';
import { clientErrors, ids, SERVER_TLS, startTlsServer } from '../helpers/tls';

async function talk(reactor: Reactor, port: number, options: TlsClientOptions) {
  const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, ...options } }));
  const reply = readAll(conn);
  conn.write('ping');
  await until(() => conn.bytesRead > 0, 'the echo');
  const info = conn.tls!;
  const session = info.getSession();
  conn.end();
  await reply;
  await closedInfo(conn);
  return { info, session };
}

test.serial('SNI without a callback: a context per name (wildcards match one label), chosen natively', (t) =>
  withReactor(t, async (reactor) => {
    const other = createSecureContext({ key: ids.SNI_KEY, cert: ids.SNI_CERT });
    const seen: Array<string | false> = [];
    const { server, port } = await startTlsServer(
      reactor,
      (conn) => {
        seen.push(conn.tls!.servername);
        return conn.data$;
      },
      { ...SERVER_TLS, sniContexts: { 'other.test': other, '*.wild.test': { key: ids.SNI_KEY, cert: ids.SNI_CERT } } },
    );
    const subjects: string[] = [];
    for (const servername of ['other.test', 'a.wild.test', 'localhost']) {
      const { info } = await talk(reactor, port, { servername });
      t.true(info.authorized, `${servername}: ${info.authorizationError}`);
      subjects.push(info.peerCertificate!.subject);
    }
    t.deepEqual(subjects, ['CN=other.test', 'CN=other.test', 'CN=localhost']);
    t.deepEqual(seen, ['other.test', 'a.wild.test', 'localhost']);
    // One label only: a.b.wild.test is not *.wild.test, and gets the default.
    const deep = (await rejection(talk(reactor, port, { servername: 'a.b.wild.test' }))) as TlsError;
    t.is(deep.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('SNICallback answers later; its error fails that handshake only', (t) =>
  withReactor(t, async (reactor) => {
    const other = createSecureContext({ key: ids.SNI_KEY, cert: ids.SNI_CERT });
    const asked: string[] = [];
    const { server, port, events } = await startTlsServer(reactor, (conn) => conn.data$, {
      ...SERVER_TLS,
      SNICallback: (servername, callback) => {
        asked.push(servername);
        setTimeout(() => {
          if (servername === 'refused.test') callback(Object.assign(new Error('no such site'), { code: 'ENOSITE' }));
          else callback(null, servername === 'other.test' ? other : undefined);
        }, 20);
      },
    });
    t.is((await talk(reactor, port, { servername: 'other.test' })).info.peerCertificate!.subject, 'CN=other.test');
    t.is((await talk(reactor, port, { servername: 'localhost' })).info.peerCertificate!.subject, 'CN=localhost');
    await rejection(talk(reactor, port, { servername: 'refused.test', rejectUnauthorized: false }));
    await until(() => clientErrors(events).length === 1, 'the refusal to be reported');
    t.is((clientErrors(events)[0] as NodeJS.ErrnoException).code, 'ENOSITE');
    t.deepEqual(asked, ['other.test', 'localhost', 'refused.test']);
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('ALPN: the server picks its first protocol the client offers; no overlap is a fatal no_application_protocol alert', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, events } = await startTlsServer(reactor, (conn) => conn.data$, { ...SERVER_TLS, ALPNProtocols: ['h2', 'http/1.1'] });
    t.is((await talk(reactor, port, { ALPNProtocols: ['http/1.1', 'h2'] })).info.alpnProtocol, 'h2');
    t.is((await talk(reactor, port, { ALPNProtocols: ['spdy', 'http/1.1'] })).info.alpnProtocol, 'http/1.1');
    t.is((await talk(reactor, port, {})).info.alpnProtocol, false);
    const error = (await rejection(talk(reactor, port, { ALPNProtocols: ['imap'] }))) as TlsError;
    t.is(error.code, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
    await until(() => clientErrors(events).length === 1, 'the server to report it');
    t.is((clientErrors(events)[0] as TlsError).code, 'ERR_SSL_NO_APPLICATION_PROTOCOL');
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('sessions: an rxnet client resumes with getSession(); servers sharing ticketKeys resume each other\'s, node:tls included', (t) =>
  withReactor(t, async (reactor) => {
    const ticketKeys = crypto.randomBytes(48);
    const a = await startTlsServer(reactor, (conn) => conn.data$, { ...SERVER_TLS, ticketKeys });
    const b = await startTlsServer(reactor, (conn) => conn.data$, { ...SERVER_TLS, ticketKeys });
    const first = await talk(reactor, a.port, {});
    t.false(first.info.sessionReused);
    t.truthy(first.session);
    const again = await talk(reactor, a.port, { session: first.session });
    t.true(again.info.sessionReused);
    t.true(again.info.authorized, 'a resumed session is as authorized as the one it resumes');
    const elsewhere = await talk(reactor, b.port, { session: first.session });
    t.true(elsewhere.info.sessionReused, 'the other server decrypts the ticket with the shared keys');
    // A node:tls server with the same keys (and session id context) takes the ticket too.
    const node = tls.createServer({ key: ids.SERVER_KEY, cert: ids.SERVER_CERT, ticketKeys, sessionIdContext: 'rxnet' }, (socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => node.listen(0, HOST, resolve));
    const viaNode = await talk(reactor, (node.address() as { port: number }).port, { session: first.session });
    t.true(viaNode.info.sessionReused);
    await new Promise<void>((resolve) => node.close(() => resolve()));
    // And without the keys: a full handshake, not an error.
    const c = await startTlsServer(reactor, (conn) => conn.data$);
    t.false((await talk(reactor, c.port, { session: first.session })).info.sessionReused);
    for (const s of [a, b, c]) {
      await until(() => s.server.connections === 0, 'the server side to close');
      await stopServer(s.server);
    }
  }));
