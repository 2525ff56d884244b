import { AsyncScope } from '../reactor/asyncScope';
import * as dns from 'node:dns';
import * as net from 'node:net';
import { Observable } from 'rxjs';
import { errnoException, rxnetError, EAGAIN, ETIMEDOUT, EINPROGRESS } from '../reactor/errors';
import * as io from '../reactor/io';
import { Reactor, Interest, Ready, type ReadinessTarget, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { invalidArgType, validateFunction, validateInteger, validateOneOf } from '../reactor/validate';
import { checkEndpointOptions, portNumber, resolveEndpoint, type ResolvedEndpoint } from './address';
import { Connection, connectionLimits, type ConnectionOptions } from './connection';
import { clientSocketChannel } from './diagnostics';
import { encodeProxyHeader, type ProxyHeaderInit } from './proxyProtocol';
import { TlsSession, tlsClientSetup, type TlsClientOptions, type TlsSetup } from './tls';

/** Options of `connect()`, named like `net.connect`'s. */
export interface ConnectOptions extends ConnectionOptions {
  /** Host to connect to (an IP, or a name looked up with dns.lookup); default 'localhost'. */
  host?: string;
  /** A number or a numeric string, as net.connect takes it. */
  port?: number | string;
  /** A Unix domain socket path instead of host/port. */
  path?: string;
  /** Address family for the lookup of `host`. */
  family?: 0 | 4 | 6;
  /** A dns.lookup-compatible function for `host` (net.connect's `lookup`); called with `all: true`. */
  lookup?: LookupFunction;
  /**
   * Try every address `host` resolves to, IPv6 and IPv4 interleaved, each
   * for up to `autoSelectFamilyAttemptTimeout` ms before the next (RFC 8305
   * loosely, as net.connect's). Default: net.getDefaultAutoSelectFamily().
   * False: the first address only.
   */
  autoSelectFamily?: boolean;
  /** Default net.getDefaultAutoSelectFamilyAttemptTimeout() (250 ms); at least 10. */
  autoSelectFamilyAttemptTimeout?: number;
  /** Abort with ETIMEDOUT after this many ms over all attempts (default: the kernel's own timeout). */
  timeout?: number;
  /** TCP_NODELAY; default true. */
  noDelay?: boolean;
  /** SO_KEEPALIVE; default false. */
  keepAlive?: boolean;
  reactor?: Reactor;
  /**
   * Speak TLS, terminated on the reactor's native data path: options as
   * `tls.connect`'s (`servername`, `ca`, `rejectUnauthorized`,
   * `ALPNProtocols`, `key`/`cert` for a client certificate, `session`, ...).
   * The connection is emitted once the handshake is done; `conn.tls` tells
   * what it agreed.
   */
  tls?: TlsClientOptions;
  /**
   * Send a PROXY protocol header (HAProxy's doc/proxy-protocol.txt) as the
   * connection's first bytes, as a load balancer does: `proxyHeader` says
   * whose connection this is. Without `proxyHeader`, v2 sends LOCAL and v1
   * UNKNOWN ("no client to speak for"). With `tls`, the header leaves in
   * the clear before the ClientHello, as HAProxy's `send-proxy-v2` in front
   * of a TLS server.
   */
  proxyProtocol?: 'v1' | 'v2';
  /** The header's content; see `encodeProxyHeader()`. */
  proxyHeader?: ProxyHeaderInit;
}

/** dns.lookup's shape, with `all: true`. */
export type LookupFunction = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

/**
 * A non-blocking connect as a cold observable: emits the Connection once
 * established, then completes. A host name is looked up and every address it
 * has is tried in turn (happy eyeballs, as net.connect's autoSelectFamily).
 * Failures (ECONNREFUSED, ETIMEDOUT, ENOENT for a missing Unix socket, ...)
 * arrive as Node-shaped errors with `address` and `port`; when several
 * addresses all failed, an AggregateError whose `errors` has each one (and
 * whose `code` is the first one's, as node:net's). Unsubscribing before it
 * connects aborts the attempt; once emitted, the connection is yours to close.
 *
 * @example
 * const conn = await firstValueFrom(connect({ host: '127.0.0.1', port: 6379, timeout: 1000 }));
 * conn.write('PING\r\n');
 */
export function connect(options: ConnectOptions): Observable<Connection> {
  checkEndpointOptions(options, 'options', true);
  const limits = connectionLimits(options);
  if (options.timeout !== undefined) validateInteger(options.timeout, 'options.timeout', 0, 2 ** 31 - 1);
  if (options.lookup !== undefined) validateFunction(options.lookup, 'options.lookup');
  if (options.autoSelectFamilyAttemptTimeout !== undefined) {
    validateInteger(options.autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout', 1, 2 ** 31 - 1);
  }
  const tlsSetup = options.tls === undefined ? null : tlsClientSetup(options.tls, options.path === undefined ? (options.host ?? 'localhost') : undefined, 'options.tls');
  // Built now, so a bad header throws here rather than after connecting.
  const proxyHeader = proxyHeaderBytes(options);
  return new Observable<Connection>((subscriber) => {
    // The connection's callbacks run in the context of this subscription,
    // as a net.Socket's do in the context of net.connect().
    const context = new AsyncScope('rxnet:Connect');
    // With tls the header leaves in the clear before the ClientHello (Handshake.established).
    const clearHeader = tlsSetup === null ? null : proxyHeader;
    const attempts = new Attempts(options.reactor ?? Reactor.default(), options, limits, tlsSetup, clearHeader, context, (error, conn) => {
      if (error) return subscriber.error(error);
      // Queued before anything the subscriber writes: the header goes first.
      if (proxyHeader !== null && tlsSetup === null) conn!.write(proxyHeader);
      subscriber.next(conn!);
      subscriber.complete();
    });
    attempts.start();
    return () => attempts.abort();
  });
}

function proxyHeaderBytes(options: ConnectOptions): Buffer | null {
  if (options.proxyProtocol === undefined) {
    if (options.proxyHeader !== undefined) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', 'The "options.proxyHeader" option needs "options.proxyProtocol"');
    return null;
  }
  validateOneOf(options.proxyProtocol, 'options.proxyProtocol', ['v1', 'v2'] as const);
  if (options.proxyHeader !== undefined && (options.proxyHeader === null || typeof options.proxyHeader !== 'object')) {
    throw invalidArgType('options.proxyHeader', 'an object', options.proxyHeader);
  }
  return encodeProxyHeader(options.proxyProtocol, options.proxyHeader ?? { command: 'LOCAL' });
}

/**
 * The addresses of one connect(), tried one after the other: each attempt
 * but the last gets the attempt timeout, a refusal moves on at once, and the
 * overall `timeout` bounds them all.
 */
class Attempts {
  private current: Handshake | null = null;
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  private readonly errors: Error[] = [];

  constructor(
    private readonly reactor: Reactor,
    private readonly options: ConnectOptions,
    private readonly limits: Required<ConnectionOptions>,
    private readonly tlsSetup: TlsSetup | null,
    private readonly clearHeader: Buffer | null,
    private readonly asyncContext: AsyncScope,
    private readonly settle: (error: Error | null, conn?: Connection) => void,
  ) {}

  start(): void {
    const { options } = this;
    if (options.timeout !== undefined) {
      this.timer = setTimeout(() => {
        const handshake = this.current;
        this.current = null;
        handshake?.abort();
        this.finish(errnoException(ETIMEDOUT, 'connect', handshake?.details ?? { address: options.host ?? options.path ?? 'localhost' }));
      }, options.timeout);
    }
    if (options.path !== undefined || net.isIP(options.host ?? 'localhost') !== 0) {
      resolveEndpoint(options, 'localhost', (err, resolved) => (err ? this.finish(err) : this.tryEach([resolved!], 0)));
      return;
    }
    const host = options.host ?? 'localhost';
    const port = portNumber(options.port);
    const lookup = options.lookup ?? (dns.lookup as unknown as LookupFunction);
    lookup(host, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (this.done) return;
      if (err) return this.finish(err);
      if (addresses.length === 0) {
        return this.finish(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host }));
      }
      const auto = options.autoSelectFamily ?? net.getDefaultAutoSelectFamily();
      const chosen = auto ? interleave(addresses) : addresses.slice(0, 1);
      this.tryEach(
        chosen.map(({ address, family }) => ({ endpoint: { address, port }, family: family === 6 ? 'ipv6' : 'ipv4', address, port })),
        0,
      );
    });
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.current?.abort();
    this.current = null;
  }

  private tryEach(endpoints: ResolvedEndpoint[], i: number): void {
    if (this.done) return;
    const last = i === endpoints.length - 1;
    const attemptMs = last ? undefined : Math.max(10, this.options.autoSelectFamilyAttemptTimeout ?? net.getDefaultAutoSelectFamilyAttemptTimeout());
    const handshake: Handshake = new Handshake(this.reactor, endpoints[i], this.options, this.limits, this.tlsSetup, this.clearHeader, this.asyncContext, attemptMs, (error, conn) => {
      if (this.current !== handshake) return;
      this.current = null;
      if (error === null) return this.finish(null, conn);
      this.errors.push(error);
      if (last) return this.finish(this.errors.length === 1 ? error : aggregate(this.errors));
      this.tryEach(endpoints, i + 1);
    });
    this.current = handshake;
    handshake.start();
  }

  private finish(error: Error | null, conn?: Connection): void {
    if (this.done) {
      conn?.close();
      return;
    }
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.settle(error, conn);
  }
}

