import * as dgram from 'node:dgram';
import test from 'ava';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { bindUdp } from '../helpers/udp';

/** A node:dgram receiver bound to `host`, recording payloads in arrival order. */
async function receiver(type: 'udp4' | 'udp6', host: string) {
  const socket = dgram.createSocket(type);
  const got: string[] = [];
  socket.on('message', (data) => got.push(data.toString()));
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  return { host, port: socket.address().port, got, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

// send() takes destinations as strings and queues them as packed address
// bytes, remembering the ones it parsed: each datagram must still go to its
// own destination when they alternate within a batch, when the queue grows,
// and when more destinations than it remembers (1024) pass through.
test.serial('datagrams to many destinations in one batch each reach their own (IPv4 on udp4; IPv4-mapped and IPv6 on udp6)', (t) =>
  withReactor(t, async (reactor) => {
    const v4 = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'].map((h) => receiver('udp4', h)));
    const v6 = await receiver('udp6', '::1');
    const { socket, owner } = await bindUdp(reactor, { maxQueuedDatagrams: 8192 });
    const { socket: socket6, owner: owner6 } = await bindUdp(reactor, { type: 'udp6', host: '::', maxQueuedDatagrams: 8192 });
    // Nobody listens at 127.1.x.y: those datagrams are dropped by the
    // kernel, and there are more of those addresses than send() remembers.
    // (Few enough to each listener that its receive buffer holds them all.)
    const mine: number[] = [];
    for (let i = 0; i < 1200; i++) {
      t.true(socket.send(Buffer.from('nobody'), 9, `127.1.${i >> 8}.${i & 255}`));
      if (i % 12 === 0) {
        // Twice in a row to the same one: the second takes the last-destination path.
        for (let twice = 0; twice < 2; twice++) {
          const r = v4[(mine.length >> 1) % v4.length];
          t.true(socket.send(Buffer.from(`${r.host} ${mine.length}`), r.port, r.host));
          mine.push(mine.length);
        }
      }
    }
    const sent = mine.length;
    for (let i = 0; i < 200; i++) {
      const r = i % 2 === 0 ? v4[0] : v6;
      t.true(socket6.send(Buffer.from(`six ${r.host} ${i}`), r.port, r.host));
    }
    await until(() => v4.reduce((n, r) => n + r.got.length, 0) === sent + 100 && v6.got.length === 100, 'every datagram to a listener');
    for (const [k, r] of v4.entries()) {
      const expected = mine
        .filter((i) => (i >> 1) % v4.length === k)
        .map((i) => `${r.host} ${i}`);
      const fromSix = k === 0 ? Array.from({ length: 100 }, (_, j) => `six 127.0.0.1 ${2 * j}`) : [];
      t.deepEqual(
        r.got.filter((g) => !g.startsWith('six')),
        expected,
        `${r.host}: its own datagrams, in order`,
      );
      t.deepEqual(r.got.filter((g) => g.startsWith('six')), fromSix, `${r.host}: from the udp6 socket, IPv4-mapped`);
    }
    t.deepEqual(v6.got, Array.from({ length: 100 }, (_, j) => `six ::1 ${2 * j + 1}`));
    t.is(socket.stats.sent, 1200 + sent);
    t.is(socket6.stats.sent, 200);
    owner.unsubscribe();
    owner6.unsubscribe();
    for (const r of [...v4, v6]) await r.close();
  }));
