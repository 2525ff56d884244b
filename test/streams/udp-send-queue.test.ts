import test from 'ava';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { bindUdp, dgramClient } from '../helpers/udp';

test.serial('send() past maxQueuedDatagrams drops and returns false; what was queued goes out', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor, { maxQueuedDatagrams: 10 });
    const client = await dgramClient();
    const accepted: boolean[] = [];
    // All in one synchronous run: nothing is flushed in between.
    for (let i = 0; i < 15; i++) accepted.push(socket.send(`d${i}`, client.port, '127.0.0.1'));
    t.deepEqual(accepted, [...Array(10).fill(true), ...Array(5).fill(false)]);
    t.is(socket.stats.dropped, 5);
    await until(() => client.received.length === 10, 'the ten queued datagrams');
    t.deepEqual(
      client.received.map((r) => r.data.toString()),
      Array.from({ length: 10 }, (_, i) => `d${i}`),
    );
    t.is(socket.stats.sent, 10);
    // The queue is free again.
    t.true(socket.send('again', client.port, '127.0.0.1'));
    await until(() => client.received.length === 11, 'the next datagram');
    owner.unsubscribe();
    await client.close();
  }));
