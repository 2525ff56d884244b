import { AsyncScope } from '../reactor/asyncScope';
import * as fs from 'node:fs';
import { Observable, Subject } from 'rxjs';
import { errnoException, rxnetError, EAGAIN, EMFILE, ENFILE, ECONNABORTED, EINTR } from '../reactor/errors';
import * as io from '../reactor/io';
import { Reactor, Interest, type ReadinessTarget, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateInteger } from '../reactor/validate';
import { checkEndpointOptions, portNumber, resolveEndpoint } from './address';
import { Connection, connectionLimits, type ConnectionOptions } from './connection';
import { TlsSession, tlsServerSetup, type TlsServerOptions, type TlsSetup } from './tls';
import { checkProxyOptions, ProxyGate, type ProxyProtocolOptions } from './proxyGate';
import type { ProxyHeader } from './proxyProtocol';
import { serverCloseChannel, serverListenChannel, serverSocketChannel } from './diagnostics';

/** Options of `listen()` and `serve()`, named like `net.Server#listen`'s. */
export interface ListenOptions extends ConnectionOptions, ProxyProtocolOptions {
  /** Address to bind (an IP or a name looked up with dns.lookup). Default: `::` (dual-stack), else `0.0.0.0`. */
  host?: string;
  /** Port to bind, a number or a numeric string as net takes it; 0 (the default) picks a free one. */
  port?: number | string;
  /** A Unix domain socket path instead of host/port. Removed again when the listener closes. */
  path?: string;
  /**
   * An already-listening socket to accept on instead of binding one (systemd
   * socket activation, see `systemdListeners()`; a handoff, see
   * `receiveListeners()`). It is made non-blocking and close-on-exec and is
   * owned from then on: closed when the listener closes. Excludes host,
   * port and path.
   */
  fd?: number;
  /** listen(2) backlog; default 511, as Node's. */
  backlog?: number;
  /** SO_REUSEPORT: several listeners (one per worker_thread) share the port and the kernel spreads connections. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for an IPv6 host: no IPv4-mapped connections. */
  ipv6Only?: boolean;
  /** TCP_NODELAY on accepted connections; default true. */
  noDelay?: boolean;
  /** SO_KEEPALIVE on accepted connections; default false. */
  keepAlive?: boolean;
  /** The reactor to use; default `Reactor.default()`. */
  reactor?: Reactor;
  /** Called once the socket is bound and listening. */
  onListening?: (address: sys.SocketAddress) => void;
  /** Called with every listener event (as `events$` emits them). */
  onEvent?: (event: ServerEvent) => void;
  /**
   * Serve TLS, terminated on the reactor's native data path: options as
   * `tls.createServer`'s (`key`, `cert`, `ca`, `requestCert`, `ALPNProtocols`,
   * `SNICallback`, `handshakeTimeout`, `secureContext`, ...). A connection is
   * emitted once its handshake is done; a failed one is reported as a
   * 'tls-client-error' event and never reaches the handler. With
   * `proxyProtocol`, the PROXY header is read first, in the clear, and the
   * handshake runs on the bytes after it (`handshakeTimeout` starts then).
   */
  tls?: TlsServerOptions;
}

/** Something that happened to a listener or server. */
export type ServerEvent =
  | { type: 'listening'; address: sys.SocketAddress }
  /** accept failed for lack of descriptors (EMFILE/ENFILE): accepting paused, retried after `retryInMs`. */
  | { type: 'accept-paused'; error: Error; retryInMs: number }
  | { type: 'accept-resumed'; pausedForMs: number }
  /**
   * An accepted connection could not be adopted (e.g. select's FD_SETSIZE):
   * that connection alone was reset; the listener carries on.
   */
  | { type: 'connection-rejected'; error: Error }
  /**
   * A TLS client's handshake failed (an alert, a certificate that does not
   * verify, garbage, a timeout, a disconnect): that connection was closed.
   */
  | { type: 'tls-client-error'; error: Error; remote: sys.SocketAddress | null }
  /**
   * `proxyProtocol`: a connection sent no valid PROXY header in time, one
   * too large, or came from outside `trustedProxies`. It was closed unread
   * and never reached the handler.
   */
  | { type: 'proxy-rejected'; error: Error; remote?: string }
  /** `handOff()`: the listening socket now belongs to process `pid`; this server drains. */
  | { type: 'handed-off'; pid: number }
  /**
   * serve(): a connection's handler or its output failed (the connection was
   * reset); or binding/listening failed (fatal: the server closed).
   */
  | { type: 'error'; error: Error }
  | { type: 'shutdown'; closedByDeadline: number };

