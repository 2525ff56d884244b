import test from 'ava';
import { sys, type Connection } from '../../index';
import { closeFillers, fillFdHolesBelow } from '../helpers/batch';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { listener } from '../helpers/sockets';
import { HOST, startServer, stopServer } from '../helpers/streams';

test.serial("closing a connection whose bytes the backend already saw never reads from the socket that reuses its fd", (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => void conns.push(conn));
    const peer = sys.socket('ipv4', 'stream');
    sys.connect(peer, { address: HOST, port });
    await until(() => conns.length === 1, 'the connection');
    const conn = conns[0];
    conn.data$.subscribe({ error: () => {} });

    // An unrelated socket, not known to rxnet, is waiting to be accepted with
    // bytes already queued in it: accepting it will reuse the closed fd.
    const other = listener();
    const otherClient = sys.socket('ipv4', 'stream');
    sys.connect(otherClient, { address: HOST, port: other.port });
    await delay(20);
    t.is(sys.write(otherClient, Buffer.from('not yours')), 9);
    const fd = conn.fd;
    const fillers = fillFdHolesBelow(fd);
    await delay(20);

    let reused = -1;
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        // Bytes arrive for the connection while this callback runs, then it
        // is closed and its fd number goes to the unrelated socket.
        t.is(sys.write(peer, Buffer.from('x')), 1);
        const until = Date.now() + 50;
        while (Date.now() < until) {
          // busy: the loop cannot deliver anything meanwhile
        }
        conn.close();
        reused = sys.accept(other.fd);
        resolve();
      }, 0),
    );
    t.is(reused, fd, 'the unrelated socket got the closed fd number');
    await delay(100);
    const buf = Buffer.alloc(64);
    const n = sys.read(reused, buf);
    t.is(n > 0 ? buf.subarray(0, n).toString() : `read returned ${n}`, 'not yours', "the unrelated socket's bytes are all still there");

    closeFillers(fillers);
    for (const f of [reused, otherClient, other.fd, peer]) sys.close(f);
    await stopServer(server);
  }));
