import test from 'ava';
import type { Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { HOST, dial, readAll, startServer, stopServer } from '../helpers/streams';

test.serial('Connection.local and .remote are the two ends, as node:net reports them', (t) =>
  withReactor(t, async (reactor) => {
    const serverSide: Connection[] = [];
    const { server, port } = await startServer(reactor, (conn) => {
      serverSide.push(conn);
      return conn.data$;
    });
    const socket = await client(port);
    await until(() => serverSide.length === 1, 'the connection');
    t.deepEqual(serverSide[0].local, { address: HOST, family: 'IPv4', port });
    t.deepEqual(serverSide[0].remote, { address: HOST, family: 'IPv4', port: socket.localPort });
    const conn = await dial(reactor, port);
    t.deepEqual(conn.remote, { address: HOST, family: 'IPv4', port });
    t.is(conn.local.address, HOST);
    conn.end();
    await readAll(conn);
    await destroy(socket);
    await stopServer(server, 500);
  }));
