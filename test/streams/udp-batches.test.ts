import test from 'ava';
import { delay, withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { bindUdp, dgramClient } from '../helpers/udp';

test.serial('a burst of 50 datagrams queued before messages$ is subscribed arrives in batches: some wakeup delivers more than one', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor);
    const client = await dgramClient();
    for (let i = 0; i < 50; i++) await client.send(Buffer.from(`datagram ${i}`), socket.address.port);
    await delay(50);
    const byWakeup = new Map<number, number>();
    const got: string[] = [];
    const sub = socket.messages$.subscribe((m) => {
      got.push(m.data.toString());
      const w = reactor.stats.wakeups;
      byWakeup.set(w, (byWakeup.get(w) ?? 0) + 1);
    });
    await until(() => got.length === 50, 'all 50 datagrams');
    t.deepEqual(got, Array.from({ length: 50 }, (_, i) => `datagram ${i}`), 'in order, none lost');
    const largest = Math.max(...byWakeup.values());
    t.true(largest > 1, `the largest wakeup delivered ${largest} datagrams`);
    t.true(byWakeup.size < 50, `${byWakeup.size} wakeups for 50 datagrams`);
    sub.unsubscribe();
    owner.unsubscribe();
    await client.close();
  }));

test.serial('sends issued during one batch all go out (sendmmsg flush at batch end)', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor);
    const client = await dgramClient();
    // Each received datagram is answered with five.
    const sub = socket.messages$.subscribe((m) => {
      for (let k = 0; k < 5; k++) socket.send(Buffer.from(`${m.data.toString()}.${k}`), m.port, m.address);
    });
    for (let i = 0; i < 20; i++) await client.send(Buffer.from(`q${i}`), socket.address.port);
    await until(() => client.received.length === 100, 'all 100 answers');
    const answers = client.received.map((r) => r.data.toString()).sort();
    const expected = Array.from({ length: 20 }, (_, i) => Array.from({ length: 5 }, (_, k) => `q${i}.${k}`)).flat().sort();
    t.deepEqual(answers, expected);
    t.is(socket.stats.sent, 100);
    sub.unsubscribe();
    owner.unsubscribe();
    await client.close();
  }));
