import { AsyncScope } from '../reactor/asyncScope';
import { Observable, type Subscriber } from 'rxjs';
import { errnoException, rxnetError, EAGAIN } from '../reactor/errors';
import * as io from '../reactor/io';
import { Reactor, Interest, Ready, DGRAM, copyOut, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import { validateBytes, validateInteger, validateIp, validateOneOf, validatePort, validateString } from '../reactor/validate';
import { formatAddress, resolveEndpoint } from './address';

/** A destination as sendDatagrams takes it: address family and address bytes. */
interface Destination {
  family: number;
  bytes: Uint8Array;
}

/** Destinations one socket keeps parsed; past this many they are forgotten together. */
const MAX_DESTINATIONS = 1024;

/** Options of `udp()`, named like `dgram.createSocket` + `bind`'s. */
export interface UdpOptions {
  /** 'udp4' (default) or 'udp6'. */
  type?: 'udp4' | 'udp6';
  /** Address to bind; default '0.0.0.0' / '::'. */
  host?: string;
  /** Port to bind; 0 (default) picks one. */
  port?: number;
  /** SO_REUSEPORT: several sockets (one per worker_thread) share the port. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for udp6. */
  ipv6Only?: boolean;
  /**
   * Largest datagram received whole (default 65535). A longer one arrives
   * cut to this size with `truncated: true`. Smaller values let one wakeup
   * receive more datagrams.
   */
  maxMessageSize?: number;
  /** Datagrams queued for sending at most (default 4096); past it `send()` drops and returns false. */
  maxQueuedDatagrams?: number;
  reactor?: Reactor;
}

/** One received datagram. */
export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  /** The datagram was longer than `maxMessageSize`; `data` holds its start only. */
  truncated: boolean;
}

export interface UdpStats {
  received: number;
  sent: number;
  /** Datagrams dropped because the send queue was full or the kernel refused them. */
  dropped: number;
  truncated: number;
}


/**
 * A bound UDP socket on the reactor. Received datagrams arrive in batches
 * (recvmmsg); sends issued during one batch leave together (sendmmsg).
 */
export class UdpSocket {
  readonly fd: number;
  readonly address: sys.SocketAddress;
  readonly stats: UdpStats = { received: 0, sent: 0, dropped: 0, truncated: 0 };
  private readonly reactor: Reactor;
  private registration: Registration | null;
  private subscriber: Subscriber<Datagram> | null = null;
  private interest = 0;
  private closedFlag = false;
  // The send queue, as parallel arrays for one native call per 64 datagrams;
  // destinations as address bytes (io.packAddress), so sending parses no
  // string per datagram.
  private chunks: Uint8Array[] = [];
  private families: Int32Array;
  private addrs: Uint8Array;
  private ports: Int32Array;
  private flushScheduled = false;
  private waitingWritable = false;
  private readonly maxQueued: number;
  private readonly family6: boolean;
  // Destinations packed before, by the address string given to send(): a
  // reply mostly goes to a peer that just sent.
  private lastDestination = '';
  private lastPacked: Destination | null = null;
  private packed: Map<string, Destination> | null = null;
  private lastV4 = -1;
  private lastV4String = '';

  /** The context of udp()'s subscription, which messages$ runs in. @internal */
  readonly asyncContext = new AsyncScope('rxnet:Udp');

  /** @internal Use udp(). */
  constructor(fd: number, reactor: Reactor, options: UdpOptions) {
    this.fd = fd;
    this.reactor = reactor;
    this.maxQueued = options.maxQueuedDatagrams ?? 4096;
    this.families = new Int32Array(Math.min(this.maxQueued, 256));
    this.ports = new Int32Array(this.families.length);
    this.addrs = new Uint8Array(this.families.length * io.limits.addrSlot);
    this.family6 = options.type === 'udp6';
    this.address = sys.getsockname(fd);
    this.registration = reactor.register(fd, 0, this, { datagrams: options.maxMessageSize ?? io.limits.dgramDefaultSize, owned: true, context: this.asyncContext });
  }

