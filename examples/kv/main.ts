/**
 * A Redis-compatible (RESP2) key-value server: strings, expiry, pipelining.
 *
 *   node dist/examples/kv/main.js [--host 127.0.0.1] [--port 6380] [--backend epoll]
 *   redis-cli -p 6380 set greeting hello
 *   redis-benchmark -p 6380 -t set,get -P 16 -q
 *
 * Pipelining costs nothing extra here: the replies to all the complete
 * requests in a chunk are encoded into one Buffer and written at once (see
 * session.ts).
 */
import { serve } from '../../index';
import { announce, exampleArgs, onSignals, TLS_FLAGS, tlsFromFlags } from '../common/cli';
import { kvReplies } from './session';
import { Store } from './store';

// --tls-cert/--tls-key: redis over TLS (redis-cli --tls --cacert cert.pem).
const { host, port, reactor, extra } = exampleArgs('kv', { port: 6380 }, TLS_FLAGS);
const tls = tlsFromFlags('kv', extra);
const store = new Store();
const stopSweeper = store.startSweeper();
let clients = 0;

// QUIT and bad input end the reply stream; serve() then half-closes the connection.
const server = serve({ host, port, reactor, tls }, (conn) => conn.data$.pipe(kvReplies(store, { id: ++clients })));

server.listening.then((address) => announce(address, tls ? '(tls)' : ''), (err: Error) => {
  process.stderr.write(`kv: ${err.message}\n`);
  process.exitCode = 1;
});
onSignals(async () => {
  stopSweeper();
  await server.shutdown({ timeoutMs: 2000 });
});
