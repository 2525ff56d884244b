/**
 * The PROXY protocol stage of a listener: every accepted connection passes
 * through it before the handler sees a byte. It is the connection's first
 * data$ reader; once a whole header has arrived it sets `conn.proxy` and
 * `conn.remote`, and hands the connection over with the bytes that followed
 * the header (a subarray of the same chunk: no copy), keeping the read
 * interest as it is so that a handler subscribing at once costs no syscall.
 *
 * Why JavaScript and not the native read path: measured (docs/deployment.md),
 * parsing a v2 header here costs well under a microsecond against tens of
 * microseconds of kernel and reactor work per accepted connection, and the
 * header arrives in the same read as the first request, so a native parser
 * would save neither a crossing nor a syscall. A listener without the
 * option has no stage at all.
 *
 * A connection that sends no header, a bad one, one over the size limit, or
 * not all of it before the deadline, or that comes from outside
 * `trustedProxies`, is closed (RST: the sender should notice, spec 2.1),
 * counted in `stats.proxyRejected` and reported as a 'proxy-rejected'
 * event; it never reaches the handler.
 */
import type { AsyncScope } from '../reactor/asyncScope';
import * as net from 'node:net';
import type { Subscription } from 'rxjs';
import { rxnetError } from '../reactor/errors';
import * as io from '../reactor/io';
import type { Reactor } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateInteger, validateOneOf, invalidArgType } from '../reactor/validate';
import type { Connection } from './connection';
import { parseProxyHeader, tooLarge, V2_MAX, type ParsedProxyHeader, type ProxyHeader, type ProxyProtocolVersion } from './proxyProtocol';
import { PeekedHeader } from './proxyTls';

/** The listen()/serve() options of this stage. */
export interface ProxyProtocolOptions {
  /**
   * Expect a PROXY protocol header (HAProxy's `send-proxy`/`send-proxy-v2`,
   * nginx's `proxy_protocol on`) in front of every connection. `conn.remote`
   * is then the original client and `conn.proxy` the header. Default: none.
   */
  proxyProtocol?: ProxyProtocolVersion;
  /**
   * Peers allowed to send a header, as CIDRs ('10.0.0.0/8', 'fd00::/8') or
   * single addresses; connections from anyone else are closed unread.
   * Default: everyone who can connect (restrict it with a firewall then).
   * Not applied to a Unix socket, whose file permissions say who may connect.
   */
  trustedProxies?: readonly string[];
  /** How long a connection may take to deliver its whole header, ms (default 5000; the spec asks for at least 3 s). */
  proxyHeaderTimeout?: number;
  /** The largest header accepted, bytes (default 4096; at most 65551, the v2 format's limit). */
  maxProxyHeaderSize?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_SIZE = 4096;

/** @internal */
export function checkProxyOptions(options: ProxyProtocolOptions, name: string): void {
  if (options.proxyProtocol === undefined) {
    for (const key of ['trustedProxies', 'proxyHeaderTimeout', 'maxProxyHeaderSize'] as const) {
      if (options[key] !== undefined) {
        throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}.${key}" option needs "${name}.proxyProtocol"`);
      }
    }
    return;
  }
  validateOneOf(options.proxyProtocol, `${name}.proxyProtocol`, ['v1', 'v2', 'any'] as const);
  if (options.proxyHeaderTimeout !== undefined) validateInteger(options.proxyHeaderTimeout, `${name}.proxyHeaderTimeout`, 1, 2 ** 31 - 1);
  if (options.maxProxyHeaderSize !== undefined) validateInteger(options.maxProxyHeaderSize, `${name}.maxProxyHeaderSize`, 16, V2_MAX);
  if (options.trustedProxies !== undefined) trustList(options.trustedProxies, `${name}.trustedProxies`);
}

/**
 * A BlockList (node:net) of the trusted CIDRs: it matches IPv4-mapped IPv6
 * peers (a dual-stack listener's IPv4 clients) against IPv4 rules too.
 */
