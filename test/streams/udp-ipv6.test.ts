import test from 'ava';
import type { Datagram } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { bindUdp, dgramClient } from '../helpers/udp';

test.serial("udp({ type: 'udp6', host: '::1' }) echoes node:dgram udp6 datagrams and reports IPv6 senders", (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor, { type: 'udp6', host: '::1' });
    t.deepEqual({ address: socket.address.address, family: socket.address.family }, { address: '::1', family: 'IPv6' });
    const seen: Datagram[] = [];
    const sub = socket.messages$.subscribe((m) => {
      seen.push(m);
      socket.send(m.data, m.port, m.address);
    });
    const client = await dgramClient('udp6');
    await client.send('over ipv6', socket.address.port);
    await until(() => client.received.length === 1, 'the echo');
    t.is(client.received[0].data.toString(), 'over ipv6');
    t.is(client.received[0].address, '::1');
    t.deepEqual(
      { address: seen[0].address, port: seen[0].port, family: seen[0].family },
      { address: '::1', port: client.port, family: 'IPv6' },
    );
    sub.unsubscribe();
    owner.unsubscribe();
    await client.close();
  }));
