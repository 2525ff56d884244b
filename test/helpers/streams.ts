/**
 * Helpers for the stream-layer suites (test/streams/): servers on loopback
 * with the reactor under test, rxnet and node:net clients as promises, and
 * byte collectors that wait with a deadline.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import { firstValueFrom, timeout, type Observable } from 'rxjs';
import {
  connect,
  serve,
  type CloseInfo,
  type ConnectOptions,
  type Connection,
  type ConnectionHandler,
  type Reactor,
  type Server,
  type ServeOptions,
} from '../../index';
import { within } from './processes';

export { within };

export const HOST = '127.0.0.1';

/** serve() on 127.0.0.1, an ephemeral port and `reactor`; resolves once listening. */
export async function startServer(
  reactor: Reactor,
  handler: ConnectionHandler,
  options: Omit<ServeOptions, 'reactor'> = {},
): Promise<{ server: Server; port: number }> {
  const server = serve({ host: HOST, port: 0, ...options, reactor }, handler);
  const address = await server.listening;
  return { server, port: address.port };
}

/** Shuts a server down (closing what is left after `timeoutMs`) and waits for `closed`. */
export async function stopServer(server: Server, timeoutMs = 0): Promise<void> {
  await within(server.shutdown({ timeoutMs }), timeoutMs + 5000, 'the server to close');
}

/** rxnet connect() to 127.0.0.1:`port` on `reactor`, as a promise. */
export function dial(reactor: Reactor, port: number, options: Omit<ConnectOptions, 'reactor' | 'port'> = {}): Promise<Connection> {
  return firstValueFrom(connect({ host: HOST, port, ...options, reactor }).pipe(timeout(5000)));
}

/** The error a promise rejects with (rejects itself if the promise resolves). */
export async function rejection(promise: Promise<unknown>, ms = 5000): Promise<NodeJS.ErrnoException & { address?: string; port?: number }> {
  try {
    await within(promise, ms, 'a rejection');
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** The error an observable ends with (rejects if it completes instead). */
export function errorOf(source: Observable<unknown>, ms = 5000): Promise<NodeJS.ErrnoException & { address?: string; port?: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`no error within ${ms} ms`));
    }, ms);
    const sub = source.subscribe({
      error: (err: unknown) => {
        clearTimeout(timer);
        resolve(err as NodeJS.ErrnoException);
      },
      complete: () => {
        clearTimeout(timer);
        reject(new Error('expected an error, the observable completed'));
      },
    });
  });
}

/** Collects a connection's `data$` until it completes; rejects on its error or after `ms`. */
export function readAll(conn: Connection, ms = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`data$ did not complete within ${ms} ms (${got} bytes so far)`));
    }, ms);
    const sub = conn.data$.subscribe({
      next: (chunk) => {
        chunks.push(chunk);
        got += chunk.length;
      },
      error: (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
      complete: () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      },
    });
  });
}

/** How the connection closed (closed$'s one value), within `ms`. */
export function closedInfo(conn: Connection, ms = 5000): Promise<CloseInfo> {
  return firstValueFrom(conn.closed$.pipe(timeout(ms)));
}

/** Writes `chunks` to a connection, waiting for drain$ whenever write() says so. */
export async function writeWithBackpressure(conn: Connection, chunks: Iterable<Uint8Array>, ms = 10_000): Promise<void> {
  for (const chunk of chunks) {
    if (!conn.write(chunk)) {
      if (conn.closed) throw new Error('the connection closed while writing');
      await firstValueFrom(conn.drain$.pipe(timeout(ms)));
    }
  }
}

/**
 * Everything a node:net socket receives, from now on (flowing mode), with
 * waits that reject on a deadline.
 */
export class Received {
  readonly chunks: Buffer[] = [];
  length = 0;
  ended = false;
  closed = false;
  error: Error | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString();
  }

  /** Waits until `condition` holds; rejects after `ms`, or when the socket closes first. */
  async until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (this.closed) throw new Error(`socket closed (${this.length} bytes received, error ${String(this.error)}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what} (${this.length} bytes received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for at least `n` bytes. */
  atLeast(n: number, ms?: number): Promise<void> {
    return this.until(() => this.length >= n, `${n} bytes`, ms);
  }

  /** Waits for the peer's FIN and resolves with everything received. */
  async end(ms?: number): Promise<Buffer> {
    await this.until(() => this.ended, 'end of stream', ms);
    return this.bytes();
  }

  /** Waits for 'close'. */
  async close(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for the socket to close`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export function receive(socket: net.Socket): Received {
  return new Received(socket);
}

export function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** `n` random bytes. */
export function randomBytes(n: number): Buffer {
  return crypto.randomBytes(n);
}

/** Splits `data` into chunks of random sizes between 1 and `max` bytes. */
export function randomChunks(data: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const size = Math.min(data.length - at, 1 + crypto.randomInt(max));
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** CPU time (user + system) a process has used, in clock ticks, from /proc/<pid>/stat. */
export function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is parenthesised and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** Clock ticks per second (USER_HZ); 100 on Linux. */
export const CLOCK_TICKS = 100;

/**
 * How a connection to `port` ends, seen by rxnet's own client, which reads
 * with recv(2) until the kernel reports EOF or an error. (A node:net client
 * can report a reset as a clean end: libuv takes POLLHUP after a partial
 * read for EOF, uv__stream_io, so it cannot tell a FIN from an RST that
 * arrived behind data.) With `paused`, nothing is read until `resume()`.
 */
export async function peerOutcome(
  reactor: Reactor,
  port: number,
  ms = 10_000,
): Promise<{ received: number; ended: boolean; error: NodeJS.ErrnoException | null }> {
  let conn: Connection;
  try {
    conn = await dial(reactor, port);
  } catch (err) {
    // The reset can beat the end of the handshake.
    return { received: 0, ended: false, error: err as NodeJS.ErrnoException };
  }
  let received = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the connection did not end within ${ms} ms (${received} bytes)`)), ms);
    conn.data$.subscribe({
      next: (chunk) => (received += chunk.length),
      error: (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({ received, ended: false, error: err });
      },
      complete: () => {
        clearTimeout(timer);
        conn.close();
        resolve({ received, ended: true, error: null });
      },
    });
  });
}
