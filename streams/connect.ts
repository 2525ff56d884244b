import { Observable } from 'rxjs';
import { native } from '../reactor/binding';
import { errnoException, ETIMEDOUT } from '../reactor/errors';
import { Reactor } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateInteger } from '../reactor/validate';
import { checkEndpointOptions, resolveEndpoint } from './address';
import { Connection, connectionLimits, type ConnectionOptions } from './connection';

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
  connectionLimits(options);
  if (options.timeout !== undefined) validateInteger(options.timeout, 'options.timeout', 0, 2 ** 31 - 1);
  return new Observable<Connection>((subscriber) => {
    const reactor = options.reactor ?? Reactor.default();
    let conn: Connection | null = null;
    let fd = -1;
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const settle = () => {
      done = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    };

    resolveEndpoint(options, 'localhost', (err, resolved) => {
      if (subscriber.closed) return;
      if (err) return subscriber.error(err);
      const { endpoint, family, address, port } = resolved!;
      const details = family === 'unix' ? { address } : { address, port };
      try {
        fd = sys.socket(family, 'stream');
        if (family !== 'unix') {
          if (options.noDelay !== false) sys.setsockopt(fd, 'TCP_NODELAY', true);
          if (options.keepAlive) sys.setsockopt(fd, 'SO_KEEPALIVE', true);
        }
      } catch (e) {
        if (fd >= 0) native.close(fd);
        return subscriber.error(e);
      }
      const r = native.connect(fd, endpoint && 'path' in endpoint ? native.constants.AF_UNIX : family === 'ipv6' ? native.constants.AF_INET6 : native.constants.AF_INET, address, port);
      if (r < 0 && r !== sys.EINPROGRESS) {
        native.close(fd);
        return subscriber.error(errnoException(r, 'connect', details));
      }
      const established = (c: Connection) => {
        settle();
        subscriber.next(c);
        subscriber.complete();
      };
      try {
        if (r === 0) {
          conn = new Connection(fd, reactor, options);
          return established(conn);
        }
        conn = new Connection(fd, reactor, options, (error) => {
          if (done) return;
          if (error) {
            settle();
            const shaped = errnoException((error as NodeJS.ErrnoException).errno ?? -1, 'connect', details);
            conn!.destroy(shaped);
            subscriber.error(shaped);
          } else {
            established(conn!);
          }
        });
      } catch (e) {
        native.close(fd);
        return subscriber.error(e);
      }
      if (options.timeout !== undefined) {
        timer = setTimeout(() => {
          if (done) return;
          settle();
          const error = errnoException(ETIMEDOUT, 'connect', details);
          conn!.destroy(error);
          subscriber.error(error);
        }, options.timeout);
      }
    });

    return () => {
      if (!done) {
        settle();
        conn?.close();
      }
    };
  });
}
