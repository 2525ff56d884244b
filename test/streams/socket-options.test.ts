import test from 'ava';
import { sys, type Connection } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { client, destroy } from '../helpers/sockets';
import { dial, startServer, stopServer } from '../helpers/streams';

test.serial('accepted connections get TCP_NODELAY by default, SO_KEEPALIVE on request; connect() likewise', (t) =>
  withReactor(t, async (reactor) => {
    const seen: Array<{ nodelay: number; keepalive: number }> = [];
    const record = (conn: Connection) => {
      seen.push({ nodelay: sys.getsockopt(conn.fd, 'TCP_NODELAY'), keepalive: sys.getsockopt(conn.fd, 'SO_KEEPALIVE') });
      conn.close();
    };
    const plain = await startServer(reactor, record);
    const tuned = await startServer(reactor, record, { noDelay: false, keepAlive: true });
    for (const port of [plain.port, tuned.port]) {
      const s = await client(port);
      await until(() => seen.length === (port === plain.port ? 1 : 2), 'the connection');
      await destroy(s);
    }
    t.deepEqual(seen, [
      { nodelay: 1, keepalive: 0 },
      { nodelay: 0, keepalive: 1 },
    ]);
    const c1 = await dial(reactor, plain.port);
    t.is(sys.getsockopt(c1.fd, 'TCP_NODELAY'), 1);
    t.is(sys.getsockopt(c1.fd, 'SO_KEEPALIVE'), 0);
    c1.close();
    const c2 = await dial(reactor, plain.port, { noDelay: false, keepAlive: true });
    t.is(sys.getsockopt(c2.fd, 'TCP_NODELAY'), 0);
    t.is(sys.getsockopt(c2.fd, 'SO_KEEPALIVE'), 1);
    c2.setNoDelay(true).setKeepAlive(false);
    t.is(sys.getsockopt(c2.fd, 'TCP_NODELAY'), 1);
    t.is(sys.getsockopt(c2.fd, 'SO_KEEPALIVE'), 0);
    c2.close();
    await stopServer(plain.server, 500);
    await stopServer(tuned.server, 500);
  }));
