import type * as net from 'node:net';
import test from 'ava';
import { Interest, Ready, sys } from '../../index';
import { withReactor } from '../helpers/leaks';
import { collectFor } from '../helpers/readiness';
import { client, destroy, first, listener } from '../helpers/sockets';

const N = 5;

test.serial(`a listener with ${N} pending connections accepts exactly ${N}, then EAGAIN`, (t) =>
  withReactor(t, async (reactor) => {
    const l = listener();
    const clients: net.Socket[] = [];
    for (let i = 0; i < N; i++) clients.push(await client(l.port));

    const ready = await first(reactor.watch(l.fd, Interest.Readable));
    t.is(ready, Ready.Readable);
    const accepted: number[] = [];
    for (let i = 0; i < N; i++) {
      const fd = sys.accept(l.fd);
      t.true(fd >= 0, `accept #${i + 1} returned ${fd}`);
      accepted.push(fd);
    }
    t.is(sys.accept(l.fd), sys.EAGAIN, `accept #${N + 1} finds the queue empty`);
    t.is(new Set(accepted).size, N, 'distinct descriptors');

    // Each accepted socket is one of the clients, seen from the server side.
    const clientPorts = clients.map((c) => c.localPort).sort((x, y) => (x ?? 0) - (y ?? 0));
    const peerPorts = accepted.map((fd) => sys.getpeername(fd).port).sort((x, y) => x - y);
    t.deepEqual(peerPorts, clientPorts);
    for (const fd of accepted) t.is(sys.getsockname(fd).port, l.port);

    // With the queue empty, the listener is no longer readable.
    t.deepEqual(await collectFor(reactor.watch(l.fd, Interest.Readable), 150), []);

    for (const fd of accepted) sys.close(fd);
    for (const c of clients) await destroy(c);
    sys.close(l.fd);
  }));

test.serial('accept on a listener with nothing pending returns EAGAIN at once', (t) =>
  withReactor(t, async () => {
    const l = listener();
    t.is(sys.accept(l.fd), sys.EAGAIN);
    t.is(sys.EWOULDBLOCK, sys.EAGAIN);
    t.true(sys.wouldBlock(sys.accept(l.fd)));
    sys.close(l.fd);
  }));
