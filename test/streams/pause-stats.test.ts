import test from 'ava';
import { from } from 'rxjs';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { receive, startServer, stopServer } from '../helpers/streams';

test.serial('stats.pauses counts times reading was paused, not writes made while paused', (t) =>
  withReactor(t, async (reactor) => {
    // Ten 4 KiB chunks at once over a 1 KiB high-water mark: reading is paused once, until the queue drains.
    const { server, port } = await startServer(reactor, () => from(Array.from({ length: 10 }, () => Buffer.alloc(4096, 0x70))), { highWaterMark: 1024 });
    const socket = await client(port);
    const got = receive(socket);
    t.is((await got.end()).length, 40960);
    await until(() => server.connections === 0, 'the connection to close');
    t.is(server.stats.pauses, 1);
    await destroy(socket);
    await stopServer(server);
  }));