/** Counters of one listener. */
export interface ListenerStats {
  accepted: number;
  /** Pending connections accepted and closed at once because descriptors ran out. */
  dropped: number;
  /** Accepted connections that could not be adopted and were reset ('connection-rejected' events). */
  rejected: number;
  /** Times accepting was paused because descriptors ran out. */
  emfileEpisodes: number;
  /** TLS handshakes that failed ('tls-client-error' events). */
  tlsClientErrors: number;
  /** Connections closed for a missing, bad, late or untrusted PROXY header ('proxy-rejected' events). */
  proxyRejected: number;
}

/**
 * Linux copies TCP_NODELAY and SO_KEEPALIVE from a listening socket to the
 * sockets it accepts (tcp_create_openreq_child, sock_copy): set once on the
 * listener, they cost no setsockopt per connection, one of the two syscalls
 * a connection costs on io_uring. Elsewhere each accepted socket gets them.
 * test/streams/socket-options checks what accepted sockets end up with.
 */
const ACCEPTED_INHERIT_OPTIONS = process.platform === 'linux';
const BACKOFF_MIN_MS = 10;
const BACKOFF_MAX_MS = 1000;

/** @internal */
export function checkListenOptions(options: ListenOptions, name = 'options'): void {
  checkEndpointOptions(options, name, false);
  if (options.fd !== undefined) {
    validateInteger(options.fd, `${name}.fd`, 0, 0x7fffffff);
    if (options.host !== undefined || options.port !== undefined || options.path !== undefined) {
      throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}.fd" option excludes host, port and path`);
    }
  }
  checkProxyOptions(options, name);
  if (options.backlog !== undefined) validateInteger(options.backlog, `${name}.backlog`, 0, 0x7fffffff);
  connectionLimits(options, name);
  if (options.reusePort && !sys.haveReusePort) {
    throw rxnetError(Error, 'ERR_RXNET_NO_REUSEPORT', `SO_REUSEPORT is not available on ${process.platform}`);
  }
  if (options.reactor !== undefined && !(options.reactor instanceof Reactor)) {
    throw rxnetError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}.reactor" option must be a Reactor`);
  }
}

/** Validates `options.tls` and makes its context, once per listen()/serve(). @internal */
export function listenTlsSetup(options: ListenOptions, name = 'options'): TlsSetup | null {
  return options.tls === undefined ? null : tlsServerSetup(options.tls, `${name}.tls`);
}

/**
 * A listening socket and its accept loop. Internal engine of `listen()` and
 * `serve()`.
 * @internal
 */
export class Listener implements ReadinessTarget {
  address: sys.SocketAddress | null = null;
  readonly stats: ListenerStats = { accepted: 0, dropped: 0, rejected: 0, emfileEpisodes: 0, tlsClientErrors: 0, proxyRejected: 0 };
  private fd = -1;
  private registration: Registration | null = null;
  private spareFd = -1;
  private backoffMs = 0;
  private pausedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly reactor: Reactor;
  private readonly limits: Required<ConnectionOptions>;
  // TLS: handshakes under way, not yet connections (closed by stop()).
  private readonly handshakes = new Set<TlsSession>();
  private readonly gate: ProxyGate | null;
  // The context of serve() or of listen()'s subscription: accepting and every
  // accepted connection's callbacks run in it, as node:net's do in listen()'s.
  private readonly asyncContext = new AsyncScope('rxnet:Listener');

  constructor(
    private readonly options: ListenOptions,
    private readonly onConnection: (conn: Connection) => void,
    private readonly onFatal: (err: Error) => void,
    private readonly onEvent: (event: ServerEvent) => void,
    /** What diagnostics_channel messages name as `server`: serve()'s Server, or listen()'s observable. */
    private readonly owner: object,
    private readonly tlsSetup: TlsSetup | null = null,
  ) {
    this.reactor = options.reactor ?? Reactor.default();
    this.limits = connectionLimits(options);
    this.gate =
      options.proxyProtocol === undefined
        ? null
        : new ProxyGate(options, onConnection, (error, remote) => {
            this.stats.proxyRejected++;
            this.onEvent({ type: 'proxy-rejected', error, ...(remote === undefined ? {} : { remote }) });
          });
  }

