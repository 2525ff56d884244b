/**
 * HAProxy itself as the PROXY protocol sender: `send-proxy` (v1),
 * `send-proxy-v2` with CRC32C and a unique id, `send-proxy-v2-ssl` behind a
 * TLS frontend (ALPN, authority = SNI, SSL version and cipher TLVs), and
 * the LOCAL command of its health checks. The client connects from
 * 127.0.0.9, HAProxy from 127.0.0.1: the handler must see 127.0.0.9, and
 * only HAProxy is trusted.
 *
 * Live where haproxy is installed (or required: RXNET_REQUIRE_CLIENTS=1);
 * everywhere, the same headers as HAProxy 2.6 sent them (recorded by
 * scripts/record-haproxy-headers.mjs into test/fixtures/proxy/) are replayed
 * through node:net.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import test from 'ava';
import type { Connection, ProxyHeader, ServerEvent } from '../../index';
import { withClient } from '../helpers/clients';
import { startHaproxy, freePort, serverPem } from '../helpers/haproxy';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { receive, startServer, stopServer } from '../helpers/streams';

const CLIENT_ADDRESS = '127.0.0.9';

interface Seen {
  remote: { address: string; port: number };
  proxy: ProxyHeader;
}

/** Reads what the server answered (one JSON line) on a plain or TLS socket. */
function answer(socket: net.Socket): Promise<Seen> {
  const got = receive(socket);
  return got.until(() => got.text().includes('\n'), 'the answer').then(() => JSON.parse(got.text()) as Seen);
}

interface Recorded {
  client: string;
  headers: Array<{ name: string; hex: string; clientPort?: number; frontendPort?: number; protocol?: string; cipher?: string; alpn?: string }>;
}

const RECORDED = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'proxy', 'haproxy-headers.json'), 'utf8')) as Recorded;

test.serial("HAProxy's recorded headers (send-proxy, send-proxy-v2 crc32c/unique-id, send-proxy-v2-ssl, LOCAL) replayed from a trusted peer; a flipped CRC byte is refused", (t) =>
  withReactor(t, async (reactor) => {
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(reactor, (conn) => [`${JSON.stringify({ remote: conn.remote, proxy: conn.proxy })}\n`], {
      proxyProtocol: 'any',
      trustedProxies: ['127.0.0.1/32'],
      onEvent: (e) => events.push(e),
    });
    const replay = async (hex: string): Promise<Seen> => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.write(Buffer.from(hex, 'hex'));
      try {
        return await answer(socket);
      } finally {
        socket.destroy();
      }
    };
    const [v1, v2, ssl, local] = RECORDED.headers;
    const client = RECORDED.client;

    const a1 = await replay(v1.hex);
    t.deepEqual(a1.remote, { address: client, family: 'IPv4', port: v1.clientPort });
    t.like(a1.proxy, { version: 1, command: 'PROXY', family: 'IPv4' });
    t.deepEqual(a1.proxy.destination, { address: '127.0.0.1', family: 'IPv4', port: v1.frontendPort });

    const a2 = await replay(v2.hex);
    t.deepEqual(a2.remote, { address: client, family: 'IPv4', port: v2.clientPort });
    t.like(a2.proxy, { version: 2, command: 'PROXY', family: 'IPv4', protocol: 'stream' });
    t.deepEqual(a2.proxy.tlvs.map((x) => x.type).sort(), [0x03, 0x05], 'the CRC32C (verified) and unique id TLVs');
    t.is(Buffer.from((a2.proxy.uniqueId as unknown as { data: number[] }).data).toString(), `conn-${client}-${v2.clientPort}`);

    const a3 = await replay(ssl.hex);
    t.deepEqual(a3.remote, { address: client, family: 'IPv4', port: ssl.clientPort });
    t.is(a3.proxy.alpn, ssl.alpn!);
    t.is(a3.proxy.authority, 'example.test');
    t.like(a3.proxy.ssl, { client: 1, version: ssl.protocol!, cipher: ssl.cipher! });
    t.truthy(a3.proxy.ssl!.sigAlg);
    t.truthy(a3.proxy.ssl!.keyAlg);

    const a4 = await replay(local.hex);
    t.like(a4.proxy, { version: 2, command: 'LOCAL', family: 'unspec', source: null });
    t.is(a4.remote.address, '127.0.0.1', 'a LOCAL connection keeps the real peer');

    // One bit of HAProxy's checksum (the value of the CRC32C TLV, type 0x03, length 4) flipped.
    const bad = Buffer.from(v2.hex, 'hex');
    const crcAt = bad.indexOf(Buffer.from([0x03, 0x00, 0x04]), 16) + 3;
    bad[crcAt] ^= 0x01;
    const refused = net.connect({ port, host: '127.0.0.1' });
    const got = receive(refused);
    refused.write(bad);
    await got.close();
    t.is(got.text(), '', 'closed unanswered');
    await until(() => events.some((e) => e.type === 'proxy-rejected'), 'the refusal event');
    const rejected = events.filter((e) => e.type === 'proxy-rejected');
    t.is(rejected.length, 1);
    t.regex((rejected[0] as { error: Error }).error.message, /CRC32C checksum mismatch/);
    await stopServer(server, 500);
  }));

