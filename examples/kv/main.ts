/**
 * A Redis-compatible (RESP2) key-value server: strings, expiry, pipelining.
 *
 *   node dist/examples/kv/main.js [--host 127.0.0.1] [--port 6380] [--backend epoll]
 *   redis-cli -p 6380 set greeting hello
 *   redis-benchmark -p 6380 -t set,get -P 16 -q
 *
 * Pipelining costs nothing extra here: every complete request in a chunk is
 * answered in order, each reply is one conn.write, and rxnet sends all the
 * replies written during one reactor batch with a single writev.
 */
import { catchError, map, of, takeWhile } from 'rxjs';
import { serve } from '../../index';
import { announce, exampleArgs, onSignals } from '../common/cli';
import { encode, ErrorReply, respRequests, RespProtocolError } from './resp';
import { isQuit, Store } from './store';

const { host, port, reactor } = exampleArgs('kv', { port: 6380 });
const store = new Store();
const stopSweeper = store.startSweeper();
let clients = 0;

const server = serve({ host, port, reactor }, (conn) => {
  const client = { id: ++clients };
  return conn.data$.pipe(
    respRequests(),
    // QUIT is answered (+OK), then this stream completes and serve()
    // half-closes the connection.
    takeWhile((args) => !isQuit(args), true),
    map((args) => encode(store.execute(args, client))),
    // Bad input: answer with the protocol error, then serve() half-closes
    // the connection because this stream completes (Redis closes too).
    catchError((err: unknown) => {
      if (err instanceof RespProtocolError) return of(encode(new ErrorReply(`ERR ${err.message}`)));
      throw err;
    }),
  );
});

server.listening.then(announce, (err: Error) => {
  process.stderr.write(`kv: ${err.message}\n`);
  process.exitCode = 1;
});
onSignals(async () => {
  stopSweeper();
  await server.shutdown({ timeoutMs: 2000 });
});
