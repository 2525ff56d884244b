import test from 'ava';
import { listen, type Connection, type ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, receive, rejection } from '../helpers/streams';

test.serial('listen() is cold: each subscription binds its own socket; unsubscribing closes the listener, not the connections', (t) =>
  withReactor(t, async (reactor) => {
    const ports: number[] = [];
    const conns: Connection[] = [];
    const events: ServerEvent[] = [];
    const source = listen({ host: HOST, port: 0, reactor, onListening: (a) => ports.push(a.port), onEvent: (e) => events.push(e) });
    const a = source.subscribe((c) => conns.push(c));
    const b = source.subscribe((c) => conns.push(c));
    await until(() => ports.length === 2, 'both listeners');
    t.not(ports[0], ports[1]);
    t.deepEqual(
      events.map((e) => e.type),
      ['listening', 'listening'],
    );
    const socket = await client(ports[0]);
    await until(() => conns.length === 1, 'the connection');
    a.unsubscribe();
    t.is((await rejection(client(ports[0]))).code, 'ECONNREFUSED', 'the first listener is closed');
    // The accepted connection lives on.
    const got = receive(socket);
    conns[0].data$.subscribe((chunk) => conns[0].write(chunk));
    socket.write('still here');
    await got.atLeast(10);
    t.is(got.text(), 'still here');
    t.false(conns[0].closed);
    // The second listener still accepts.
    const other = await client(ports[1]);
    await until(() => conns.length === 2, 'the second connection');
    b.unsubscribe();
    for (const c of conns) c.close();
    for (const s of [socket, other]) await destroy(s);
  }));
