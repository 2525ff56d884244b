/**
 * Connections closed and reset by the server while their bytes are moving
 * both ways (on io_uring: a multishot receive armed, provided buffers in
 * use, sends in flight). What the other connections receive must be exactly
 * their own bytes: a buffer handed back to the kernel too early, or a
 * completion taken for the wrong connection, shows up as someone else's
 * bytes. What a closed connection's client received must be a prefix of
 * what it sent. Nothing may leak. (scripts/test-sanitizers.sh runs this
 * under ASan too.)
 */
import test from 'ava';
import type { Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client } from '../helpers/sockets';
import { randomBytes, receive, startServer, stopServer } from '../helpers/streams';

const CLIENTS = 24;
const BYTES = 192 * 1024;
const CHUNK = 4096;

test.serial('closing and resetting connections mid-transfer leaves every other connection byte-exact, and nothing leaks', (t) =>
  withReactor(t, async (reactor) => {
    const conns: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      conns.push(conn);
      return conn.data$;
    });
    for (let round = 0; round < 3; round++) {
      const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => client(port)));
      const datas = sockets.map(() => randomBytes(BYTES));
      const got = sockets.map((s) => {
        s.on('error', () => {});
        return receive(s);
      });
      await until(() => conns.length === (round + 1) * CLIENTS, 'every connection to be accepted');
      const mine = conns.slice(round * CLIENTS);
      // Interleave the clients' writes so every connection has bytes in
      // flight when the server cuts some of them off.
      let sent = 0;
      for (let off = 0; off < BYTES; off += CHUNK) {
        for (let i = 0; i < CLIENTS; i++) sockets[i].write(datas[i].subarray(off, off + CHUNK));
        sent += CHUNK;
        if (off === BYTES / 4) {
          // Every third connection is reset, every third closed, while
          // receiving and sending.
          for (let i = 0; i < CLIENTS; i++) {
            if (i % 3 === 1) mine[i].reset();
            else if (i % 3 === 2) mine[i].close();
          }
        }
        if (sent % (64 * 1024) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < CLIENTS; i++) if (i % 3 === 0) sockets[i].end();
      for (let i = 0; i < CLIENTS; i++) {
        if (i % 3 === 0) {
          const echoed = await got[i].end(20_000);
          t.true(echoed.equals(datas[i]), `client ${i}: ${echoed.length} of ${BYTES} bytes, byte-exact`);
        } else {
          await got[i].close(20_000);
          const echoed = got[i].bytes();
          t.true(echoed.length <= BYTES && echoed.equals(datas[i].subarray(0, echoed.length)), `client ${i}: what arrived is its own prefix`);
        }
      }
      for (const s of sockets) s.destroy();
      await until(() => server.connections === 0, 'the server to close every connection');
    }
    await stopServer(server);
  }));
