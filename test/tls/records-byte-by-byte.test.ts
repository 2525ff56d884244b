import * as net from 'node:net';
import test from 'ava';
import { firstValueFrom } from 'rxjs';
import { connect } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, readAll, stopServer } from '../helpers/streams';
import { ids, startTlsServer } from '../helpers/tls';

/**
 * A TCP relay that forwards one byte per write, each after a timer, both
 * ways: every record (and the handshake) reaches each end split byte by byte.
 */
async function dribblingRelay(targetPort: number): Promise<{ port: number; close: () => Promise<void>; bytes: number[] }> {
  const bytes = [0, 0];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer({ allowHalfOpen: true }, (inbound) => {
    const outbound = net.connect({ port: targetPort, host: HOST, allowHalfOpen: true });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    const dribble = (from: net.Socket, to: net.Socket, k: number) => {
      const queue: Array<number | null> = [];
      let busy = false;
      const step = () => {
        const b = queue.shift();
        if (b === undefined) {
          busy = false;
          return;
        }
        busy = true;
        if (b === null) to.end();
        else {
          bytes[k]++;
          to.write(Buffer.from([b]));
        }
        setTimeout(step, 1);
      };
      from.on('data', (chunk: Buffer) => {
        for (const b of chunk) queue.push(b);
        if (!busy) step();
      });
      from.on('end', () => {
        queue.push(null);
        if (!busy) step();
      });
    };
    dribble(inbound, outbound, 0);
    dribble(outbound, inbound, 1);
  });
  await new Promise<void>((resolve) => relay.listen(0, HOST, resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    bytes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
}

test.serial('records split byte by byte both ways: the handshake completes and the plaintext arrives whole', (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    const relay = await dribblingRelay(port);
    const before = reactor.stats.wakeups;
    const conn = await firstValueFrom(connect({ host: HOST, port: relay.port, reactor, tls: { ca: ids.CA_CERT, servername: 'localhost', handshakeTimeout: 60_000 } }));
    const reply = readAll(conn, 60_000);
    conn.end('split into single bytes');
    t.is((await reply).toString(), 'split into single bytes');
    t.true(relay.bytes[0] > 200 && relay.bytes[1] > 200, `relayed ${relay.bytes.join('/')} bytes, one at a time`);
    // Each relayed byte wakes the reactor, and a byte in the middle of a
    // record gives JavaScript nothing to do: such wakeups are not passed on.
    // What reaches JavaScript is about one batch per record (and the
    // writes' wakeups), far fewer than the bytes.
    const batches = reactor.stats.wakeups - before;
    const relayed = relay.bytes[0] + relay.bytes[1];
    t.true(batches * 4 < relayed, `${batches} batches for ${relayed} bytes arriving one at a time`);
    await closedInfo(conn);
    await until(() => server.connections === 0, 'the server side to close', 10_000);
    await relay.close();
    await stopServer(server);
  }));