  /** The listening socket's fd (-1 before it listens and after it closes). */
  get listeningFd(): number {
    return this.fd;
  }

  /** Connections accepted and still waiting for their PROXY header. */
  get pendingHeaders(): number {
    return this.gate === null ? 0 : this.gate.pending.size;
  }

  /** Closes the connections still waiting for their PROXY header. */
  closePending(): void {
    this.gate?.closePending();
  }

  /** Binds and listens, synchronously when no DNS lookup is needed. */
  start(): void {
    if (this.options.fd !== undefined) return this.startInherited(this.options.fd);
    const dualStack = this.options.host === undefined && this.options.path === undefined;
    if (serverListenChannel.hasSubscribers) serverListenChannel.asyncStart.publish({ server: this.owner, options: this.options });
    const fatal = (error: Error) => {
      if (serverListenChannel.hasSubscribers) serverListenChannel.error.publish({ server: this.owner, error });
      this.onFatal(error);
    };
    resolveEndpoint(this.options, '::', (err, resolved) => {
      if (this.stopped) return;
      if (err) return fatal(err);
      try {
        this.open(resolved!.family, resolved!.endpoint);
      } catch (e) {
        const error = e as NodeJS.ErrnoException;
        // Node's default host: '::' when the machine has IPv6, else 0.0.0.0.
        if (dualStack && (error.code === 'EAFNOSUPPORT' || error.code === 'EADDRNOTAVAIL')) {
          try {
            this.open('ipv4', { address: '0.0.0.0', port: portNumber(this.options.port) });
          } catch (e2) {
            return fatal(e2 as Error);
          }
        } else {
          return fatal(error);
        }
      }
      if (serverListenChannel.hasSubscribers) serverListenChannel.asyncEnd.publish({ server: this.owner, address: this.address });
      this.onEvent({ type: 'listening', address: this.address! });
      this.options.onListening?.(this.address!);
    });
  }

  /**
   * Listens on a socket this process did not open. Node's `listen({ fd })`
   * cannot take a Unix socket (nodejs/node#44035); this takes any listening
   * stream socket, TCP or Unix, after checking that it is one.
   */
  private startInherited(fd: number): void {
    try {
      const what = sys.describeSocket(fd);
      if (what.type !== 'stream' || !what.listening) {
        throw rxnetError(
          Error,
          'ERR_RXNET_NOT_LISTENING',
          `fd ${fd} is not a listening stream socket (type ${what.type}${what.listening ? '' : ', not listening'})`,
        );
      }
      sys.inherit(fd);
      // Set either way: an inherited listener may carry another process's options.
      if (what.address.family !== 'unix') this.setAcceptedOptions(fd);
      this.registration = this.reactor.register(fd, Interest.Readable, this, { owned: true });
      this.address = what.address;
    } catch (err) {
      return this.onFatal(err as Error);
    }
    this.fd = fd;
    this.spareFd = openSpare();
    this.onEvent({ type: 'listening', address: this.address! });
    this.options.onListening?.(this.address!);
  }

  private open(family: sys.Family, endpoint: sys.Endpoint): void {
    const fd = sys.socket(family, 'stream');
    try {
      if (family !== 'unix') {
        // As Node does: a restarted server can bind while old connections sit in TIME_WAIT.
        sys.setsockopt(fd, 'SO_REUSEADDR', true);
        if (this.options.reusePort) sys.setsockopt(fd, 'SO_REUSEPORT', true);
        if (family === 'ipv6') sys.setsockopt(fd, 'IPV6_V6ONLY', this.options.ipv6Only === true);
        this.setAcceptedOptions(fd);
      }
      sys.bind(fd, endpoint);
      sys.listen(fd, this.options.backlog ?? 511);
      this.address = sys.getsockname(fd);
      if (family === 'unix') this.address = { address: (endpoint as { path: string }).path, family: 'unix', port: 0 };
      // accept: a completion backend (io_uring) accepts with a multishot accept itself.
      this.registration = this.reactor.register(fd, Interest.Readable, this, { owned: true, accept: true, context: this.asyncContext });
    } catch (err) {
      io.close(fd);
      throw err;
    }
    this.fd = fd;
    this.spareFd = openSpare();
  }

