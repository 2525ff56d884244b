/**
 * Listening sockets this process did not open: listen({ fd }) / serve({ fd })
 * for TCP and Unix sockets (node's { fd } fails for Unix sockets,
 * nodejs/node#44035), and systemd socket activation with a spawned child
 * given LISTEN_FDS the way systemd gives it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { serve, sys, systemdListeners } from '../../index';
import { withReactor } from '../helpers/leaks';
import { fixture, linesOf, within } from '../helpers/processes';
import { listener } from '../helpers/sockets';
import { receive, rejection, stopServer } from '../helpers/streams';

function unixListener(): { fd: number; path: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-inherit-'));
  const p = path.join(dir, 's.sock');
  const fd = sys.socket('unix', 'stream');
  sys.bind(fd, { path: p });
  sys.listen(fd, 16);
  return { fd, path: p, dir };
}

async function echoOnce(connectTo: net.NetConnectOpts, text: string): Promise<string> {
  const socket = net.connect(connectTo);
  const got = receive(socket);
  socket.end(text);
  return (await got.end()).toString();
}

test.serial('serve({ fd }) takes over a listening TCP socket and a listening Unix socket', (t) =>
  withReactor(t, async (reactor) => {
    const tcp = listener();
    const unix = unixListener();
    const a = serve({ fd: tcp.fd, reactor }, (conn) => conn.data$);
    const b = serve({ fd: unix.fd, reactor }, (conn) => conn.data$);
    t.deepEqual(await a.listening, { address: '127.0.0.1', family: 'IPv4', port: tcp.port });
    t.deepEqual(await b.listening, { address: unix.path, family: 'unix', port: 0 });
    t.is(await echoOnce({ port: tcp.port, host: '127.0.0.1' }, 'over tcp'), 'over tcp');
    t.is(await echoOnce({ path: unix.path }, 'over unix'), 'over unix');
    await stopServer(a, 500);
    await stopServer(b, 500);
    // Owned from then on: closed with the server. The path is not ours to remove.
    t.true(fs.existsSync(unix.path));
    fs.rmSync(unix.dir, { recursive: true, force: true });
  }));

test.serial('an fd that is not a listening stream socket is refused with ERR_RXNET_NOT_LISTENING (and left open); a closed one with EBADF', (t) =>
  withReactor(t, async (reactor) => {
    const bound = sys.socket('ipv4', 'stream');
    sys.bind(bound, { address: '127.0.0.1', port: 0 });
    const dgram = sys.socket('ipv4', 'dgram');
    sys.bind(dgram, { address: '127.0.0.1', port: 0 });
    for (const fd of [bound, dgram]) {
      const server = serve({ fd, reactor }, () => undefined);
      const err = await rejection(server.listening);
      t.is(err.code, 'ERR_RXNET_NOT_LISTENING');
      await server.closed;
      t.is(sys.getsockname(fd).address, '127.0.0.1', 'the caller still owns it');
      sys.close(fd);
    }
    const closed = sys.socket('ipv4', 'stream');
    sys.close(closed);
    const server = serve({ fd: closed, reactor }, () => undefined);
    t.is((await rejection(server.listening)).code, 'EBADF');
    await server.closed;
    t.throws(() => serve({ fd: 3, port: 80 }, () => undefined), { code: 'ERR_INVALID_ARG_VALUE' });
  }));

test('systemdListeners(): nothing when LISTEN_PID names another process; variables removed either way', (t) => {
  process.env.LISTEN_PID = String(process.pid + 1);
  process.env.LISTEN_FDS = '1';
  t.deepEqual(systemdListeners(), []);
  t.false('LISTEN_FDS' in process.env);
  t.false('LISTEN_PID' in process.env);
});

test.serial('a child started the way systemd does (fds 3 and 4, LISTEN_FDS/PID/FDNAMES) serves on both sockets', (t) =>
  withReactor(t, async () => {
    const tcp = listener();
    const unix = unixListener();
    // LISTEN_PID must be the service's own pid, known only once it runs:
    // systemd sets it after fork; here sh sets it to its own pid, then execs node.
    const child = spawn('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, fixture('systemd-child')], {
      env: { ...process.env, LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' },
      stdio: ['ignore', 'pipe', 'inherit', tcp.fd, unix.fd],
    });
    const out = linesOf(child, 'systemd child');
    // The child has its own copies now.
    sys.close(tcp.fd);
    sys.close(unix.fd);
    try {
      const ready = JSON.parse(await out.nextLine()) as { listeners: Array<{ fd: number; name: string; address: sys.SocketAddress }>; leftInEnv: string[] };
      t.deepEqual(
        ready.listeners.map((l) => [l.fd, l.name, l.address.family]),
        [
          [3, 'web', 'IPv4'],
          [4, 'admin', 'unix'],
        ],
      );
      t.is(ready.listeners[0].address.port, tcp.port);
      t.deepEqual(ready.leftInEnv, [], 'LISTEN_* removed, so the child of the child does not take them');
      t.is(await echoOnce({ port: tcp.port, host: '127.0.0.1' }, 'web'), 'web');
      t.is(await echoOnce({ path: unix.path }, 'admin'), 'admin');
      child.kill('SIGTERM');
      t.deepEqual(JSON.parse(await out.nextLine()), { accepted: [1, 1] });
      t.deepEqual(await within(out.exited, 5000, 'the child to exit'), { code: 0, signal: null });
    } finally {
      await out.kill();
      fs.rmSync(unix.dir, { recursive: true, force: true });
    }
  }));
