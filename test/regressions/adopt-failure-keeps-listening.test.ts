/**
 * A failure to adopt one accepted connection cost the whole listener: on
 * select, an accepted fd at or above FD_SETSIZE made `new Connection` throw
 * ERR_RXNET_FD_SETSIZE, listen.ts sent it to the handler meant for bind
 * failures, the listener stopped, later clients got ECONNREFUSED and the
 * process exited 0 once the others left. Now that connection alone is reset,
 * counted in stats.rejected and reported as a 'connection-rejected' event,
 * and the server keeps accepting.
 *
 * The select backend is how this is provoked (it refuses fds >= 1024), so the
 * test uses a select reactor in every backend's run of the suite: the
 * listener logic under test is the same for all of them.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import test from 'ava';
import { Reactor, serve, type ServerEvent } from '../../index';
import { assertNoFdLeak, openFds } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, receive, stopServer } from '../helpers/streams';

const FD_SETSIZE = 1024;

/** Opens /dev/null until the next descriptor is at least `next`. */
function fillFdsUpTo(next: number): number[] {
  const opened: number[] = [];
  for (;;) {
    const fd = fs.openSync('/dev/null', 'r');
    opened.push(fd);
    if (fd >= next - 1) return opened;
  }
}

test.serial('select: a connection accepted at fd >= FD_SETSIZE is reset and counted; the server keeps serving', async (t) => {
  const before = openFds();
  const reactor = new Reactor({ backend: 'select' });
  const events: ServerEvent[] = [];
  const server = serve({ host: HOST, port: 0, reactor }, (conn) => conn.data$);
  server.events$.subscribe((e) => events.push(e));
  const { port } = await server.listening;
  const fillers = fillFdsUpTo(FD_SETSIZE);
  try {
    // Its accepted end lands above FD_SETSIZE. (The reset may come before
    // the client's own 'connect' event.)
    const high = net.connect({ port, host: HOST });
    const highGot = receive(high);
    await highGot.close();
    t.is((highGot.error as NodeJS.ErrnoException | null)?.code, 'ECONNRESET', 'the rejected client is reset, not ended cleanly');
    await until(() => server.stats.rejected === 1, 'the rejection to be counted');
    const rejected = events.filter((e) => e.type === 'connection-rejected');
    t.is(rejected.length, 1);
    t.is((rejected[0] as { error: NodeJS.ErrnoException }).error.code, 'ERR_RXNET_FD_SETSIZE');
    t.is(server.connections, 0);
  } finally {
    for (const fd of fillers) fs.closeSync(fd);
  }
  // Still listening: the next client is served.
  const next = await client(port);
  const got = receive(next);
  next.end('still serving');
  t.is((await got.end()).toString(), 'still serving');
  await destroy(next);
  t.is(server.stats.accepted, 2);
  await stopServer(server);
  t.is(reactor.stats.registrations, 0);
  reactor.close();
  await assertNoFdLeak(t, before);
});
