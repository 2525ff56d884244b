import test from 'ava';
import { tap } from 'rxjs';
import type { Datagram } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { bindUdp, dgramClient } from '../helpers/udp';

test.serial('udp(): datagrams from a node:dgram client are echoed back byte-exact, with the sender address', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor);
    t.is(socket.address.address, '127.0.0.1');
    t.true(socket.address.port > 0);
    const seen: Datagram[] = [];
    const echo = socket.messages$.pipe(tap((m) => seen.push(m))).subscribe((m) => socket.send(m.data, m.port, m.address));
    const client = await dgramClient();
    const sent = Array.from({ length: 100 }, (_, i) => Buffer.concat([Buffer.from([i]), Buffer.alloc(i * 13, i)]));
    for (const d of sent) await client.send(d, socket.address.port);
    await until(() => client.received.length === sent.length, 'every echo');
    const key = (b: Buffer) => b.toString('hex');
    t.deepEqual(client.received.map((r) => key(r.data)).sort(), sent.map(key).sort(), 'every datagram came back whole');
    t.true(client.received.every((r) => r.port === socket.address.port && r.address === '127.0.0.1'));
    t.true(seen.every((m) => m.address === '127.0.0.1' && m.port === client.port && m.family === 'IPv4' && !m.truncated));
    t.is(socket.stats.received, 100);
    t.is(socket.stats.sent, 100);
    t.is(socket.stats.dropped, 0);
    // An empty datagram is a datagram.
    await client.send(Buffer.alloc(0), socket.address.port);
    await until(() => client.received.length === 101, 'the empty echo');
    t.is(client.received[100].data.length, 0);

    echo.unsubscribe();
    owner.unsubscribe();
    t.true(socket.closed, 'unsubscribing udp() closes the socket');
    t.throws(() => socket.send('late', client.port, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    await client.close();
  }));

test.serial('udp(): messages$ is unicast and completes when the socket closes', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor);
    let completed = false;
    socket.messages$.subscribe({ complete: () => (completed = true) });
    let second: (Error & { code?: string }) | null = null;
    socket.messages$.subscribe({ error: (e: Error) => (second = e) });
    t.is(second!.code, 'ERR_RXNET_ALREADY_SUBSCRIBED');
    owner.unsubscribe();
    t.true(completed);
  }));
