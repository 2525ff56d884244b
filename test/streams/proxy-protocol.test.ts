/**
 * serve()/listen() with `proxyProtocol`: the handler sees the original
 * client and never a byte of the header; every kind of bad, late, oversize
 * or untrusted header costs that connection only, is counted and reported,
 * and never reaches the handler. connect({ proxyProtocol }) sends one.
 */
import * as net from 'node:net';
import test from 'ava';
import { firstValueFrom, take } from 'rxjs';
import { encodeProxyHeader, listen, type Connection, type ServerEvent } from '../../index';
import { withReactor, delay } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { destroy } from '../helpers/sockets';
import { HOST, dial, readAll, receive, startServer, stopServer } from '../helpers/streams';

const CLIENT = { address: '203.0.113.7', port: 4242 };
const FRONT = { address: '198.51.100.1', port: 443 };

/** A raw node:net client that writes `parts` with a pause between them. */
async function rawClient(port: number, parts: Buffer[], pauseMs = 0): Promise<net.Socket> {
  const socket = net.connect(port, HOST);
  // A refused connection is answered with RST, for an untrusted peer even
  // before node reports it connected.
  socket.on('error', () => {});
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  for (const part of parts) {
    if (socket.destroyed) break;
    socket.write(part);
    if (pauseMs > 0) await delay(pauseMs);
  }
  return socket;
}

/** An echo server that records each connection (remote, proxy header) and its events. */
async function recordingServer(reactor: Parameters<typeof startServer>[0], options: Parameters<typeof startServer>[2]) {
  const seen: Connection[] = [];
  const events: ServerEvent[] = [];
  const started = await startServer(
    reactor,
    (conn) => {
      seen.push(conn);
      return conn.data$;
    },
    { ...options, onEvent: (e) => events.push(e) },
  );
  return { ...started, seen, events };
}

test.serial('v2 header and data in one segment: remote is the client, proxy the header, data$ starts after it', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen } = await recordingServer(reactor, { proxyProtocol: 'v2' });
    const header = encodeProxyHeader('v2', { source: CLIENT, destination: FRONT, tlvs: [{ type: 0x02, value: 'example.test' }] });
    const socket = await rawClient(port, [Buffer.concat([header, Buffer.from('hello')])]);
    const got = receive(socket);
    await got.atLeast(5);
    t.is(got.text(), 'hello');
    t.deepEqual(seen[0].remote, { ...CLIENT, family: 'IPv4' });
    t.like(seen[0].proxy, { version: 2, command: 'PROXY', family: 'IPv4', authority: 'example.test' });
    t.deepEqual(seen[0].proxy!.destination, { ...FRONT, family: 'IPv4' });
    t.is(seen[0].local.port, port, 'local stays the real socket');
    t.is(server.stats.proxyRejected, 0);
    await destroy(socket);
    await stopServer(server, 500);
  }));

test.serial('a header dribbled a byte at a time (v1 and v2 on one "any" listener) is put together', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen } = await recordingServer(reactor, { proxyProtocol: 'any' });
    for (const version of ['v1', 'v2'] as const) {
      const header = encodeProxyHeader(version, { source: CLIENT, destination: FRONT });
      const bytes = Buffer.concat([header, Buffer.from(`after ${version}`)]);
      const parts = [...bytes].map((b) => Buffer.from([b]));
      const socket = await rawClient(port, parts, 2);
      const got = receive(socket);
      await got.until(() => got.text() === `after ${version}`, 'the echo');
      await destroy(socket);
    }
    t.is(seen.length, 2);
    t.deepEqual(
      seen.map((c) => [c.proxy!.version, c.remote.address, c.remote.port]),
      [
        [1, CLIENT.address, CLIENT.port],
        [2, CLIENT.address, CLIENT.port],
      ],
    );
    await stopServer(server, 500);
  }));

test.serial('LOCAL (a health check) and v1 UNKNOWN keep the real peer as remote', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen } = await recordingServer(reactor, { proxyProtocol: 'any' });
    for (const header of [encodeProxyHeader('v2', { command: 'LOCAL' }), encodeProxyHeader('v1', { command: 'LOCAL' })]) {
      const socket = await rawClient(port, [Buffer.concat([header, Buffer.from('x')])]);
      const got = receive(socket);
      await got.atLeast(1);
      t.deepEqual(seen[seen.length - 1].remote, { address: HOST, family: 'IPv4', port: socket.localPort });
      await destroy(socket);
    }
    t.deepEqual(
      seen.map((c) => [c.proxy!.version, c.proxy!.command, c.proxy!.family]),
      [
        [2, 'LOCAL', 'unspec'],
        [1, 'PROXY', 'unspec'],
      ],
    );
    await stopServer(server, 500);
  }));

/** Connects, sends `parts`, and waits until the server refuses the connection; returns the event. */
async function refused(t: import('ava').ExecutionContext, options: Parameters<typeof startServer>[2], parts: Buffer[], end = false): Promise<ServerEvent> {
  return withReactor(t, async (reactor) => {
    const { server, port, seen, events } = await recordingServer(reactor, options);
    const socket = await rawClient(port, parts);
    const got = receive(socket);
    if (end) socket.end();
    // An untrusted peer is reset before node even reports the connect.
    if (!socket.closed) await got.close(10_000);
    await until(() => server.stats.proxyRejected === 1, 'the rejection to be counted');
    t.is(seen.length, 0, 'the handler never saw the connection');
    t.is(got.length, 0, 'nothing was sent back');
    const rejected = events.filter((e) => e.type === 'proxy-rejected');
    t.is(rejected.length, 1);
    await destroy(socket);
    await stopServer(server, 500);
    return rejected[0];
  });
}

