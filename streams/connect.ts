import { AsyncResource } from 'node:async_hooks';
import { Observable } from 'rxjs';
import { errnoException, ETIMEDOUT, EINPROGRESS } from '../reactor/errors';
import * as io from '../reactor/io';
import { Reactor, Interest, Ready, type ReadinessTarget, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateInteger } from '../reactor/validate';
import { checkEndpointOptions, resolveEndpoint, type ResolvedEndpoint } from './address';
import { Connection, connectionLimits, type ConnectionOptions } from './connection';
import { clientSocketChannel } from './diagnostics';

/** Options of `connect()`, named like `net.connect`'s. */
export interface ConnectOptions extends ConnectionOptions {
  /** Host to connect to (an IP, or a name looked up with dns.lookup); default 'localhost'. */
  host?: string;
  port?: number;
  /** A Unix domain socket path instead of host/port. */
  path?: string;
  /** Address family for the lookup of `host`. */
  family?: 4 | 6;
  /** Abort the attempt with ETIMEDOUT after this many ms (default: the kernel's own timeout). */
  timeout?: number;
  /** TCP_NODELAY; default true. */
  noDelay?: boolean;
  /** SO_KEEPALIVE; default false. */
  keepAlive?: boolean;
  reactor?: Reactor;
}

/**
 * A non-blocking connect as a cold observable: emits the Connection once
 * established, then completes. Failures (ECONNREFUSED, ETIMEDOUT, ENOENT for a
 * missing Unix socket, ...) arrive as Node-shaped errors with `address` and
 * `port`. Unsubscribing before it connects aborts the attempt; once emitted,
 * the connection is yours to close.
 *
 * @example
 * const conn = await firstValueFrom(connect({ host: '127.0.0.1', port: 6379, timeout: 1000 }));
 * conn.write('PING\r\n');
 */
export function connect(options: ConnectOptions): Observable<Connection> {
  checkEndpointOptions(options, 'options', true);
  const limits = connectionLimits(options);
  if (options.timeout !== undefined) validateInteger(options.timeout, 'options.timeout', 0, 2 ** 31 - 1);
  return new Observable<Connection>((subscriber) => {
    let handshake: Handshake | null = null;
    // The connection's callbacks run in the context of this subscription,
    // as a net.Socket's do in the context of net.connect().
    const context = new AsyncResource('rxnet:Connect');
    resolveEndpoint(options, 'localhost', (err, resolved) => {
      if (subscriber.closed) return;
      if (err) return subscriber.error(err);
      handshake = new Handshake(options.reactor ?? Reactor.default(), resolved!, options, limits, context, (error, conn) => {
        if (error) return subscriber.error(error);
        subscriber.next(conn!);
        subscriber.complete();
      });
      handshake.start();
    });
    return () => handshake?.abort();
  });
}

/**
 * One non-blocking connect(2): the socket is registered for writability, and
 * once writable SO_ERROR says how it went (connect(2), EINPROGRESS). On
 * success the registration passes to the Connection as it is, so becoming a
 * connection costs no further syscall.
 */
class Handshake implements ReadinessTarget {
  private fd = -1;
  private registration: Registration | null = null;
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  private readonly details: { address: string; port?: number };

  constructor(
    private readonly reactor: Reactor,
    private readonly resolved: ResolvedEndpoint,
    private readonly options: ConnectOptions,
    private readonly limits: Required<ConnectionOptions>,
    private readonly context: AsyncResource,
    private readonly callback: (error: Error | null, conn?: Connection) => void,
  ) {
    this.details = resolved.family === 'unix' ? { address: resolved.address } : { address: resolved.address, port: resolved.port };
  }

  start(): void {
    const { family, address, port } = this.resolved;
    let r: number;
    try {
      this.fd = sys.socket(family, 'stream');
      if (family !== 'unix') {
        if (this.options.noDelay !== false) io.setNoDelay(this.fd, true);
        if (this.options.keepAlive) io.setKeepAlive(this.fd, true);
      }
      r = io.connect(this.fd, family === 'unix' ? io.AF_UNIX : family === 'ipv6' ? io.AF_INET6 : io.AF_INET, address, port);
      if (r < 0 && r !== EINPROGRESS) return this.fail(errnoException(r, 'connect', this.details));
      // Connected at once (a Unix socket can be): still become a connection
      // through the same path, with a registration made here.
      this.registration = this.reactor.register(this.fd, r === 0 ? 0 : Interest.Writable, this, { read: true, owned: true, context: this.context });
    } catch (e) {
      return this.fail(e as Error);
    }
    if (r === 0) return this.established();
    if (this.options.timeout !== undefined) {
      this.timer = setTimeout(() => this.fail(errnoException(ETIMEDOUT, 'connect', this.details)), this.options.timeout);
    }
  }

  /** Unsubscribed before the connection was established: give up the attempt. */
  abort(): void {
    if (this.done) return;
    this.settle();
    this.release();
  }

  /** @internal */
  onReady(events: number): void {
    if (this.done) return;
    const error = sys.socketError(this.fd, 'connect', this.details);
    if (error !== null) return this.fail(error);
    if (events & (Ready.Writable | Ready.Error | Ready.Hangup)) this.established();
  }

  private established(): void {
    this.settle();
    let conn: Connection;
    try {
      conn = new Connection(this.fd, this.reactor, this.limits, this.registration, this.context);
    } catch (e) {
      this.release();
      return this.callback(e as Error);
    }
    this.registration = null;
    if (clientSocketChannel.hasSubscribers) clientSocketChannel.publish({ socket: conn });
    this.callback(null, conn);
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.settle();
    this.release();
    this.callback(error);
  }

  private settle(): void {
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private release(): void {
    this.registration?.close();
    this.registration = null;
    if (this.fd >= 0) io.close(this.fd);
    this.fd = -1;
  }
}
