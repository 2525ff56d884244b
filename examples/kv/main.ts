/**
 * A Redis-compatible (RESP2) key-value server: strings, expiry, pipelining.
 *
 *   node dist/examples/kv/main.js [--host 127.0.0.1] [--port 6380] [--backend epoll]
 *        [--proxy-protocol v1|v2|any] [--trusted-proxies CIDR,...] [--handoff PATH]
 *   redis-cli -p 6380 set greeting hello
 *   redis-benchmark -p 6380 -t set,get -P 16 -q
 *
 * Pipelining costs nothing extra here: the replies to all the complete
 * requests in a chunk are encoded into one Buffer and written at once (see
 * session.ts).
 */
import { serve } from '../../index';
import { exampleArgs, runServer, SERVER_FLAGS } from '../common/cli';
import { kvReplies } from './session';
import { Store } from './store';

const args = exampleArgs('kv', { port: 6380 }, SERVER_FLAGS);
const store = new Store();
const stopSweeper = store.startSweeper();
let clients = 0;

// QUIT and bad input end the reply stream; serve() then half-closes the connection.
// A handoff passes the listening socket, not the data: each instance has its own store.
void runServer('kv', args, (listen) => serve(listen, (conn) => conn.data$.pipe(kvReplies(store, { id: ++clients }))), {
  timeoutMs: 2000,
  before: stopSweeper,
});
