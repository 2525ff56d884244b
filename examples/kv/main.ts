/**
 * A Redis-compatible (RESP2) key-value server: strings, expiry, pipelining,
 * transactions (MULTI/EXEC/WATCH), pub/sub, and the commands clients ask on
 * connecting. It answers like redis-server 7.0 for everything it implements.
 *
 *   node dist/examples/kv/main.js [--host 127.0.0.1] [--port 6380] [--backend epoll]
 *                                 [--timeout SECONDS] [--request-timeout-ms MS]
 *        [--tls-cert cert.pem --tls-key key.pem]
 *        [--proxy-protocol v1|v2|any] [--trusted-proxies CIDR,...] [--handoff PATH]
 *   redis-cli -p 6380 set greeting hello
 *   redis-benchmark -p 6380 -t set,get -P 16 -q
 *
 * --timeout closes clients idle that many seconds (Redis' `timeout`; 0, the
 * default, never). --request-timeout-ms closes a client whose request stays
 * incomplete that long (default 10000; 0 never): Redis has no such deadline,
 * and without one a client sending a byte now and then holds its connection
 * for ever.
 *
 * Replies are written as they are produced, under backpressure (see
 * session.ts and output.ts); pipelining costs nothing extra: the replies to
 * the requests of one chunk leave in one write.
 */
import { serve } from '../../index';
import { exampleArgs, runServer, SERVER_FLAGS, TLS_FLAGS, tlsFromFlags } from '../common/cli';
import { DEFAULT_REQUEST_TIMEOUT_MS, KvServer } from './context';
import { Session } from './session';

// --tls-cert/--tls-key: redis over TLS (redis-cli --tls --cacert cert.pem).
const args = exampleArgs('kv', { port: 6380 }, ['timeout', 'request-timeout-ms', ...TLS_FLAGS, ...SERVER_FLAGS]);
const { extra, reactor, port } = args;
const tls = tlsFromFlags('kv', extra);

function nonNegativeInteger(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    process.stderr.write(`kv: --${flag} wants a whole number >= 0, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

const kv = new KvServer({
  timeout: nonNegativeInteger('timeout', extra.timeout, 0),
  requestTimeoutMs: nonNegativeInteger('request-timeout-ms', extra['request-timeout-ms'], DEFAULT_REQUEST_TIMEOUT_MS),
  backend: reactor.backend,
  port,
});
const stopSweeper = kv.store.startSweeper();

const endpoint = (a: { address: string; port: number }) => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);

// The session drives its connection (reads, writes, pauses, closes): the handler returns nothing.
// A handoff passes the listening socket, not the data: each instance has its own store.
void runServer(
  'kv',
  args,
  (listen) => {
    const server = serve({ ...listen, tls }, (conn) => {
      new Session(conn, kv, { describe: () => ({ addr: endpoint(conn.remote), laddr: endpoint(conn.local), fd: conn.fd }) });
    });
    server.listening.then((address) => (kv.port = address.port), () => {});
    return server;
  },
  { timeoutMs: 2000, before: stopSweeper, label: tls ? '(tls)' : '' },
);
