/**
 * examples/kv's protocol code on node:net instead of rxnet, for bench/examples.ts.
 *
 *   node dist/bench/servers/kv-net.js [--port N] [--no-cork]
 *
 * The same Session as examples/kv/main.ts — examples/kv/session.ts over the
 * same KvServer, with the same backpressure, QUIT and protocol-error
 * handling — driving a net.Socket through a small adapter with an rxnet
 * Connection's surface: data$ from its 'data' events (the
 * `fromEvent(socket, 'data')` shape the RxJS socket wrappers on npm have),
 * write() returning false above a 64 KiB high-water mark, drain$ from
 * 'drain', pause()/resume().
 *
 * cork()/uncork() around a chunk is node:net's idiom for batching writes: on
 * by default so node:net gets its best shot; `--no-cork` turns it off.
 *
 * Prints `listening on 127.0.0.1:PORT` once ready; exits 0 on SIGTERM/SIGINT.
 */
import * as net from 'node:net';
import { fromEvent, map, Observable } from 'rxjs';
import { KvServer } from '../../examples/kv/context';
import { Session, type KvConnection } from '../../examples/kv/session';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') ?? 0);
const cork = !process.argv.includes('--no-cork');
const HIGH_WATER_MARK = 64 * 1024;
const kv = new KvServer({ backend: 'node:net' });
const stopSweeper = kv.store.startSweeper();
const sockets = new Set<net.Socket>();

/** A net.Socket with the surface of an rxnet Connection that Session uses. */
class NetConnection implements KvConnection {
  readonly data$: Observable<Uint8Array>;
  readonly drain$: Observable<void>;
  readonly closed$: Observable<unknown>;
  readonly highWaterMark = HIGH_WATER_MARK;

  constructor(private readonly socket: net.Socket) {
    this.data$ = new Observable<Uint8Array>((subscriber) => {
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
    this.drain$ = fromEvent(socket, 'drain').pipe(map(() => undefined));
    this.closed$ = fromEvent(socket, 'close');
  }

  write(chunk: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    return this.socket.write(chunk);
  }
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }
  get closed(): boolean {
    return this.socket.destroyed;
  }
  get bytesRead(): number {
    return this.socket.bytesRead;
  }
  get bytesWritten(): number {
    return this.socket.bytesWritten;
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  end(): void {
    this.socket.end();
  }
  flushed(): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error('closed'));
    // Session calls it after end(): 'finish' is node:net's "all written".
    return new Promise((resolve, reject) => {
      if (this.socket.writableFinished || this.socket.writableLength === 0) return resolve();
      this.socket.once('finish', () => resolve());
      this.socket.once('close', () => reject(new Error('closed')));
    });
  }
  close(): void {
    this.socket.destroy();
  }
  reset(): void {
    this.socket.resetAndDestroy();
  }
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true, highWaterMark: HIGH_WATER_MARK }, (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  // Exactly examples/kv/main.ts's session.
  new Session(new NetConnection(socket), kv);
});

server.listen({ host: '127.0.0.1', port, backlog: 511 }, () => {
  const address = server.address() as net.AddressInfo;
  kv.port = address.port;
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
