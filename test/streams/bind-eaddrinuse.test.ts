import * as net from 'node:net';
import test from 'ava';
import type { ServerEvent } from '../../index';
import { listen, serve } from '../../index';
import { withReactor } from '../helpers/leaks';
import { assertSystemError } from '../helpers/readiness';
import { HOST, rejection, startServer, stopServer, within } from '../helpers/streams';

test.serial('serve() on a port another rxnet server holds rejects server.listening with EADDRINUSE, address and port', (t) =>
  withReactor(t, async (reactor) => {
    const { server: first, port } = await startServer(reactor, (conn) => conn.data$);
    const events: ServerEvent[] = [];
    const second = serve({ host: HOST, port, reactor }, (conn) => conn.data$);
    second.events$.subscribe((e) => events.push(e));
    const err = await rejection(second.listening);
    assertSystemError(t, err, { code: 'EADDRINUSE', syscall: 'bind', address: HOST, port });
    await within(second.closed, 1000, 'the failed server to count as closed');
    t.is(second.address, null);
    t.is(reactor.stats.registrations, 1, "only the first server's listener is registered");
    await stopServer(first);
  }));

test.serial('serve() on a port a node:net server holds: EADDRINUSE; listen() reports it to error', (t) =>
  withReactor(t, async (reactor) => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const server = serve({ host: HOST, port, reactor }, () => undefined);
      assertSystemError(t, await rejection(server.listening), { code: 'EADDRINUSE', syscall: 'bind', address: HOST, port });
      const err = await new Promise<Error>((resolve, reject) => {
        listen({ host: HOST, port, reactor }).subscribe({ next: () => reject(new Error('accepted')), error: resolve });
      });
      assertSystemError(t, err, { code: 'EADDRINUSE', syscall: 'bind', address: HOST, port });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  }));
