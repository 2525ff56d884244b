import test from 'ava';
import { firstValueFrom, from, lastValueFrom, mergeMap } from 'rxjs';
import { connect } from '../../index';
import { withReactor } from '../helpers/leaks';
import { until } from '../helpers/readiness';
import { HOST, closedInfo, readAll, stopServer } from '../helpers/streams';
import { ids, startTlsServer } from '../helpers/tls';

// The 10,000-handshake soak with memory measured is bench/tls-soak.ts; this
// is its quick version for every backend.
const HANDSHAKES = 600;
const CONCURRENT = 30;

test.serial(`${HANDSHAKES} handshakes, ${CONCURRENT} at a time: every one echoes, and no session, registration or fd is left`, (t) =>
  withReactor(t, async (reactor) => {
    const { server, port } = await startTlsServer(reactor, (conn) => conn.data$);
    let ok = 0;
    await lastValueFrom(
      from(Array.from({ length: HANDSHAKES }, (_, i) => i)).pipe(
        mergeMap(async (i) => {
          const conn = await firstValueFrom(connect({ host: HOST, port, reactor, tls: { ca: ids.CA_CERT, handshakeTimeout: 30_000 } }));
          const reply = readAll(conn, 30_000);
          conn.end(`hello ${i}`);
          if ((await reply).toString() === `hello ${i}`) ok++;
          await closedInfo(conn);
        }, CONCURRENT),
      ),
      { defaultValue: undefined },
    );
    t.is(ok, HANDSHAKES);
    await until(() => server.connections === 0, 'the server side to close');
    t.is(server.stats.accepted, HANDSHAKES);
    t.is(server.stats.tlsClientErrors, 0);
    t.is(reactor.stats.tlsSessions, 0);
    await stopServer(server);
  }));