function trustList(cidrs: unknown, name: string): net.BlockList {
  if (!Array.isArray(cidrs)) throw invalidArgType(name, 'an array of CIDR strings', cidrs);
  const list = new net.BlockList();
  for (let i = 0; i < cidrs.length; i++) {
    const entry: unknown = cidrs[i];
    if (typeof entry !== 'string') throw invalidArgType(`${name}[${i}]`, 'a CIDR string', entry);
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = net.isIP(address);
    const prefixText = slash < 0 ? String(family === 6 ? 128 : 32) : entry.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
    if (family === 0 || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}[${i}]' must be an IP address or CIDR. Received '${entry}'`);
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** @internal */
export class ProxyGate {
  /** Connections still waiting for their header (a TLS listener's: PeekedHeader). */
  readonly pending = new Set<PendingHeader | PeekedHeader>();
  readonly version: ProxyProtocolVersion;
  readonly timeoutMs: number;
  readonly maxSize: number;
  private readonly trusted: net.BlockList | null;

  constructor(
    options: ProxyProtocolOptions,
    /** A connection with its header parsed: hand it to the handler. */
    readonly onAdmitted: (conn: Connection) => void,
    /** A connection refused (already closed). */
    readonly onRejected: (error: Error, remote: string | undefined) => void,
  ) {
    this.version = options.proxyProtocol!;
    this.timeoutMs = options.proxyHeaderTimeout ?? DEFAULT_TIMEOUT_MS;
    this.maxSize = options.maxProxyHeaderSize ?? DEFAULT_MAX_SIZE;
    this.trusted = options.trustedProxies === undefined ? null : trustList(options.trustedProxies, 'trustedProxies');
  }

  /**
   * One sweep for every pending header instead of a timer per connection:
   * a deadline is met within a tenth of it (at least 10 ms, at most 1 s).
   */
  private sweeper: NodeJS.Timeout | null = null;

  admit(conn: Connection): void {
    if (this.trusted !== null) {
      let peer: { address: string; family: string };
      try {
        peer = conn.remote;
      } catch (err) {
        // Gone before we looked (ENOTCONN): nothing to admit.
        conn.close();
        return this.onRejected(err as Error, undefined);
      }
      const refused = this.untrusted(peer);
      if (refused !== null) {
        conn.reset();
        return this.onRejected(refused, peer.address);
      }
    }
    const pending = new PendingHeader(this, conn, Date.now() + this.timeoutMs);
    this.track(pending);
    pending.start();
  }

  /**
   * `tls` with `proxyProtocol`: the header is taken off the socket itself,
   * exactly, before the TLS stage is attached (proxyTls.ts); `onHeader`
   * then starts the handshake. The fd is ours from here, unless this throws
   * (the reactor refused it): the caller still owns it then.
   */
  admitBeforeTls(fd: number, reactor: Reactor, context: AsyncScope, onHeader: (fd: number, header: ProxyHeader) => void): void {
    if (this.trusted !== null) {
      let peer: sys.SocketAddress;
      try {
        peer = sys.getpeername(fd);
      } catch (err) {
        io.close(fd);
        return this.onRejected(err as Error, undefined);
      }
      const refused = this.untrusted(peer);
      if (refused !== null) {
        io.lingerZero(fd);
        io.close(fd);
        return this.onRejected(refused, peer.address);
      }
    }
    const pending = new PeekedHeader(this, reactor, fd, Date.now() + this.timeoutMs, onHeader);
    pending.start(context);
    this.track(pending);
  }

  /** The refusal of a peer outside trustedProxies, or null. */
  private untrusted(peer: { address: string; family: string }): Error | null {
    // A Unix socket's peers are local: its file permissions say who may connect.
    if (this.trusted === null || peer.family === 'unix' || this.trusted.check(peer.address, peer.family === 'IPv6' ? 'ipv6' : 'ipv4')) return null;
    return rxnetError(Error, 'ERR_RXNET_PROXY_UNTRUSTED', `PROXY protocol connection from ${peer.address}, which is not in trustedProxies`);
  }

  private track(pending: PendingHeader | PeekedHeader): void {
    this.pending.add(pending);
    if (this.sweeper === null) {
      this.sweeper = setInterval(this.sweep, Math.min(1000, Math.max(10, Math.floor(this.timeoutMs / 10))));
      // The connections' own registrations keep the process alive.
      this.sweeper.unref();
    }
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const p of this.pending) if (p.deadline <= now) p.expire(this.timeoutMs);
    // Stopped only here, lazily: under load the set is rarely empty for long.
    if (this.pending.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  };

  /** Closes every connection still waiting for its header (listen() unsubscribed, a server's deadline). */
  closePending(): void {
    for (const p of [...this.pending]) p.abandon();
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

/** One connection waiting for its header. */
class PendingHeader {
  private buffered: Buffer | null = null;
  private subscription: Subscription | null = null;
  private done = false;

  constructor(
    private readonly gate: ProxyGate,
    private readonly conn: Connection,
    readonly deadline: number,
  ) {}

  expire(timeoutMs: number): void {
    this.reject(rxnetError(Error, 'ERR_RXNET_PROXY_HEADER_TIMEOUT', `No complete PROXY protocol header within ${timeoutMs} ms`));
  }

  start(): void {
    this.subscription = this.conn.data$.subscribe({
      next: (chunk) => this.onChunk(chunk),
      complete: () => this.reject(rxnetError(Error, 'ERR_RXNET_PROXY_HEADER', 'Connection ended before a complete PROXY protocol header')),
      error: (err: Error) => this.reject(err),
    });
    // A data$ that finished synchronously (never here: nothing is read yet) left nothing to undo.
    if (this.done) this.subscription.unsubscribe();
  }

  abandon(): void {
    if (this.done) return;
    this.finish();
    this.conn.close();
  }

  private onChunk(chunk: Buffer): void {
    if (this.done) return;
    // The common case parses the first chunk in place; a header split over
    // reads is parsed again from the joined bytes, never past the limit.
    let bytes = chunk;
    if (this.buffered !== null) {
      bytes = Buffer.concat([this.buffered, chunk]);
      this.buffered = null;
    }
    let parsed: ParsedProxyHeader | null;
    try {
      parsed = parseProxyHeader(bytes, this.gate.version, this.gate.maxSize);
      if (parsed === null && bytes.length >= this.gate.maxSize) throw tooLarge(this.gate.maxSize);
    } catch (err) {
      return this.reject(err as Error);
    }
    if (parsed === null) {
      // Copied: the chunk is a fresh Buffer of ours, but holding it would pin
      // up to a whole read's worth of memory for a few header bytes.
      this.buffered = Buffer.from(bytes);
      return;
    }
    // Hand over first, unsubscribe after: the teardown then finds a new
    // reader (or none) and the read interest is settled once, by handOver.
    this.finish(false);
    const conn = this.conn;
    conn.setProxyHeader(parsed.header);
    const rest = parsed.length < bytes.length ? bytes.subarray(parsed.length) : null;
    conn.handOver(rest, () => this.gate.onAdmitted(conn));
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  private reject(error: Error): void {
    if (this.done) return;
    this.finish();
    let remote: string | undefined;
    try {
      remote = this.conn.closed ? undefined : this.conn.remote.address;
    } catch {
      remote = undefined;
    }
    // RST, so a misconfigured sender sees the refusal at once (spec 2.1:
    // "abort the connection as soon as possible").
    this.conn.reset();
    this.gate.onRejected(error, remote);
  }

  private finish(unsubscribe = true): void {
    this.done = true;
    this.gate.pending.delete(this);
    this.buffered = null;
    if (unsubscribe) {
      this.subscription?.unsubscribe();
      this.subscription = null;
    }
  }
}
