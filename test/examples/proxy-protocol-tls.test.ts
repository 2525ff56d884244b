/**
 * PROXY protocol in front of TLS, end to end: HAProxy in `mode tcp`
 * passing TLS through to an rxnet TLS server with `send-proxy-v2` (the
 * deployment issue 11 asks for), and the tcp-echo, http and kv demos with
 * --tls-cert/--tls-key and --proxy-protocol together. The client connects
 * from 127.0.0.5/127.0.0.6; the server must see that address, not the
 * proxy's.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import test from 'ava';
import { encodeProxyHeader, type Connection, type ServerEvent } from '../../index';
import { withClient } from '../helpers/clients';
import { freePort, startHaproxy } from '../helpers/haproxy';
import { assertNoFdLeak, openFds, withReactor } from '../helpers/leaks';
import { tlsBehindHeader } from '../helpers/proxy-tls';
import { receive, randomBytes, sha256, startServer, stopServer } from '../helpers/streams';
import { identityFiles, ids, SERVER_TLS } from '../helpers/tls';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);
const CLIENT = { address: '192.0.2.77', port: 5151 };
const FRONT = { address: '192.0.2.1', port: 443 };

if (withClient('haproxy')) {
  test.serial('HAProxy mode tcp, send-proxy-v2, TLS passed through: conn.remote is the real client, conn.tls is set', (t) =>
    withReactor(t, async (reactor) => {
      const seen: Array<{ remote: { address: string; port: number }; protocol: string | undefined }> = [];
      const events: ServerEvent[] = [];
      const { server, port } = await startServer(
        reactor,
        (conn: Connection) => {
          seen.push({ remote: conn.remote, protocol: conn.tls?.protocol });
          return conn.data$;
        },
        { tls: SERVER_TLS, proxyProtocol: 'v2', trustedProxies: ['127.0.0.1/32'], onEvent: (e) => events.push(e) },
      );
      const front = await freePort();
      const haproxy = await startHaproxy(
        () => `
global
  maxconn 100
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend passthrough
  bind 127.0.0.1:${front}
  default_backend app
backend app
  server s 127.0.0.1:${port} send-proxy-v2
`,
        [front],
      );
      try {
        for (const localAddress of ['127.0.0.5', '127.0.0.6']) {
          const socket = tls.connect({ socket: net.connect({ host: '127.0.0.1', port: front, localAddress }), ca: ids.CA_CERT, servername: 'localhost' });
          const got = receive(socket);
          await new Promise<void>((resolve, reject) => {
            socket.once('secureConnect', resolve);
            socket.once('error', reject);
          });
          const data = randomBytes(256 * 1024);
          socket.write(data);
          await got.atLeast(data.length);
          t.is(sha256(got.bytes()), sha256(data), `${localAddress}: echoed byte-exact`);
          const mine = seen[seen.length - 1];
          t.deepEqual(mine.remote, { address: localAddress, family: 'IPv4', port: socket.localPort }, 'the real client, not HAProxy');
          t.is(mine.protocol, socket.getProtocol()!);
          socket.destroy();
          await got.close();
        }
        t.is(seen.length, 2);
        // HAProxy's readiness probes (startHaproxy connects and leaves) each
        // cost a handshake that never started, reported as from the probe
        // (the header's client, 127.0.0.1): none from our clients.
        const tlsErrors = events.flatMap((e) => (e.type === 'tls-client-error' ? [e.remote?.address] : []));
        t.deepEqual(tlsErrors.filter((a) => a !== '127.0.0.1'), [], JSON.stringify(tlsErrors));
      } finally {
        await haproxy.stop();
        await stopServer(server, 500);
      }
    }));
}

function tlsArgs(proxyProtocol: string): string[] {
  const files = identityFiles();
  return ['--tls-cert', files.SERVER_CERT, '--tls-key', files.SERVER_KEY, '--proxy-protocol', proxyProtocol, '--trusted-proxies', '127.0.0.1/32'];
}

/** Sends `request` over TLS behind a v2 header naming CLIENT; resolves once `done(text)` holds. */
async function ask(port: number, request: string, done: (text: string) => boolean): Promise<string> {
  const { socket, received } = await tlsBehindHeader(port, encodeProxyHeader('v2', { source: CLIENT, destination: FRONT }), 'one-write');
  socket.write(request);
  await received.until(() => done(received.text()), 'the answer');
  socket.destroy();
  await received.close();
  return received.text();
}

test.serial('tcp-echo, http and kv with --tls-cert/--tls-key and --proxy-protocol: the handler sees the header client over TLS', async (t) => {
  const before = openFds();
  const echo = await start('tcp-echo/main.js', tlsArgs('v2'));
  t.regex(echo.output(), /listening on 127\.0\.0\.1:\d+ \(tls\)/);
  t.is(await ask(echo.port, 'echo me\n', (s) => s.endsWith('\n')), 'echo me\n');
  // Plain TLS straight to it, no header: refused, and the demo carries on.
  const direct = tls.connect({ host: '127.0.0.1', port: echo.port, ca: ids.CA_CERT, servername: 'localhost' });
  direct.on('error', () => {});
  await receive(direct).close();
  t.is(await ask(echo.port, 'again\n', (s) => s.endsWith('\n')), 'again\n');
  t.is(await echo.stop(), 0);

  const http = await start('http/main.js', tlsArgs('any'));
  const page = await ask(http.port, 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', (s) => s.endsWith(`${CLIENT.address} ${CLIENT.port}\n`));
  t.regex(page, /^HTTP\/1\.1 200 /);
  t.is(await http.stop(), 0);

  const kv = await start('kv/main.js', tlsArgs('v2'));
  const info = await ask(kv.port, '*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n', (s) => /\r\n$/.test(s) && s.includes('laddr='));
  t.regex(info, new RegExp(`(^|[ $\\n])addr=${CLIENT.address.replace(/\./g, '\\.')}:${CLIENT.port} `), info);
  t.is(await kv.stop(), 0);
  await assertNoFdLeak(t, before);
});