if (withClient('haproxy')) test.serial('HAProxy send-proxy, send-proxy-v2 (crc32c, unique-id), send-proxy-v2-ssl and health checks', (t) =>
  withReactor(t, async (reactor) => {
    const locals: Connection[] = [];
    const events: ServerEvent[] = [];
    const { server, port } = await startServer(
      reactor,
      (conn) => {
        // Health checks (LOCAL) connect and leave; everyone else gets told who they are.
        if (conn.proxy!.command === 'LOCAL') {
          locals.push(conn);
          return conn.data$;
        }
        return [`${JSON.stringify({ remote: conn.remote, proxy: conn.proxy })}\n`];
      },
      { proxyProtocol: 'any', trustedProxies: ['127.0.0.1/32'], onEvent: (e) => events.push(e) },
    );
    const [v1, v2, ssl] = [await freePort(), await freePort(), await freePort()];
    const haproxy = await startHaproxy(
      (dir) => `
global
  maxconn 200
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v1
  bind 127.0.0.1:${v1}
  default_backend v1
backend v1
  server s 127.0.0.1:${port} send-proxy
frontend v2
  bind 127.0.0.1:${v2}
  unique-id-format conn-%ci-%cp
  default_backend v2
backend v2
  server s 127.0.0.1:${port} send-proxy-v2 proxy-v2-options crc32c,unique-id
frontend ssl
  bind 127.0.0.1:${ssl} ssl crt ${serverPem(dir)} alpn h2,http/1.1
  default_backend ssl
backend ssl
  server s 127.0.0.1:${port} send-proxy-v2-ssl proxy-v2-options ssl-cipher,cert-sig,cert-key,authority
backend checks
  server s 127.0.0.1:${port} send-proxy-v2 check inter 100ms
`,
      [v1, v2, ssl],
    );
    try {
      const plain = (p: number) => net.connect({ port: p, host: '127.0.0.1', localAddress: CLIENT_ADDRESS });

      const s1 = plain(v1);
      const a1 = await answer(s1);
      t.is(a1.remote.address, CLIENT_ADDRESS);
      t.is(a1.remote.port, s1.localPort!);
      t.like(a1.proxy, { version: 1, command: 'PROXY', family: 'IPv4' });
      t.deepEqual(a1.proxy.destination, { address: '127.0.0.1', family: 'IPv4', port: v1 });
      s1.destroy();

      const s2 = plain(v2);
      const a2 = await answer(s2);
      t.deepEqual(a2.remote, { address: CLIENT_ADDRESS, family: 'IPv4', port: s2.localPort });
      t.like(a2.proxy, { version: 2, command: 'PROXY', family: 'IPv4', protocol: 'stream' });
      // HAProxy's CRC32C was verified (a mismatch would have refused the connection); its TLV is kept.
      t.deepEqual(a2.proxy.tlvs.map((x) => x.type).sort(), [0x03, 0x05]);
      t.is(Buffer.from((a2.proxy.uniqueId as unknown as { data: number[] }).data).toString(), `conn-${CLIENT_ADDRESS}-${s2.localPort}`);
      s2.destroy();

      const s3 = tls.connect({ socket: plain(ssl), servername: 'example.test', ALPNProtocols: ['h2'], rejectUnauthorized: false });
      const a3 = await answer(s3);
      t.is(s3.alpnProtocol, 'h2');
      t.is(a3.remote.address, CLIENT_ADDRESS);
      t.is(a3.proxy.alpn, 'h2');
      t.is(a3.proxy.authority, 'example.test');
      t.like(a3.proxy.ssl, { client: 1, version: s3.getProtocol()!, cipher: s3.getCipher().standardName });
      t.truthy(a3.proxy.ssl!.sigAlg);
      t.truthy(a3.proxy.ssl!.keyAlg);
      s3.destroy();

      await until(() => locals.length > 0, 'a health check');
      t.like(locals[0].proxy, { version: 2, command: 'LOCAL', family: 'unspec', source: null });
      t.is(locals[0].remote.address, '127.0.0.1', 'a LOCAL connection keeps the real peer');

      // The client itself is not a trusted proxy. (HAProxy's own refusals
      // are counted too: its readiness probes leave before sending a header.)
      const untrusted = () => events.filter((e) => e.type === 'proxy-rejected' && (e.error as NodeJS.ErrnoException).code === 'ERR_RXNET_PROXY_UNTRUSTED');
      t.is(untrusted().length, 0);
      const direct = net.connect({ port, host: '127.0.0.1', localAddress: CLIENT_ADDRESS });
      direct.on('error', () => {});
      await until(() => untrusted().length === 1, 'the untrusted client to be refused');
      t.like(untrusted()[0], { remote: CLIENT_ADDRESS });
      direct.destroy();
    } finally {
      await haproxy.stop();
    }
    await stopServer(server, 500);
  }));
