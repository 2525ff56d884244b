/**
 * `proxyProtocol` together with `tls` (HAProxy in `mode tcp` passing TLS
 * through with `send-proxy-v2`): the header comes in the clear, then the
 * ClientHello. The server must take exactly the header's bytes before the
 * TLS stage sees any: a byte too few or too many and the handshake fails
 * (so every successful byte-exact echo below checks the count). A bad
 * header is a 'proxy-rejected', a bad handshake after a good header a
 * 'tls-client-error'; each has its own deadline. connect({ tls,
 * proxyProtocol }) sends the header in the clear before its ClientHello.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import test from 'ava';
import { encodeProxyHeader, Interest, parseProxyHeader, sys, type Connection, type ServerEvent, type ServeOptions } from '../../index';
import { delay, withReactor } from '../helpers/leaks';
import { readExactly, until } from '../helpers/readiness';
import { acceptOne, destroy } from '../helpers/sockets';
import { HOST, dial, readAll, receive, randomBytes, rejection, sha256, startServer, stopServer, within } from '../helpers/streams';
import { connected, PrefixedSocket, tlsBehindHeader } from '../helpers/proxy-tls';
import { ids, SERVER_TLS } from '../helpers/tls';

const CLIENT = { address: '203.0.113.7', port: 4242 };
const FRONT = { address: '198.51.100.1', port: 443 };
const CLIENT6 = { address: '2001:db8::7', port: 4343 };
const FRONT6 = { address: '2001:db8::1', port: 443 };

/** A header naming CLIENT (v1 or v2, with an authority TLV on v2). */
function headerOf(version: 'v1' | 'v2', ipv6 = false): Buffer {
  const [source, destination] = ipv6 ? [CLIENT6, FRONT6] : [CLIENT, FRONT];
  return encodeProxyHeader(version, { source, destination, ...(version === 'v2' ? { tlvs: [{ type: 0x02, value: 'example.test' }] } : {}) });
}

/** serve({ tls, proxyProtocol }) echoing, recording its connections and events. */
async function echoServer(reactor: Parameters<typeof startServer>[0], options: Omit<ServeOptions, 'reactor'>) {
  const seen: Connection[] = [];
  const events: ServerEvent[] = [];
  const started = await startServer(
    reactor,
    (conn) => {
      // Read now (and kept): the peer's address cannot be asked of a closed socket.
      void conn.remote;
      seen.push(conn);
      return conn.data$;
    },
    { tls: SERVER_TLS, ...options, onEvent: (e) => events.push(e) },
  );
  return { ...started, seen, events };
}

const types = (events: readonly ServerEvent[]) => events.filter((e) => e.type !== 'listening' && e.type !== 'shutdown').map((e) => e.type);

test.serial('v2 header and ClientHello in one write: remote is the header client, conn.tls is set, 1 MB echoes byte-exact', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await echoServer(reactor, { proxyProtocol: 'v2' });
    const { socket, received } = await tlsBehindHeader(port, headerOf('v2'), 'one-write');
    const data = randomBytes(1024 * 1024);
    socket.write(data);
    await received.atLeast(data.length, 20_000);
    t.is(received.length, data.length);
    t.is(sha256(received.bytes()), sha256(data));
    t.is(seen.length, 1);
    t.deepEqual(seen[0].remote, { ...CLIENT, family: 'IPv4' });
    t.like(seen[0].proxy, { version: 2, command: 'PROXY', authority: 'example.test' });
    t.is(seen[0].tls!.protocol, socket.getProtocol()!);
    t.is(seen[0].local.port, port, 'local stays the real socket');
    t.deepEqual(types(events), []);
    t.like(server.stats, { proxyRejected: 0, tlsClientErrors: 0 });
    await destroy(socket);
    await stopServer(server, 500);
  }));

