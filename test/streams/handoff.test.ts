/**
 * Server#handOff and receiveListeners in one process: the sequence, the
 * events, a successor that declines (the old server keeps serving and may
 * offer again), nobody offering, a shutdown while offering, and a Unix
 * socket server whose path survives the handoff.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { receiveListeners, serve, sys, type ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { client, destroy } from '../helpers/sockets';
import { receive, rejection, startServer, stopServer, within } from '../helpers/streams';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-handoff-'));
}

async function echo(connectTo: net.NetConnectOpts, text: string): Promise<string> {
  const socket = net.connect(connectTo);
  const got = receive(socket);
  socket.end(text);
  return (await got.end()).toString();
}

test.serial('handOff: the successor gets the listening socket, the old server drains its connections and closes', (t) =>
  withReactor(t, async (reactor) => {
    const dir = tempDir();
    const sock = path.join(dir, 'h.sock');
    const oldEvents: ServerEvent[] = [];
    const { server: old, port } = await startServer(reactor, (conn) => conn.data$, { onEvent: (e) => oldEvents.push(e) });
    // A connection of the old server, open across the handoff.
    const lingering = await client(port);
    const lingeringGot = receive(lingering);
    lingering.write('before');
    await lingeringGot.atLeast(6);

    const handedOff = old.handOff(sock, { timeoutMs: 2000 });
    t.is(fs.statSync(sock).mode & 0o777, 0o600, 'only this user may take the sockets');
    const handover = await receiveListeners(sock, { reactor });
    t.is(handover.pid, process.pid);
    t.deepEqual(handover.listeners[0].address, { address: '127.0.0.1', family: 'IPv4', port });
    t.false(fs.existsSync(sock), 'the path is free for the successor to offer at');
    const successor = serve({ fd: handover.listeners[0].fd, reactor }, (conn) => conn.data$);
    t.is((await successor.listening).port, port);
    // Both accept from one socket until the old one hears "ready".
    handover.ready();
    await within(
      new Promise<void>((resolve) => {
        const check = () => (oldEvents.some((e) => e.type === 'handed-off') ? resolve() : setTimeout(check, 5));
        check();
      }),
      5000,
      'the handed-off event',
    );
    t.true(old.draining);
    t.deepEqual(
      oldEvents.filter((e) => e.type === 'handed-off'),
      [{ type: 'handed-off', pid: process.pid }],
    );
    // New connections reach the successor only.
    const acceptedBefore = old.stats.accepted;
    t.is(await echo({ port, host: '127.0.0.1' }, 'after'), 'after');
    t.is(old.stats.accepted, acceptedBefore);
    t.is(successor.stats.accepted, 1);
    // The old connection still works, and ends the old server when it ends.
    lingering.write('-still');
    await lingeringGot.atLeast(12);
    lingering.end();
    await within(handedOff, 5000, 'handOff() to resolve once drained');
    t.is(lingeringGot.text(), 'before-still');
    await destroy(lingering);
    await stopServer(successor, 500);
    fs.rmSync(dir, { recursive: true, force: true });
  }));

test.serial('a successor that declines: handOff rejects, the old server keeps serving and can offer again', (t) =>
  withReactor(t, async (reactor) => {
    const dir = tempDir();
    const sock = path.join(dir, 'h.sock');
    const { server, port } = await startServer(reactor, (conn) => conn.data$);
    const first = server.handOff(sock);
    const handover = await receiveListeners(sock, { reactor });
    handover.abort();
    t.is((await rejection(first)).code, 'ERR_RXNET_HANDOFF');
    t.false(server.draining);
    t.is(await echo({ port, host: '127.0.0.1' }, 'still here'), 'still here');
    // Again, with a successor that never says ready in time.
    const second = server.handOff(sock, { readyTimeoutMs: 200 });
    const silent = await receiveListeners(sock, { reactor });
    t.is((await rejection(second)).code, 'ERR_RXNET_HANDOFF');
    silent.abort();
    t.is(await echo({ port, host: '127.0.0.1' }, 'and again'), 'and again');
    await stopServer(server, 500);
    fs.rmSync(dir, { recursive: true, force: true });
  }));

test.serial('receiveListeners with nobody offering: ENOENT, or ECONNREFUSED for a stale socket file', (t) =>
  withReactor(t, async (reactor) => {
    const dir = tempDir();
    const sock = path.join(dir, 'h.sock');
    t.is((await rejection(receiveListeners(sock, { reactor }))).code, 'ENOENT');
    const stale = sys.socket('unix', 'stream');
    sys.bind(stale, { path: sock });
    sys.close(stale);
    t.is((await rejection(receiveListeners(sock, { reactor }))).code, 'ECONNREFUSED');
    fs.rmSync(dir, { recursive: true, force: true });
  }));

test.serial('a shutdown while offering withdraws the offer: handOff rejects and the path is removed', (t) =>
  withReactor(t, async (reactor) => {
    const dir = tempDir();
    const sock = path.join(dir, 'h.sock');
    const { server } = await startServer(reactor, (conn) => conn.data$);
    const offered = server.handOff(sock);
    t.true(fs.existsSync(sock));
    await stopServer(server, 500);
    t.is((await rejection(offered)).code, 'ERR_RXNET_HANDOFF');
    t.false(fs.existsSync(sock));
    fs.rmSync(dir, { recursive: true, force: true });
  }));

test.serial('a Unix socket server hands off without removing its path', (t) =>
  withReactor(t, async (reactor) => {
    const dir = tempDir();
    const sock = path.join(dir, 'h.sock');
    const where = path.join(dir, 'app.sock');
    const old = serve({ path: where, reactor }, (conn) => conn.data$);
    await old.listening;
    const handedOff = old.handOff(sock, { idleGraceMs: 0 });
    const handover = await receiveListeners(sock, { reactor });
    t.deepEqual(handover.listeners[0].address, { address: where, family: 'unix', port: 0 });
    const successor = serve({ fd: handover.listeners[0].fd, reactor }, (conn) => conn.data$);
    await successor.listening;
    handover.ready();
    await within(handedOff, 5000, 'the handoff');
    t.true(fs.existsSync(where), 'the path stays for the successor');
    t.is(await echo({ path: where }, 'unix'), 'unix');
    await stopServer(successor, 500);
    fs.rmSync(dir, { recursive: true, force: true });
  }));

test('handOff arguments are checked synchronously', async (t) => {
  await withReactor(t, async (reactor) => {
    const { server } = await startServer(reactor, () => undefined);
    t.throws(() => server.handOff(42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => server.handOff('/x', { readyTimeoutMs: 0 }), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => receiveListeners('/x', { timeoutMs: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    await stopServer(server, 0);
  });
});