/** IPv6 and IPv4 addresses alternated, starting with the family of the first (as node:net orders them). */
function interleave(addresses: dns.LookupAddress[]): dns.LookupAddress[] {
  const first = addresses[0].family;
  const same = addresses.filter((a) => a.family === first);
  const other = addresses.filter((a) => a.family !== first);
  const out: dns.LookupAddress[] = [];
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]);
    if (i < other.length) out.push(other[i]);
  }
  return out;
}

/** Every address failed: node:net's shape, an AggregateError carrying the first error's code. */
function aggregate(errors: Error[]): Error {
  const first = errors[0] as NodeJS.ErrnoException;
  const error = new AggregateError(errors, errors.map((e) => e.message).join('; ')) as AggregateError & Partial<NodeJS.ErrnoException>;
  error.code = first.code;
  error.errno = first.errno;
  error.syscall = first.syscall;
  return error;
}

/**
 * One non-blocking connect(2): the socket is registered for writability, and
 * once writable SO_ERROR says how it went (connect(2), EINPROGRESS); on
 * io_uring the ring connects (IORING_OP_CONNECT) and keeps the outcome. On
 * success the registration passes to the Connection as it is, so becoming a
 * connection costs no further syscall.
 */
class Handshake implements ReadinessTarget {
  private fd = -1;
  private registration: Registration | null = null;
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  private tlsSession: TlsSession | null = null;
  readonly details: { address: string; port?: number };