test.serial('v1 and v2 headers, in one write or dribbled a byte at a time, on v1, v2 and any listeners', (t) =>
  withReactor(t, async (reactor) => {
    const cases = [
      ['v1', 'v1'],
      ['v2', 'v2'],
      ['any', 'v1'],
      ['any', 'v2'],
    ] as const;
    for (const [listener, version] of cases) {
      const { server, port, seen, events } = await echoServer(reactor, { proxyProtocol: listener });
      for (const mode of ['one-write', 'dribbled'] as const) {
        for (const ipv6 of [false, true]) {
          const what = `${version} on ${listener}, ${mode}${ipv6 ? ', IPv6' : ''}`;
          const { socket, received } = await tlsBehindHeader(port, headerOf(version, ipv6), mode);
          socket.write(`ping ${what}`);
          await received.until(() => received.text() === `ping ${what}`, what);
          const conn = seen[seen.length - 1];
          t.deepEqual(conn.remote, ipv6 ? { ...CLIENT6, family: 'IPv6' } : { ...CLIENT, family: 'IPv4' }, what);
          t.is(conn.proxy!.version, version === 'v1' ? 1 : 2, what);
          t.truthy(conn.tls?.protocol, what);
          await destroy(socket);
        }
      }
      t.deepEqual(types(events), [], `${listener}: no rejection, no TLS error`);
      await stopServer(server, 500);
    }
  }));

test.serial('a missing, bad or untrusted header is proxy-rejected, never a TLS error', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await echoServer(reactor, { proxyProtocol: 'v2' });
    // A plain TLS client, no header: its ClientHello is not a v2 signature.
    const direct = tls.connect({ host: HOST, port, ca: ids.CA_CERT, servername: 'localhost' });
    direct.on('error', () => {});
    await receive(direct).close();
    // A v1 header on a v2 listener, then a real ClientHello.
    const wrong = tls.connect({ ca: ids.CA_CERT, servername: 'localhost', socket: new PrefixedSocket(await connected(port), headerOf('v1')) });
    wrong.on('error', () => {});
    await receive(wrong).close();
    await until(() => events.length >= 3, 'two rejections');
    const rejected = events.filter((e) => e.type === 'proxy-rejected');
    t.deepEqual(
      rejected.map((e) => (e.error as NodeJS.ErrnoException).code),
      ['ERR_RXNET_PROXY_HEADER', 'ERR_RXNET_PROXY_HEADER'],
    );
    t.like(rejected[0], { remote: HOST });
    t.like(server.stats, { proxyRejected: 2, tlsClientErrors: 0 });
    await stopServer(server, 500);

    const strict = await echoServer(reactor, { proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/8'] });
    const untrusted = tls.connect({ ca: ids.CA_CERT, servername: 'localhost', socket: new PrefixedSocket(await connected(strict.port), headerOf('v2')) });
    untrusted.on('error', () => {});
    await receive(untrusted).close();
    await until(() => strict.events.some((e) => e.type === 'proxy-rejected'), 'the untrusted peer refused');
    t.deepEqual(types(strict.events), ['proxy-rejected']);
    t.is((strict.events.find((e) => e.type === 'proxy-rejected')!.error as NodeJS.ErrnoException).code, 'ERR_RXNET_PROXY_UNTRUSTED');
    t.like(strict.server.stats, { proxyRejected: 1, tlsClientErrors: 0 });
    t.is(seen.length + strict.seen.length, 0, 'nothing reached a handler');
    await stopServer(strict.server, 500);
  }));

test.serial('a good header, then garbage instead of a ClientHello: tls-client-error naming the header client, not proxy-rejected', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await echoServer(reactor, { proxyProtocol: 'any' });
    for (const version of ['v1', 'v2'] as const) {
      const raw = await connected(port);
      const got = receive(raw);
      raw.write(Buffer.concat([headerOf(version), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]));
      await got.close();
    }
    await until(() => events.filter((e) => e.type === 'tls-client-error').length === 2, 'two TLS client errors');
    t.deepEqual(types(events), ['tls-client-error', 'tls-client-error']);
    for (const e of events) if (e.type === 'tls-client-error') t.deepEqual(e.remote, { ...CLIENT, family: 'IPv4' });
    t.like(server.stats, { proxyRejected: 0, tlsClientErrors: 2 });
    t.is(seen.length, 0);
    await stopServer(server, 500);
  }));

