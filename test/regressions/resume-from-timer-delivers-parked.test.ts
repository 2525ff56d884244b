/**
 * A connection paused in its data handler and resumed from a timer gets the
 * rest of its bytes. On io_uring, bytes the ring received after the pause
 * (before its receive was cancelled) are parked in the backend and handed
 * over by the next wait(); a resume() outside a batch did not wake the loop
 * for them, so the stream stalled with its bytes in hand (the client here
 * saw 64 KiB of 1 MiB arrive, then nothing, for ever). Every backend must
 * deliver everything, in order.
 */
import test from 'ava';
import { ignoreElements, switchMap, tap, timer } from 'rxjs';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client } from '../helpers/sockets';
import { randomBytes, receive, startServer, stopServer } from '../helpers/streams';

const TOTAL = 1024 * 1024;

test.serial('a connection paused in its data handler and resumed from a timer receives every byte, in order', (t) =>
  withReactor(t, async (reactor) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let pauses = 0;
    const { server, port } = await startServer(reactor, (conn) =>
      conn.data$.pipe(
        tap((b) => {
          chunks.push(b);
          received += b.length;
          if (!conn.isPaused) {
            conn.pause();
            pauses++;
            setTimeout(() => conn.resume(), 5);
          }
        }),
        ignoreElements(),
      ),
    );
    const socket = await client(port);
    const data = randomBytes(TOTAL);
    socket.write(data);
    await until(() => received === TOTAL, `every byte (${received} of ${TOTAL} so far, ${pauses} pauses)`, 20_000);
    t.true(Buffer.concat(chunks).equals(data), 'in order, byte-exact');
    t.true(pauses > 1, 'it paused and resumed more than once');
    socket.destroy();
    await stopServer(server);
  }));

test.serial('a handler that subscribes data$ after a timer, with the client waiting for its echo, gets every byte', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startServer(reactor, (conn) => timer(30).pipe(switchMap(() => conn.data$)));
    const socket = await client(port);
    const data = randomBytes(256 * 1024);
    const echoed = receive(socket);
    socket.end(data);
    const back = await echoed.end(20_000);
    t.true(back.equals(data), `echoed ${back.length} of ${data.length} bytes, byte-exact`);
    await stopServer(server);
  }));