  /**
   * Closes the listening socket (accepted connections are not touched).
   * `closePending: false` lets connections still waiting for their PROXY
   * header finish arriving (a server's drain); `handedOff: true` leaves a
   * Unix socket's path in place, for the process that now owns the socket.
   */
  stop(options: { closePending?: boolean; handedOff?: boolean } = {}): void {
    // A TLS listener's pending headers would only lead to handshakes, which
    // stopping gives up (below): they are closed now, not waited for.
    if (options.closePending !== false || this.tlsSetup !== null) this.gate?.closePending();
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.registration?.close();
    this.registration = null;
    if (this.fd >= 0) {
      this.reactor.io.close(this.fd);
      this.fd = -1;
      if (this.options.path !== undefined && options.handedOff !== true) fs.rmSync(this.options.path, { force: true });
      if (serverCloseChannel.hasSubscribers) serverCloseChannel.publish({ server: this.owner, address: this.address });
    }
    if (this.spareFd >= 0) fs.closeSync(this.spareFd);
    this.spareFd = -1;
    for (const session of this.handshakes) session.abort();
    this.handshakes.clear();
  }

  /** Where accepted sockets inherit them, TCP_NODELAY and SO_KEEPALIVE go on the listener. */
  private setAcceptedOptions(fd: number): void {
    if (!ACCEPTED_INHERIT_OPTIONS) return;
    io.setNoDelay(fd, this.options.noDelay !== false);
    io.setKeepAlive(fd, this.options.keepAlive === true);
  }

  /** The listening socket is readable: accept until EAGAIN, within the budget. @internal */
  onReady(): void {
    for (let budget = io.limits.acceptBudget; budget > 0 && !this.stopped; budget--) {
      const fd = this.reactor.io.accept(this.fd);
      if (fd >= 0) {
        this.stats.accepted++;
        if (this.backoffMs !== 0) this.resumed();
        this.adopt(fd);
        continue;
      }
      if (fd === EAGAIN) return;
      // The pending connection died before we took it: try the next one.
      if (fd === ECONNABORTED || fd === EINTR) continue;
      this.exhausted(fd);
      return;
    }
  }