test.serial('proxyHeaderTimeout covers the header; handshakeTimeout then covers the handshake', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await echoServer(reactor, {
      proxyProtocol: 'v2',
      proxyHeaderTimeout: 150,
      tls: { ...SERVER_TLS, handshakeTimeout: 600 },
    });
    const header = headerOf('v2');
    // Half a header, then silence.
    const partial = await connected(port);
    const partialGot = receive(partial);
    partial.write(header.subarray(0, 20));
    await partialGot.close();
    t.deepEqual(types(events), ['proxy-rejected']);
    t.is((events.find((e) => e.type === 'proxy-rejected')!.error as NodeJS.ErrnoException).code, 'ERR_RXNET_PROXY_HEADER_TIMEOUT');
    // The whole header, then silence: well past proxyHeaderTimeout it is
    // the handshake that times out.
    const stalled = await connected(port);
    const stalledGot = receive(stalled);
    const sentAt = Date.now();
    stalled.write(header);
    await stalledGot.close();
    t.true(Date.now() - sentAt >= 500, 'not before handshakeTimeout');
    t.deepEqual(types(events), ['proxy-rejected', 'tls-client-error']);
    const late = events.find((e) => e.type === 'tls-client-error');
    t.is((late!.error as NodeJS.ErrnoException).code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
    t.like(server.stats, { proxyRejected: 1, tlsClientErrors: 1 });
    t.is(seen.length, 0);
    await stopServer(server, 500);
  }));

test.serial('a graceful shutdown does not wait for a TLS header that would only lead to a handshake', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen } = await echoServer(reactor, { proxyProtocol: 'v2', proxyHeaderTimeout: 20_000 });
    const halfHeader = await connected(port);
    const got = receive(halfHeader);
    halfHeader.write(headerOf('v2').subarray(0, 10));
    await until(() => server.stats.accepted === 1, 'the connection accepted');
    await delay(50);
    const startedAt = Date.now();
    await server.shutdown({ timeoutMs: 10_000 });
    t.true(Date.now() - startedAt < 5000, 'closed at once, not after a deadline');
    await got.close();
    t.is(seen.length, 0);
  }));

test.serial('closing the server gives up headers and handshakes under way', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen } = await echoServer(reactor, { proxyProtocol: 'v2' });
    const halfHeader = await connected(port);
    halfHeader.write(headerOf('v2').subarray(0, 10));
    const noHello = await connected(port);
    noHello.write(headerOf('v2'));
    const sockets = [receive(halfHeader), receive(noHello)];
    await delay(50);
    server.close();
    await server.closed;
    for (const got of sockets) await got.close();
    t.is(seen.length, 0);
  }));

test.serial("the header stage, the handler and data$ run in serve()'s async context", (t) =>
  withReactor(t, async (reactor) => {
    const als = new AsyncLocalStorage<string>();
    const stores: Array<string | undefined> = [];
    const started = await als.run('serve', () =>
      startServer(
        reactor,
        (conn) => {
          stores.push(als.getStore());
          conn.data$.subscribe((chunk) => {
            stores.push(als.getStore());
            conn.write(chunk);
          });
          return [];
        },
        { tls: SERVER_TLS, proxyProtocol: 'v2', onEvent: (e) => e.type === 'proxy-rejected' && stores.push(`rejected in ${als.getStore()}`) },
      ),
    );
    const { socket, received } = await als.run('client', () => tlsBehindHeader(started.port, headerOf('v2'), 'dribbled'));
    socket.write('x');
    await received.atLeast(1);
    // Refused while its header is read: in serve()'s context too.
    const bad = await als.run('client', () => connected(started.port));
    bad.write('not a header');
    await receive(bad).close();
    await until(() => stores.length === 3, 'the rejection');
    t.deepEqual(stores, ['serve', 'serve', 'rejected in serve']);
    await destroy(socket);
    await stopServer(started.server, 500);
  }));

