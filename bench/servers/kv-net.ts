/**
 * examples/kv's protocol code on node:net instead of rxnet, for bench/examples.ts.
 *
 *   node dist/bench/servers/kv-net.js [--port N] [--no-cork]
 *
 * The same pipeline as examples/kv/main.ts — kvReplies() from
 * examples/kv/session.ts over the same Store, with the same QUIT and
 * protocol-error handling — fed from a net.Socket's 'data' events (the
 * `fromEvent(socket, 'data')` shape the RxJS socket wrappers on npm have)
 * instead of an rxnet Connection's data$. Each input chunk's replies are one
 * Buffer and one socket.write, as in the example.
 *
 * cork()/uncork() around a chunk is node:net's idiom for batching writes: on
 * by default so node:net gets its best shot; `--no-cork` turns it off.
 * Backpressure mirrors serve(): input pauses while socket.write() reports the
 * buffer above its high-water mark.
 *
 * Prints `listening on 127.0.0.1:PORT` once ready; exits 0 on SIGTERM/SIGINT.
 */
import * as net from 'node:net';
import { Observable } from 'rxjs';
import { kvReplies } from '../../examples/kv/session';
import { Store } from '../../examples/kv/store';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const cork = !process.argv.includes('--no-cork');
const store = new Store();
const stopSweeper = store.startSweeper();
let clients = 0;
const sockets = new Set<net.Socket>();

/** A socket's input as an observable; the chunk's replies are written corked. */
function data$(socket: net.Socket): Observable<Buffer> {
  return new Observable<Buffer>((subscriber) => {
    const onData = (chunk: Buffer) => {
      if (cork) socket.cork();
      subscriber.next(chunk);
      if (cork) socket.uncork();
    };
    const onEnd = () => subscriber.complete();
    const onError = (err: Error) => subscriber.error(err);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    return () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
  });
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('drain', () => socket.resume());
  const client = { id: ++clients };
  // Exactly examples/kv/main.ts's pipeline: kvReplies emits one Buffer of
  // replies per input chunk.
  data$(socket)
    .pipe(kvReplies(store, client))
    .subscribe({
      next: (reply) => {
        if (!socket.write(reply)) socket.pause();
      },
      // As serve(): the reply stream ended (QUIT, bad input, peer's FIN): half-close.
      complete: () => socket.end(),
      error: () => socket.destroy(),
    });
});

server.listen({ host: '127.0.0.1', port, backlog: 511 }, () => {
  const address = server.address() as net.AddressInfo;
  console.log(`listening on 127.0.0.1:${address.port} (node:net${cork ? ', corked' : ''})`);
});

function shutdown(): void {
  stopSweeper();
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