  constructor(
    private readonly reactor: Reactor,
    private readonly resolved: ResolvedEndpoint,
    private readonly options: ConnectOptions,
    private readonly limits: Required<ConnectionOptions>,
    private readonly tlsSetup: TlsSetup | null,
    /** TLS with proxyProtocol: the PROXY header, written before the ClientHello. */
    private clearHeader: Buffer | null,
    private readonly context: AsyncScope,
    private readonly timeoutMs: number | undefined,
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
      r = this.reactor.io.connect(this.fd, family === 'unix' ? io.AF_UNIX : family === 'ipv6' ? io.AF_INET6 : io.AF_INET, address, port);
      if (r < 0 && r !== EINPROGRESS) return this.fail(errnoException(r, 'connect', this.details));
      // Connected at once (a Unix socket can be): still become a connection
      // through the same path, with a registration made here.
      this.registration = this.reactor.register(this.fd, r === 0 ? 0 : Interest.Writable, this, { read: true, tls: this.tlsSetup !== null, owned: true, context: this.context });
    } catch (e) {
      return this.fail(e as Error);
    }
    if (r === 0) return this.established();
    if (this.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.fail(errnoException(ETIMEDOUT, 'connect', this.details)), this.timeoutMs);
    }
  }

  /** Unsubscribed before the connection was established: give up the attempt. */
  abort(): void {
    this.tlsSession?.abort();
    if (this.done) return;
    this.settle();
    this.release();
  }

  /** @internal */
  onReady(events: number): void {
    if (this.done) return;
    const e = this.reactor.io.connectError(this.fd);
    if (e < 0) return this.fail(errnoException(e, 'connect', this.details));
    if (events & (Ready.Writable | Ready.Error | Ready.Hangup)) this.established();
  }

  private established(): void {
    if (this.clearHeader !== null && !this.writeClearHeader()) return;
    this.settle();
    if (this.tlsSetup !== null) {
      // The TLS handshake takes over the registration (and its async
      // context) and the fd, and reports in our place once it is done.
      const registration = this.registration!;
      this.registration = null;
      const fd = this.fd;
      this.fd = -1;
      this.tlsSession = new TlsSession(this.reactor, fd, this.limits, this.tlsSetup, this.details, (error, conn) => {
        if (conn !== undefined && clientSocketChannel.hasSubscribers) clientSocketChannel.publish({ socket: conn });
        this.callback(error, conn);
      });
      this.tlsSession.startClient(registration);
      return;
    }
    let conn: Connection;
    try {
      conn = new Connection(this.fd, this.reactor, this.limits, this.registration, null, this.context);
    } catch (e) {
      this.release();
      return this.callback(e as Error);
    }
    this.registration = null;
    if (clientSocketChannel.hasSubscribers) clientSocketChannel.publish({ socket: conn });
    this.callback(null, conn);
  }

  /**
   * Sends the PROXY header, in the clear, before the TLS handshake starts:
   * true once all of it is out. Usually at once (a new socket's send
   * buffer is empty); else the rest waits for writability, with the
   * attempt's deadlines still running.
   */
  private writeClearHeader(): boolean {
    const header = this.clearHeader!;
    const r = io.write(this.fd, header);
    if (r === header.length) {
      this.clearHeader = null;
      return true;
    }
    if (r < 0 && r !== EAGAIN) {
      this.fail(errnoException(r, 'write', this.details));
      return false;
    }
    if (r > 0) this.clearHeader = header.subarray(r);
    try {
      this.registration!.update(Interest.Writable);
    } catch (err) {
      this.fail(err as Error);
    }
    return false;
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
    if (this.fd >= 0) this.reactor.io.close(this.fd);
    this.fd = -1;
  }
}
