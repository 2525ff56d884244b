import test from 'ava';
import type { Datagram } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { bindUdp, dgramClient } from '../helpers/udp';

test.serial('a datagram longer than maxMessageSize arrives with truncated: true and its first maxMessageSize bytes', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor, { maxMessageSize: 100 });
    const got: Datagram[] = [];
    const sub = socket.messages$.subscribe((m) => got.push(m));
    const client = await dgramClient();
    const long = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const exact = Buffer.alloc(100, 0x65);
    const short = Buffer.from('short');
    await client.send(long, socket.address.port);
    await client.send(exact, socket.address.port);
    await client.send(short, socket.address.port);
    await until(() => got.length === 3, 'three datagrams');
    t.true(got[0].truncated);
    t.true(got[0].data.equals(long.subarray(0, 100)), 'the first 100 bytes');
    t.false(got[1].truncated, 'exactly maxMessageSize is not truncated');
    t.true(got[1].data.equals(exact));
    t.false(got[2].truncated);
    t.true(got[2].data.equals(short), 'the next datagram is intact');
    t.is(socket.stats.truncated, 1);
    t.is(socket.stats.received, 3);
    sub.unsubscribe();
    owner.unsubscribe();
    await client.close();
  }));