  /**
   * Turns an accepted fd into a Connection. A failure here (select cannot
   * watch an fd this high, the reactor refused it) costs this connection
   * only: it is reset, counted and reported, and accepting goes on.
   */
  private adopt(fd: number): void {
    let conn: Connection;
    try {
      if (this.address!.family !== 'unix' && !ACCEPTED_INHERIT_OPTIONS) {
        if (this.options.noDelay !== false) io.setNoDelay(fd, true);
        if (this.options.keepAlive) io.setKeepAlive(fd, true);
      }
      if (this.tlsSetup !== null) {
        // With proxyProtocol the header comes first, in the clear: the
        // handshake starts once exactly its bytes are off the socket.
        if (this.gate !== null) return this.gate.admitBeforeTls(fd, this.reactor, this.asyncContext, this.afterHeader);
        return this.handshake(fd, this.tlsSetup);
      }
      conn = new Connection(fd, this.reactor, this.limits, null, null, this.asyncContext);
    } catch (err) {
      return this.refuse(fd, err as Error);
    }
    // With proxyProtocol the handler gets the connection once its header has arrived.
    if (this.gate !== null) return this.gate.admit(conn);
    this.onConnection(conn);
    // A handler that reads has registered it already; one that does not
    // still keeps the process alive while the connection is open.
    conn.register();
    if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket: conn });
  }

  /** An accepted fd that could not be taken on: reset, counted and reported; accepting goes on. */
  private refuse(fd: number, error: Error): void {
    io.lingerZero(fd);
    io.close(fd);
    this.stats.rejected++;
    this.onEvent({ type: 'connection-rejected', error });
  }

  /** TLS with proxyProtocol: the header is in; the handshake runs on what follows it. */
  private readonly afterHeader = (fd: number, header: ProxyHeader): void => {
    // (Never after stop(): a TLS listener's pending headers are closed there.)
    try {
      this.handshake(fd, this.tlsSetup!, header);
    } catch (err) {
      this.refuse(fd, err as Error);
    }
  };

  /** TLS: the connection is emitted once its handshake is done, and a failed one only counted and reported. */
  private handshake(fd: number, setup: TlsSetup, header: ProxyHeader | null = null): void {
    const session: TlsSession = new TlsSession(this.reactor, fd, this.limits, setup, {}, (error, conn) => {
      this.handshakes.delete(session);
      if (error) {
        this.stats.tlsClientErrors++;
        // Behind a proxy, the client is the one its header names.
        const remote = header?.command === 'PROXY' && header.source !== null ? header.source : session.remote;
        this.onEvent({ type: 'tls-client-error', error, remote });
        return;
      }
      if (header !== null) conn!.setProxyHeader(header);
      this.onConnection(conn!);
      conn!.register();
      if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket: conn });
    });
    // Throws (the caller resets the fd) if the reactor refuses it.
    session.startServer(this.asyncContext);
    this.handshakes.add(session);
  }

  /**
   * EMFILE/ENFILE (or ENOBUFS/ENOMEM): the listening socket stays readable,
   * and a level-triggered loop would spin at 100% CPU (node#45242; uSockets
   * never handled it). So: spend the spare descriptor to accept and close
   * one pending connection (its client gets a FIN instead of hanging), drop
   * Readable interest, and retry on a timer with exponential backoff.
   */
  private exhausted(result: number): void {
    if (this.spareFd >= 0 && (result === EMFILE || result === ENFILE)) {
      fs.closeSync(this.spareFd);
      this.spareFd = -1;
      const victim = this.reactor.io.accept(this.fd);
      if (victim >= 0) {
        io.close(victim);
        this.stats.dropped++;
      }
      this.spareFd = openSpare();
    }
    if (this.backoffMs === 0) {
      this.stats.emfileEpisodes++;
      this.pausedAt = Date.now();
      this.backoffMs = BACKOFF_MIN_MS;
      this.onEvent({ type: 'accept-paused', error: errnoException(result, 'accept'), retryInMs: this.backoffMs });
    } else {
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    }
    this.registration?.update(0);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      if (this.spareFd < 0) this.spareFd = openSpare();
      this.registration?.update(Interest.Readable);
    }, this.backoffMs);
    // The listener's own registration keeps the loop alive; the timer need not.
    this.timer.unref();
  }

  private resumed(): void {
    const pausedForMs = Date.now() - this.pausedAt;
    this.backoffMs = 0;
    this.onEvent({ type: 'accept-resumed', pausedForMs });
  }
}

/** A descriptor held in reserve for the EMFILE trick; -1 if none could be had. */
function openSpare(): number {
  try {
    return fs.openSync('/dev/null', 'r');
  } catch {
    return -1;
  }
}

/** What listen() returns: the connections, plus the events of its listeners. */
export interface ListenObservable extends Observable<Connection> {
  /**
   * Events of every listener this observable's subscriptions open
   * (listening, connection-rejected, accept paused/resumed by EMFILE).
   * Completes never; it is as long-lived as the observable.
   */
  readonly events$: Observable<ServerEvent>;
}

/**
 * Accepted connections of a listening socket, as a cold observable:
 * subscribing binds and listens, unsubscribing closes the listening socket
 * (connections already emitted live on; close them yourself). Bad options
 * throw here; bind errors (EADDRINUSE, ...) go to `error`.
 *
 * @example
 * listen({ host: '127.0.0.1', port: 7000 }).subscribe((conn) => {
 *   conn.data$.subscribe({ next: (chunk) => conn.write(chunk), complete: () => conn.end() });
 * });
 */
export function listen(options: ListenOptions = {}): ListenObservable {
  checkListenOptions(options);
  const tlsSetup = listenTlsSetup(options);
  const events = new Subject<ServerEvent>();
  const source = new Observable<Connection>((subscriber) => {
    const listener = new Listener(
      options,
      (conn) => subscriber.next(conn),
      (err) => subscriber.error(err),
      (event) => {
        options.onEvent?.(event);
        events.next(event);
      },
      source,
      tlsSetup,
    );
    listener.start();
    return () => listener.stop();
  }) as Observable<Connection> & { events$: Observable<ServerEvent> };
  source.events$ = events.asObservable();
  return source;
}
