import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect, type TlsError, type TlsInfo } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, readAll, stopServer } from '../helpers/streams';
import { clientErrors, ids, nodeTlsConnect, SERVER_TLS, startTlsServer } from '../helpers/tls';

const MTLS = { ...SERVER_TLS, ca: ids.CA_CERT, requestCert: true };

test.serial('mutual TLS: a client certificate the CA signed is authorized, and the handler sees it as an X509Certificate', (t) =>
  withReactor(t, async (reactor) => {
    const seen: TlsInfo[] = [];
    const { server, port } = await startTlsServer(
      reactor,
      (conn) => {
        seen.push(conn.tls!);
        return conn.data$;
      },
      MTLS,
    );
    const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, key: ids.CLIENT_KEY, cert: ids.CLIENT_CERT } }));
    const reply = readAll(conn);
    conn.end('with a certificate');
    t.is((await reply).toString(), 'with a certificate');
    await closedInfo(conn);
    // And from node:tls.
    const { socket, received } = await nodeTlsConnect(port, { key: ids.CLIENT_KEY, cert: ids.CLIENT_CERT });
    socket.end('node too');
    t.is((await received.end()).toString(), 'node too');
    await received.close();
    t.is(seen.length, 2);
    for (const info of seen) {
      t.true(info.authorized);
      t.is(info.authorizationError, null);
      t.is(info.peerCertificate!.subject, 'CN=rxnet test client');
    }
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('mutual TLS: no certificate, or one from another CA, fails the handshake and never reaches the handler', (t) =>
  withReactor(t, async (reactor) => {
    let handled = 0;
    const { server, port, events } = await startTlsServer(
      reactor,
      (conn) => {
        handled++;
        return conn.data$;
      },
      MTLS,
    );
    // TLSv1.3: the client finishes first and hears of the refusal on its first read.
    for (const options of [{}, { key: ids.STRANGER_KEY, cert: ids.STRANGER_CERT }]) {
      const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, ...options } }));
      const error = (await readAll(conn).then(
        () => null,
        (err: unknown) => err,
      )) as TlsError | null;
      t.truthy(error, 'the client hears an alert');
      t.regex(error!.code, /^ERR_SSL_TLSV1(3)?_ALERT_|^ERR_SSL_SSLV3_ALERT_/);
      await closedInfo(conn);
    }
    await until(() => clientErrors(events).length === 2, 'both refusals to be reported');
    t.deepEqual(
      clientErrors(events).map((e) => (e as TlsError).code),
      ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
    );
    t.is(server.stats.tlsClientErrors, 2);
    t.is(handled, 0);
    await stopServer(server);
  }));

test.serial('requestCert with rejectUnauthorized: false lets an unverified client in and says why', (t) =>
  withReactor(t, async (reactor) => {
    const seen: TlsInfo[] = [];
    const { server, port } = await startTlsServer(
      reactor,
      (conn) => {
        seen.push(conn.tls!);
        return conn.data$;
      },
      { ...MTLS, rejectUnauthorized: false },
    );
    for (const options of [{}, { key: ids.STRANGER_KEY, cert: ids.STRANGER_CERT }]) {
      const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, ...options } }));
      const reply = readAll(conn);
      conn.end('let in');
      t.is((await reply).toString(), 'let in');
      await closedInfo(conn);
    }
    t.deepEqual(
      seen.map((i) => [i.authorized, i.authorizationError, i.peerCertificate?.subject ?? null]),
      [
        [false, 'UNABLE_TO_GET_ISSUER_CERT', null],
        [false, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CN=localhost'],
      ],
    );
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));