/**
 * A node:net server that reads a PROXY header itself, checks that a TLS
 * record (0x16, handshake) follows it at once, then runs node:tls on the
 * bytes after it and echoes. Resolves each connection's header.
 */
function nodeProxyTlsServer(): Promise<{ server: net.Server; port: number; headers: Array<{ raw: Buffer; next: number }> }> {
  const headers: Array<{ raw: Buffer; next: number }> = [];
  const server = net.createServer((raw) => {
    let bytes = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      bytes = Buffer.concat([bytes, d]);
      const parsed = parseProxyHeader(bytes, 'any', 4096);
      if (parsed === null || bytes.length === parsed.length) return;
      raw.off('data', onData);
      raw.pause();
      headers.push({ raw: bytes.subarray(0, parsed.length), next: bytes[parsed.length] });
      const rest = bytes.subarray(parsed.length);
      // node:tls over a stream that replays what came after the header.
      const replay = new Duplex({
        read() {
          raw.resume();
        },
        write(chunk: Buffer, _e, cb) {
          raw.write(chunk, cb);
        },
        final(cb) {
          raw.end(cb);
        },
      });
      replay.push(rest);
      raw.on('data', (chunk: Buffer) => {
        if (!replay.push(chunk)) raw.pause();
      });
      raw.on('end', () => replay.push(null));
      raw.on('close', () => replay.destroy());
      const secure = new tls.TLSSocket(replay, { isServer: true, key: ids.SERVER_KEY, cert: ids.SERVER_CERT });
      secure.on('error', () => raw.destroy());
      secure.pipe(secure);
    };
    raw.on('data', onData);
    raw.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, HOST, () => resolve({ server, port: (server.address() as net.AddressInfo).port, headers })));
}

/** Writes `data` and resolves with as many bytes read back. */
function echo(conn: Connection, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const back = new Promise<Buffer>((resolve, reject) => {
    conn.data$.subscribe({
      next: (chunk) => {
        chunks.push(chunk);
        got += chunk.length;
        if (got >= data.length) resolve(Buffer.concat(chunks));
      },
      error: reject,
      complete: () => resolve(Buffer.concat(chunks)),
    });
  });
  conn.write(data);
  return within(back, 10_000, 'the echo');
}

test.serial('connect({ tls, proxyProtocol }) sends the header in the clear, then the ClientHello (node:tls server)', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, headers } = await nodeProxyTlsServer();
    try {
      for (const version of ['v1', 'v2'] as const) {
        const proxyHeader = { source: CLIENT, destination: FRONT };
        const conn = await dial(reactor, port, { tls: { ca: ids.CA_CERT, servername: 'localhost' }, proxyProtocol: version, proxyHeader });
        t.truthy(conn.tls?.protocol);
        const data = randomBytes(256 * 1024);
        const back = await echo(conn, data);
        conn.close();
        t.is(back.length, data.length, `${version}: echoed length`);
        t.is(sha256(back), sha256(data), `${version}: echoed byte-exact`);
        const got = headers[headers.length - 1];
        t.deepEqual(got.raw, encodeProxyHeader(version, proxyHeader), `${version}: exactly the header`);
        t.is(got.next, 0x16, `${version}: a TLS handshake record right after it`);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }));

