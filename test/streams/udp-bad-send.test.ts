import test from 'ava';
import { udp } from '../../index';
import { withReactor } from '../helpers/leaks';
import { bindUdp } from '../helpers/udp';

test.serial('UdpSocket.send() to an invalid address or port throws synchronously and queues nothing', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor);
    t.throws(() => socket.send('x', 9, 'not-an-ip'), { instanceOf: TypeError, code: 'ERR_INVALID_IP_ADDRESS' });
    t.throws(() => socket.send('x', 9, 'localhost'), { instanceOf: TypeError, code: 'ERR_INVALID_IP_ADDRESS' }, 'an IP literal is required');
    t.throws(() => socket.send('x', 9, '127.0.0.1.1'), { code: 'ERR_INVALID_IP_ADDRESS' });
    t.throws(() => socket.send('x', 70000, '127.0.0.1'), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => socket.send('x', -1, '127.0.0.1'), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => socket.send(42 as unknown as string, 9, '127.0.0.1'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.deepEqual(socket.stats, { received: 0, sent: 0, dropped: 0, truncated: 0 });
    owner.unsubscribe();
  }));

test.serial('udp() with bad options throws synchronously, before any socket exists', (t) =>
  withReactor(t, (reactor) => {
    t.throws(() => udp({ port: 70000, reactor }), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
    t.throws(() => udp({ type: 'udp5' as 'udp4', reactor }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => udp({ maxMessageSize: 0, reactor }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => udp({ maxMessageSize: 65536, reactor }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
  }));

test.serial('udp() bind errors arrive Node-shaped: EADDRINUSE on a taken port', (t) =>
  withReactor(t, async (reactor) => {
    const { socket, owner } = await bindUdp(reactor);
    const err = await new Promise<NodeJS.ErrnoException & { address?: string; port?: number }>((resolve, reject) => {
      udp({ host: '127.0.0.1', port: socket.address.port, reactor }).subscribe({ next: () => reject(new Error('bound twice')), error: resolve });
    });
    t.is(err.code, 'EADDRINUSE');
    t.is(err.syscall, 'bind');
    t.is(err.address, '127.0.0.1');
    t.is(err.port, socket.address.port);
    owner.unsubscribe();
  }));