  /**
   * Received datagrams. Unicast; receiving starts when it is subscribed (the
   * kernel queues datagrams until then, within SO_RCVBUF). Completes when the
   * socket closes.
   */
  get messages$(): Observable<Datagram> {
    return new Observable<Datagram>((subscriber) => {
      if (this.closedFlag) return subscriber.complete();
      if (this.subscriber !== null) {
        return subscriber.error(rxnetError(Error, 'ERR_RXNET_ALREADY_SUBSCRIBED', 'messages$ is unicast and already has a subscriber'));
      }
      this.subscriber = subscriber;
      this.updateInterest();
      return () => {
        if (this.subscriber === subscriber) {
          this.subscriber = null;
          this.updateInterest();
        }
      };
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Queues a datagram to `address:port` (an IP literal). Sends queued during a
   * batch go out together at its end.
   * @returns false if the queue is full and the datagram was dropped.
   */
  send(data: Uint8Array | string, port: number, address: string): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (typeof data !== 'string') validateBytes(data, 'data');
    validatePort(port);
    const dest = address === this.lastDestination && this.lastPacked !== null ? this.lastPacked : this.destination(address);
    if (this.closedFlag) throw rxnetError(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    const n = this.chunks.length;
    if (n >= this.maxQueued) {
      this.stats.dropped++;
      return false;
    }
    if (n === this.families.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(Math.min(a.length * 2, this.maxQueued));
        b.set(a);
        return b;
      };
      this.families = grow(this.families);
      this.ports = grow(this.ports);
      const addrs = new Uint8Array(this.families.length * io.limits.addrSlot);
      addrs.set(this.addrs);
      this.addrs = addrs;
    }
    this.chunks.push(bytes);
    this.families[n] = dest.family;
    this.addrs.set(dest.bytes, n * io.limits.addrSlot);
    this.ports[n] = port;
    if (!this.flushScheduled && !this.waitingWritable) {
      this.flushScheduled = true;
      this.reactor.atBatchEnd(this);
    }
    return true;
  }

  setBroadcast(flag: boolean): void {
    sys.setsockopt(this.fd, 'SO_BROADCAST', flag);
  }

  setMulticastTTL(ttl: number): void {
    validateInteger(ttl, 'ttl', 0, 255);
    sys.setsockopt(this.fd, this.family6 ? 'IPV6_MULTICAST_HOPS' : 'IP_MULTICAST_TTL', ttl);
  }

  setMulticastLoopback(flag: boolean): void {
    sys.setsockopt(this.fd, this.family6 ? 'IPV6_MULTICAST_LOOP' : 'IP_MULTICAST_LOOP', flag);
  }

  addMembership(group: string, iface?: string): void {
    sys.membership(this.fd, group, true, iface);
  }

  dropMembership(group: string, iface?: string): void {
    sys.membership(this.fd, group, false, iface);
  }

  /** Closes the socket; datagrams still queued are dropped and `messages$` completes. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.registration?.close();
    this.registration = null;
    io.close(this.fd);
    this.stats.dropped += this.chunks.length;
    this.chunks = [];
    this.packed = null;
    const subscriber = this.subscriber;
    this.subscriber = null;
    subscriber?.complete();
  }

  private updateInterest(): void {
    if (this.closedFlag || this.registration === null) return;
    const interest = (this.subscriber !== null ? Interest.Readable : 0) | (this.waitingWritable ? Interest.Writable : 0);
    if (interest !== this.interest) {
      this.interest = interest;
      this.registration.update(interest);
    }
  }

  /** @internal */
  onReady(events: number, count: number, first: number): void {
    // A negative count is an error from recvmmsg, such as an ICMP
    // ECONNREFUSED for an earlier send: UDP carries on, as node:dgram does
    // for unconnected sockets.
    if (count > 0) this.deliver(count, first);
    if (events & Ready.Writable && this.waitingWritable) {
      this.waitingWritable = false;
      this.updateInterest();
      this.flush();
    }
  }

  private deliver(count: number, first: number): void {
    const { datagramMeta: meta, datagramAddrs: addrs } = this.reactor;
    for (let k = first; k < first + count; k++) {
      const m = k * DGRAM.FIELDS;
      const family = meta[m + DGRAM.FAMILY];
      let address: string;
      if (family === 4) {
        // Most traffic comes from few peers: remember the last IPv4 string.
        const a = k * DGRAM.ADDR_SLOT;
        const key = ((addrs[a] << 24) | (addrs[a + 1] << 16) | (addrs[a + 2] << 8) | addrs[a + 3]) >>> 0;
        if (key !== this.lastV4) {
          this.lastV4 = key;
          this.lastV4String = formatAddress(addrs, a, 4);
        }
        address = this.lastV4String;
      } else {
        address = formatAddress(addrs, k * DGRAM.ADDR_SLOT, 6);
      }
      const truncated = meta[m + DGRAM.TRUNCATED] === 1;
      this.stats.received++;
      if (truncated) this.stats.truncated++;
      const datagram: Datagram = {
        data: copyOut(this.reactor, meta[m + DGRAM.OFFSET], meta[m + DGRAM.LENGTH]),
        address,
        port: meta[m + DGRAM.PORT],
        family: family === 6 ? 'IPv6' : 'IPv4',
        truncated,
      };
      const subscriber = this.subscriber;
      if (subscriber === null) return;
      subscriber.next(datagram);
    }
  }

  /** @internal */
  onBatchEnd(): void {
    this.flush();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closedFlag) return;
    const total = this.chunks.length;
    let sent = 0;
    while (sent < total) {
      const r = io.sendDatagrams(this.fd, this.chunks, this.families, this.addrs, this.ports, sent, Math.min(io.limits.dgramBudget, total - sent));
      if (r === EAGAIN) {
        this.waitingWritable = true;
        this.updateInterest();
        break;
      }
      if (r < 0) {
        // This datagram cannot be sent (EMSGSIZE, EACCES for a broadcast
        // without SO_BROADCAST, ...): drop it like the kernel drops, go on.
        this.stats.dropped++;
        sent++;
        continue;
      }
      sent += r;
      this.stats.sent += r;
    }
    if (sent === 0) return;
    this.chunks.splice(0, sent);
    this.families.copyWithin(0, sent, total);
    this.ports.copyWithin(0, sent, total);
    this.addrs.copyWithin(0, sent * io.limits.addrSlot, total * io.limits.addrSlot);
  }

  /**
   * `address` (an IP literal; throws like node:dgram if it is not one) as
   * the bytes sendDatagrams takes, parsed once per destination and kept
   * (at most MAX_DESTINATIONS, then forgotten together).
   */
  private destination(address: string): Destination {
    let dest = this.packed?.get(address);
    if (dest === undefined) {
      const family = validateIp(address);
      // An IPv4 destination from a udp6 socket goes out IPv4-mapped.
      const mapped = family === 4 && this.family6;
      const af = family === 6 || mapped ? io.AF_INET6 : io.AF_INET;
      const bytes = new Uint8Array(io.limits.addrSlot);
      const r = io.packAddress(af, mapped ? `::ffff:${address}` : address, bytes, 0);
      if (r < 0) throw errnoException(r, 'send', { address });
      dest = { family: af, bytes };
      this.packed ??= new Map();
      if (this.packed.size >= MAX_DESTINATIONS) this.packed.clear();
      this.packed.set(address, dest);
    }
    this.lastDestination = address;
    this.lastPacked = dest;
    return dest;
  }
}

/**
 * A UDP socket as a cold observable: subscribing binds and emits the
 * socket, unsubscribing closes it. Bind errors arrive Node-shaped.
 *
 * @example
 * // A UDP echo server
 * udp({ port: 7001 }).pipe(
 *   switchMap((socket) => socket.messages$.pipe(tap((m) => socket.send(m.data, m.port, m.address)))),
 * ).subscribe();
 */
export function udp(options: UdpOptions = {}): Observable<UdpSocket> {
  if (options === null || typeof options !== 'object') throw rxnetError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object.');
  const type = options.type ?? 'udp4';
  validateOneOf(type, 'options.type', ['udp4', 'udp6'] as const);
  if (options.host !== undefined) validateString(options.host, 'options.host');
  if (options.port !== undefined) validatePort(options.port, 'options.port');
  if (options.maxMessageSize !== undefined) validateInteger(options.maxMessageSize, 'options.maxMessageSize', 1, 65535);
  if (options.maxQueuedDatagrams !== undefined) validateInteger(options.maxQueuedDatagrams, 'options.maxQueuedDatagrams', 1, 1 << 20);
  if (options.reusePort && !sys.haveReusePort) throw rxnetError(Error, 'ERR_RXNET_NO_REUSEPORT', `SO_REUSEPORT is not available on ${process.platform}`);
  return new Observable<UdpSocket>((subscriber) => {
    let socket: UdpSocket | null = null;
    resolveEndpoint({ host: options.host, port: options.port ?? 0, family: type === 'udp6' ? 6 : 4 }, type === 'udp6' ? '::' : '0.0.0.0', (err, resolved) => {
      if (subscriber.closed) return;
      if (err) return subscriber.error(err);
      const family = type === 'udp6' ? 'ipv6' : 'ipv4';
      let fd = -1;
      try {
        fd = sys.socket(family, 'dgram');
        if (options.reusePort) sys.setsockopt(fd, 'SO_REUSEPORT', true);
        if (family === 'ipv6') sys.setsockopt(fd, 'IPV6_V6ONLY', options.ipv6Only === true);
        sys.bind(fd, resolved!.endpoint);
        socket = new UdpSocket(fd, options.reactor ?? Reactor.default(), options);
      } catch (e) {
        if (fd >= 0) io.close(fd);
        return subscriber.error(e);
      }
      subscriber.next(socket);
    });
    return () => socket?.close();
  });
}
