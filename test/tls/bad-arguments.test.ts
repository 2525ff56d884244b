import test from 'ava';
import { connect, createSecureContext, listen, serve, type TlsServerOptions } from '../../index';
import { withReactor } from '../helpers/leaks';
import { ids, SERVER_TLS } from '../helpers/tls';

// An encrypted copy of SERVER_KEY (passphrase 'sesame'), made with
// `openssl pkey -aes-128-cbc -passout pass:sesame`.
const ENCRYPTED_KEY = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgi/xJgeZ9fLQICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEENRive/OtfS2eYWbemVAM88EgZBh
VnqFKC6jLGAHT+4j8uoSXhYW3nkp7Dmxus7O5jbOJ5AiHyCWVYOjAxZMNC+iy7o1
WEBn/Sd+Jwc9Y2EiuAYTucNacCpj5kExg8DpjJzKrlWevcVStt8a5VIsuN9hVj2B
uZoUMvuoLVW/wCF7DYaDNOEr+imNagiB479x/ggABKDBeoIX6DJe9AxISXlVPKw=
-----END ENCRYPTED PRIVATE KEY-----
`;

test('createSecureContext: what OpenSSL refuses throws at once, with the codes node:tls gives', (t) => {
  const code = (f: () => unknown) => t.throws(f) as NodeJS.ErrnoException;
  t.is(code(() => createSecureContext({ key: 'not a key', cert: ids.SERVER_CERT })).code, 'ERR_OSSL_UNSUPPORTED');
  t.is(code(() => createSecureContext({ cert: 'not a certificate' })).code, 'ERR_OSSL_PEM_NO_START_LINE');
  t.is(code(() => createSecureContext({ key: ids.CLIENT_KEY, cert: ids.SERVER_CERT })).code, 'ERR_OSSL_X509_KEY_VALUES_MISMATCH');
  t.is(code(() => createSecureContext({ ciphers: 'no-such-cipher' })).code, 'ERR_SSL_NO_CIPHER_MATCH');
  t.is(code(() => createSecureContext({ ecdhCurve: 'no-such-curve' })).code, 'ERR_CRYPTO_OPERATION_FAILED');
  const version = t.throws(() => createSecureContext({ minVersion: 'TLSv9' as 'TLSv1.3' }), { instanceOf: TypeError }) as NodeJS.ErrnoException;
  t.is(version.code, 'ERR_TLS_INVALID_PROTOCOL_VERSION');
  t.is(code(() => createSecureContext({ ticketKeys: Buffer.alloc(47) })).code, 'ERR_INVALID_ARG_VALUE');
  t.is(code(() => createSecureContext({ cert: 42 as unknown as string })).code, 'ERR_INVALID_ARG_TYPE');
  t.is(code(() => createSecureContext({ key: [{ pem: 42 }] as unknown as string })).code, 'ERR_INVALID_ARG_TYPE');
  t.is(code(() => createSecureContext(null as unknown as object)).code, 'ERR_INVALID_ARG_TYPE');
});

test('an encrypted key needs its passphrase (alone or beside the key); a wrong one is ERR_OSSL_BAD_DECRYPT, never a terminal prompt', (t) => {
  const key = ENCRYPTED_KEY;
  t.is((t.throws(() => createSecureContext({ key, cert: ids.SERVER_CERT })) as NodeJS.ErrnoException).code, 'ERR_OSSL_BAD_DECRYPT');
  t.is((t.throws(() => createSecureContext({ key, cert: ids.SERVER_CERT, passphrase: 'wrong' })) as NodeJS.ErrnoException).code, 'ERR_OSSL_BAD_DECRYPT');
  t.notThrows(() => createSecureContext({ key, cert: ids.SERVER_CERT, passphrase: 'sesame' }));
  t.notThrows(() => createSecureContext({ key: [{ pem: key, passphrase: 'sesame' }], cert: ids.SERVER_CERT }));
});

test.serial('serve/listen/connect check their tls options synchronously, before anything is bound or connected', (t) =>
  withReactor(t, (reactor) => {
    const bad: Array<[TlsServerOptions, string, ErrorConstructor]> = [
      [{}, 'ERR_INVALID_ARG_VALUE', TypeError],
      [{ key: ids.SERVER_KEY }, 'ERR_INVALID_ARG_VALUE', TypeError],
      [{ ...SERVER_TLS, ALPNProtocols: ['x'.repeat(256)] }, 'ERR_OUT_OF_RANGE', RangeError],
      [{ ...SERVER_TLS, ALPNProtocols: 'h2' as unknown as string[] }, 'ERR_INVALID_ARG_TYPE', TypeError],
      [{ ...SERVER_TLS, SNICallback: 'no' as unknown as TlsServerOptions['SNICallback'] }, 'ERR_INVALID_ARG_TYPE', TypeError],
      [{ ...SERVER_TLS, handshakeTimeout: -1 }, 'ERR_OUT_OF_RANGE', RangeError],
      [{ ...SERVER_TLS, requestCert: 'yes' as unknown as boolean }, 'ERR_INVALID_ARG_TYPE', TypeError],
      [{ ...SERVER_TLS, secureContext: {} as never }, 'ERR_INVALID_ARG_TYPE', TypeError],
      [{ ...SERVER_TLS, sessionIdContext: 'x'.repeat(33) }, 'ERR_INVALID_ARG_VALUE', TypeError],
      [{ ...SERVER_TLS, sniContexts: { 'a.test': { cert: 'nonsense' } } }, 'ERR_OSSL_PEM_NO_START_LINE', Error],
    ];
    for (const [tls, code, Kind] of bad) {
      const e1 = t.throws(() => serve({ port: 0, reactor, tls }, () => undefined), { instanceOf: Kind }) as NodeJS.ErrnoException;
      t.is(e1.code, code, JSON.stringify(Object.keys(tls)));
      t.is((t.throws(() => listen({ port: 0, reactor, tls })) as NodeJS.ErrnoException).code, code);
    }
    t.is((t.throws(() => connect({ port: 1, reactor, tls: { servername: 7 as unknown as string } })) as NodeJS.ErrnoException).code, 'ERR_INVALID_ARG_TYPE');
    t.is((t.throws(() => connect({ port: 1, reactor, tls: { session: 'abc' as unknown as Uint8Array } })) as NodeJS.ErrnoException).code, 'ERR_INVALID_ARG_TYPE');
    t.is((t.throws(() => connect({ port: 1, reactor, tls: { rejectUnauthorized: 0 as unknown as boolean } })) as NodeJS.ErrnoException).code, 'ERR_INVALID_ARG_TYPE');
    t.is((t.throws(() => connect({ port: 1, reactor, tls: { ca: 'not a certificate' } })) as NodeJS.ErrnoException).code, 'ERR_OSSL_PEM_NO_START_LINE');
    t.is(reactor.stats.registrations, 0);
  }));