test.serial('garbage instead of a header: refused at once, counted, reported, never handed over', async (t) => {
  const e = await refused(t, { proxyProtocol: 'any' }, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
  t.is((e as { error: NodeJS.ErrnoException }).error.code, 'ERR_RXNET_PROXY_HEADER');
  t.is((e as { remote?: string }).remote, HOST);
});

test.serial('a truncated header followed by FIN is refused', async (t) => {
  const header = encodeProxyHeader('v2', { source: CLIENT, destination: FRONT });
  const e = await refused(t, { proxyProtocol: 'v2' }, [header.subarray(0, 20)], true);
  t.is((e as { error: NodeJS.ErrnoException }).error.code, 'ERR_RXNET_PROXY_HEADER');
});

test.serial('a slow header is refused at proxyHeaderTimeout', async (t) => {
  const started = Date.now();
  const e = await refused(t, { proxyProtocol: 'v1', proxyHeaderTimeout: 300 }, [Buffer.from('PROXY TCP4 ')]);
  t.is((e as { error: NodeJS.ErrnoException }).error.code, 'ERR_RXNET_PROXY_HEADER_TIMEOUT');
  t.true(Date.now() - started >= 300);
});

test.serial('a header over maxProxyHeaderSize is refused', async (t) => {
  const header = encodeProxyHeader('v2', { source: CLIENT, destination: FRONT, tlvs: [{ type: 0xe0, value: Buffer.alloc(300) }] });
  const e = await refused(t, { proxyProtocol: 'v2', maxProxyHeaderSize: 256 }, [header]);
  t.is((e as { error: NodeJS.ErrnoException }).error.code, 'ERR_RXNET_PROXY_HEADER_TOO_LARGE');
});

test.serial('a peer outside trustedProxies is refused unread, however good its header', async (t) => {
  const header = encodeProxyHeader('v2', { source: CLIENT, destination: FRONT });
  const e = await refused(t, { proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/8', '2001:db8::/32'] }, [header]);
  t.is((e as { error: NodeJS.ErrnoException }).error.code, 'ERR_RXNET_PROXY_UNTRUSTED');
});

test.serial('a peer inside trustedProxies is served', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port, seen } = await recordingServer(reactor, { proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/8', '127.0.0.0/8'] });
    const socket = await rawClient(port, [encodeProxyHeader('v2', { source: CLIENT, destination: FRONT }), Buffer.from('ok')]);
    const got = receive(socket);
    await got.atLeast(2);
    t.is(seen[0].remote.address, CLIENT.address);
    await destroy(socket);
    await stopServer(server, 500);
  }));

test.serial('connect({ proxyProtocol }) sends the header first; listen() hands over parsed connections', (t) =>
  withReactor(t, async (reactor) => {
    let address: { port: number } | undefined;
    const source = listen({ host: HOST, port: 0, reactor, proxyProtocol: 'any', onListening: (a) => (address = a) });
    // take(1): the listener closes after the first connection, which lives on.
    const accepted = firstValueFrom(source.pipe(take(1)));
    await until(() => address !== undefined, 'listening');
    const client = await dial(reactor, address!.port, { proxyProtocol: 'v1', proxyHeader: { source: CLIENT, destination: FRONT } });
    client.write('payload');
    client.end();
    const conn = await accepted;
    t.deepEqual(conn.remote, { ...CLIENT, family: 'IPv4' });
    t.is((await readAll(conn)).toString(), 'payload');
    conn.end();
    await readAll(client);
  }));

test.serial('listen(): unsubscribing closes connections still waiting for their header', (t) =>
  withReactor(t, async (reactor) => {
    let port = 0;
    const sub = listen({ host: HOST, port: 0, reactor, proxyProtocol: 'v2', onListening: (a) => (port = a.port) }).subscribe();
    await until(() => port !== 0, 'listening');
    const socket = await rawClient(port, [Buffer.from('\r\n\r\n')]);
    const got = receive(socket);
    await delay(50);
    sub.unsubscribe();
    await got.close();
    t.true(got.closed);
    await destroy(socket);
  }));

test('bad PROXY options throw synchronously', (t) => {
  const bad: Array<[object, string]> = [
    [{ proxyProtocol: 'v3' }, 'ERR_INVALID_ARG_VALUE'],
    [{ trustedProxies: ['10.0.0.0/8'] }, 'ERR_INVALID_ARG_VALUE'],
    [{ proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/33'] }, 'ERR_INVALID_ARG_VALUE'],
    [{ proxyProtocol: 'v2', trustedProxies: ['example.com'] }, 'ERR_INVALID_ARG_VALUE'],
    [{ proxyProtocol: 'v2', trustedProxies: '10.0.0.0/8' }, 'ERR_INVALID_ARG_TYPE'],
    [{ proxyProtocol: 'v2', proxyHeaderTimeout: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ proxyProtocol: 'v2', maxProxyHeaderSize: 70000 }, 'ERR_OUT_OF_RANGE'],
  ];
  for (const [options, code] of bad) t.throws(() => listen(options as never), { code }, JSON.stringify(options));
});
