import * as net from 'node:net';
import test from 'ava';
import type { ServerEvent } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, receive, startServer, stopServer } from '../helpers/streams';

test.serial('a handler may return any ObservableInput: a Promise, an array, an async iterable, strings or bytes', (t) =>
  withReactor(t, async (reactor) => {
    const outputs = [
      async () => 'from a promise',
      () => ['from ', Buffer.from('an '), new Uint8Array([0x61, 0x72, 0x72, 0x61, 0x79])],
      async function* () {
        yield 'from an ';
        await new Promise((r) => setTimeout(r, 10));
        yield 'async iterable';
      },
    ];
    let n = 0;
    const { server, port } = await startServer(reactor, () => outputs[n++]());
    const replies: string[] = [];
    for (let i = 0; i < outputs.length; i++) {
      const socket = await client(port);
      const got = receive(socket);
      replies.push((await got.end()).toString());
      await destroy(socket);
    }
    t.deepEqual(replies, ['from a promise', 'from an array', 'from an async iterable']);
    await until(() => server.connections === 0, 'the connections to close');
    await stopServer(server);
  }));

test.serial('a handler whose Promise rejects costs that connection only, reported on events$', (t) =>
  withReactor(t, async (reactor) => {
    const events: ServerEvent[] = [];
    const failure = new Error('no reply for you');
    const { server, port } = await startServer(reactor, async () => {
      throw failure;
    });
    server.events$.subscribe((e) => events.push(e));
    const socket = net.connect(port, HOST);
    socket.on('error', () => {});
    const got = receive(socket);
    await got.close();
    t.is((got.error as NodeJS.ErrnoException | null)?.code, 'ECONNRESET', 'the connection is reset');
    await destroy(socket);
    await until(() => events.some((e) => e.type === 'error' && e.error === failure), 'the error event');
    await until(() => server.connections === 0, 'the connection to close');
    await stopServer(server);
  }));
