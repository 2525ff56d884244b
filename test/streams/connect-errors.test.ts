import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect, sys } from '../../index';
import { delay, openFds, withReactor } from '../helpers/leaks';
import { assertSystemError } from '../helpers/readiness';
import { closedPort, destroy, listener } from '../helpers/sockets';
import { HOST, rejection } from '../helpers/streams';

/**
 * A listener with backlog 0 whose accept queue is filled by connections it
 * never accepts: Linux then drops new SYNs, so a connect to it hangs until
 * the client gives up. Returns the port and the filler sockets.
 */
async function fullListener(): Promise<{ fd: number; port: number; fillers: net.Socket[] }> {
  const l = listener(0);
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(l.port, HOST);
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await Promise.race([
      new Promise<boolean>((resolve) => socket.once('connect', () => resolve(true))),
      delay(300).then(() => false),
    ]);
    if (!connected) return { ...l, fillers };
  }
  throw new Error('the accept queue never filled');
}

async function closeFull(full: { fd: number; fillers: net.Socket[] }): Promise<void> {
  for (const s of full.fillers) await destroy(s);
  sys.close(full.fd);
}

test.serial('connect({ timeout }) to a listener that drops SYNs aborts with ETIMEDOUT and closes its fd', (t) =>
  withReactor(t, async (reactor) => {
    const full = await fullListener();
    const started = Date.now();
    const err = await rejection(firstValueFrom(connect({ host: HOST, port: full.port, timeout: 200, reactor })));
    t.true(Date.now() - started >= 190, 'not before the timeout');
    assertSystemError(t, err, { code: 'ETIMEDOUT', syscall: 'connect', address: HOST, port: full.port });
    t.is(reactor.stats.registrations, 0, 'the attempt is deregistered');
    await closeFull(full);
  }));

test.serial('connect() to a closed port fails with ECONNREFUSED, address and port', (t) =>
  withReactor(t, async (reactor) => {
    const port = closedPort();
    const err = await rejection(firstValueFrom(connect({ host: HOST, port, reactor })));
    assertSystemError(t, err, { code: 'ECONNREFUSED', syscall: 'connect', address: HOST, port });
  }));

test.serial('connect() to a closed port on ::1 fails with ECONNREFUSED and the IPv6 address', (t) =>
  withReactor(t, async (reactor) => {
    const fd = sys.socket('ipv6', 'stream');
    sys.bind(fd, { address: '::1', port: 0 });
    const { port } = sys.getsockname(fd);
    sys.close(fd);
    const err = await rejection(firstValueFrom(connect({ host: '::1', port, reactor })));
    assertSystemError(t, err, { code: 'ECONNREFUSED', syscall: 'connect', address: '::1', port });
  }));

test.serial('connect({ path }) to a Unix socket that does not exist fails with ENOENT and the path', (t) =>
  withReactor(t, async (reactor) => {
    const missing = path.join(os.tmpdir(), `rxnet-missing-${process.pid}-${Date.now()}.sock`);
    const err = await rejection(firstValueFrom(connect({ path: missing, reactor })));
    t.is(err.code, 'ENOENT');
    t.is(err.syscall, 'connect');
    t.is(err.address, missing);
    t.is(err.message, `connect ENOENT ${missing}`);
  }));

test.serial('unsubscribing before the connection is established closes the fd', (t) =>
  withReactor(t, async (reactor) => {
    const full = await fullListener();
    const before = openFds();
    let emitted = 0;
    let errored: unknown = null;
    const sub = connect({ host: HOST, port: full.port, reactor }).subscribe({ next: () => emitted++, error: (e) => (errored = e) });
    const during = openFds();
    const added = [...during.keys()].filter((fd) => !before.has(fd));
    t.is(added.length, 1, 'the attempt opened one socket');
    t.regex(during.get(added[0])!, /^socket:/);
    t.is(reactor.stats.registrations, 1, 'waiting for writability');
    await delay(50);
    sub.unsubscribe();
    t.not(openFds().get(added[0]), during.get(added[0]), 'the socket is closed at once');
    t.is(reactor.stats.registrations, 0);
    await delay(50);
    t.is(emitted, 0);
    t.is(errored, null, 'unsubscribing is not an error');
    await closeFull(full);
  }));

test.serial('unsubscribing while a host name is being looked up opens nothing', (t) =>
  withReactor(t, async (reactor) => {
    const port = closedPort();
    let settled = false;
    const sub = connect({ host: 'localhost', port, reactor }).subscribe({ next: () => (settled = true), error: () => (settled = true) });
    sub.unsubscribe();
    await delay(200);
    t.false(settled);
    t.is(reactor.stats.registrations, 0);
  }));