test.serial('connect({ tls, proxyProtocol }) to serve({ tls, proxyProtocol }): both ends see TLS, the server the header client', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await echoServer(reactor, { proxyProtocol: 'any' });
    for (const version of ['v1', 'v2'] as const) {
      const conn = await dial(reactor, port, { tls: { ca: ids.CA_CERT, servername: 'localhost' }, proxyProtocol: version, proxyHeader: { source: CLIENT, destination: FRONT } });
      const echoed = readAll(conn);
      conn.write(`hello ${version}`);
      conn.end();
      t.is((await echoed).toString(), `hello ${version}`);
      t.truthy(conn.tls?.protocol);
      const theirs = seen[seen.length - 1];
      t.deepEqual(theirs.remote, { ...CLIENT, family: 'IPv4' });
      t.is(theirs.proxy!.version, version === 'v1' ? 1 : 2);
      t.is(theirs.tls!.protocol, conn.tls!.protocol);
    }
    // Without proxyHeader: v2 LOCAL, and the server keeps the real peer.
    const local = await dial(reactor, port, { tls: { ca: ids.CA_CERT, servername: 'localhost' }, proxyProtocol: 'v2' });
    const echoed = readAll(local);
    local.end('local');
    t.is((await echoed).toString(), 'local');
    t.like(seen[seen.length - 1].proxy, { command: 'LOCAL' });
    t.is(seen[seen.length - 1].remote.address, HOST);
    t.deepEqual(types(events), []);
    await stopServer(server, 500);
  }));

test.serial('a header of the largest size v2 allows (64 KB of TLVs) goes out before the ClientHello and is taken whole', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await echoServer(reactor, { proxyProtocol: 'v2', maxProxyHeaderSize: 65551 });
    // 16 + 12 address bytes + four TLVs (3 bytes each + their values): 65551 in all.
    const tlvs = [0xe0, 0xe1, 0xe2, 0xe3].map((type, i) => ({ type, value: Buffer.alloc(i === 3 ? 16368 : 16381, i + 1) }));
    const proxyHeader = { source: CLIENT, destination: FRONT, tlvs };
    t.is(encodeProxyHeader('v2', proxyHeader).length, 65551);
    const conn = await dial(reactor, port, { tls: { ca: ids.CA_CERT, servername: 'localhost' }, proxyProtocol: 'v2', proxyHeader });
    const data = randomBytes(64 * 1024);
    const back = await echo(conn, data);
    conn.close();
    t.is(sha256(back), sha256(data));
    t.deepEqual(seen[0].remote, { ...CLIENT, family: 'IPv4' });
    t.deepEqual(
      seen[0].proxy!.tlvs.map((x) => [x.type, x.value.length, x.value[0]]),
      tlvs.map((x) => [x.type, x.value.length, x.value[0]]),
    );
    t.deepEqual(types(events), []);
    await stopServer(server, 500);
  }));

test.serial('a 64 KB header to a peer that does not read, with the smallest receive buffer, still goes out whole before the ClientHello', (t) =>
  withReactor(t, async (reactor) => {
    // Most of the header stays queued in the kernel. (Linux takes all of it
    // in one send even so, on loopback: connect()'s wait for writability
    // after a short write is not reached here.)
    const lfd = sys.socket('ipv4', 'stream');
    sys.setsockopt(lfd, 'SO_RCVBUF', 1);
    sys.bind(lfd, { address: HOST, port: 0 });
    sys.listen(lfd, 8);
    const port = sys.getsockname(lfd).port;
    const tlvs = [0xe0, 0xe1, 0xe2, 0xe3].map((type, i) => ({ type, value: Buffer.alloc(i === 3 ? 16368 : 16381, i + 1) }));
    const proxyHeader = { source: CLIENT, destination: FRONT, tlvs };
    const header = encodeProxyHeader('v2', proxyHeader);
    const attempt = dial(reactor, port, { tls: { ca: ids.CA_CERT, servername: 'localhost', handshakeTimeout: 2000 }, proxyProtocol: 'v2', proxyHeader });
    attempt.catch(() => {});
    const fd = await acceptOne((w) => reactor.watch(w, Interest.Readable), lfd);
    await delay(100);
    const got = await readExactly(reactor, fd, header.length + 1);
    t.deepEqual(got.subarray(0, header.length), header, 'the whole header first');
    t.is(got[header.length], 0x16, 'then a TLS handshake record');
    sys.close(fd);
    sys.close(lfd);
    // Nobody answers the ClientHello: the attempt fails, and leaks nothing.
    t.truthy(await rejection(attempt));
  }));
