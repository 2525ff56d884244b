import * as tls from 'node:tls';
import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect, type Reactor, type TlsClientOptions, type TlsError } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, rejection, stopServer } from '../helpers/streams';
import { clientErrors, ids, startTlsServer } from '../helpers/tls';

function dialTls(reactor: Reactor, port: number, options: TlsClientOptions, host = HOST) {
  return firstValueFrom(connect({ host, port, reactor, tls: options }));
}

test.serial('the client refuses a server whose certificate does not verify, with node:tls codes, and the server hears the alert', (t) =>
  withReactor(t, async (reactor) => {
    const good = await startTlsServer(reactor, (conn) => conn.data$);
    const expired = await startTlsServer(reactor, (conn) => conn.data$, { key: ids.EXPIRED_KEY, cert: ids.EXPIRED_CERT });
    const stranger = await startTlsServer(reactor, (conn) => conn.data$, { key: ids.STRANGER_KEY, cert: ids.STRANGER_CERT });

    const wrongCa = (await rejection(dialTls(reactor, good.port, { ca: ids.OTHER_CA_CERT }))) as TlsError;
    t.is(wrongCa.code, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    t.is(wrongCa.message, 'unable to get local issuer certificate');
    t.is(wrongCa.port, good.port);

    const noCa = (await rejection(dialTls(reactor, good.port, {}))) as TlsError;
    t.is(noCa.code, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', "Node's root certificates do not vouch for the test CA");

    const old = (await rejection(dialTls(reactor, expired.port, { ca: ids.CA_CERT }))) as TlsError;
    t.is(old.code, 'CERT_HAS_EXPIRED');

    const other = (await rejection(dialTls(reactor, stranger.port, { ca: ids.CA_CERT }))) as TlsError;
    t.is(other.code, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');

    const name = (await rejection(dialTls(reactor, good.port, { ca: ids.CA_CERT, servername: 'example.com' }))) as TlsError;
    t.is(name.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    t.is(name.host, 'example.com');
    t.is(name.message, "Hostname/IP does not match certificate's altnames: Host: example.com. is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1");

    // The server side of each refusal: the client's alert, never the handler.
    await until(() => clientErrors(good.events).length === 3 && clientErrors(expired.events).length === 1, 'the alerts to be reported');
    t.deepEqual(
      clientErrors(good.events).map((e) => (e as TlsError).code),
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'],
    );
    t.is((clientErrors(expired.events)[0] as TlsError).code, 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED');
    t.is(good.server.stats.tlsClientErrors, 3);
    for (const s of [good, expired, stranger]) await stopServer(s.server);
  }));

test.serial('the host is checked against IP addresses too, and rejectUnauthorized: false connects and says why it is not authorized', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    // No servername: the certificate must name 127.0.0.1 (it does), and no SNI is sent for an IP.
    const byIp = await dialTls(reactor, port, { ca: ids.CA_CERT });
    t.true(byIp.tls!.authorized);
    t.is(byIp.tls!.servername, false);
    byIp.close();
    const byName = await dialTls(reactor, port, { ca: ids.CA_CERT, servername: 'wrong.test', rejectUnauthorized: false });
    t.false(byName.tls!.authorized);
    t.is(byName.tls!.authorizationError, 'ERR_TLS_CERT_ALTNAME_INVALID');
    byName.close();
    const untrusted = await dialTls(reactor, port, { ca: ids.OTHER_CA_CERT, rejectUnauthorized: false });
    t.false(untrusted.tls!.authorized);
    // Verification went on past the unknown issuer, so the last failure is named.
    t.is(untrusted.tls!.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    t.is(untrusted.tls!.peerCertificate!.subject, 'CN=localhost');
    untrusted.close();
    for (const c of [byIp, byName, untrusted]) await closedInfo(c);
    await until(() => server.connections === 0, 'the server side to close');
    await stopServer(server);
  }));

test.serial('a node:tls client refuses an rxnet server with an expired certificate (CERT_HAS_EXPIRED) or the wrong name', (t) =>
  withReactor(t, async (reactor) => {
    const expired = await startTlsServer(reactor, (conn) => conn.data$, { key: ids.EXPIRED_KEY, cert: ids.EXPIRED_CERT });
    const nodeError = (port: number, servername: string) =>
      new Promise<NodeJS.ErrnoException>((resolve, reject) => {
        const socket = tls.connect({ host: HOST, port, ca: ids.CA_CERT, servername });
        socket.once('secureConnect', () => {
          socket.destroy();
          reject(new Error('connected'));
        });
        socket.once('error', (err) => resolve(err));
      });
    t.is((await nodeError(expired.port, 'localhost')).code, 'CERT_HAS_EXPIRED');
    const good = await startTlsServer(reactor, (conn) => conn.data$);
    t.is((await nodeError(good.port, 'example.com')).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    await until(() => clientErrors(expired.events).length === 1, 'the expired server to hear of it');
    t.is(expired.server.connections, 0);
    await stopServer(expired.server, 1000);
    await stopServer(good.server, 1000);
  }));
