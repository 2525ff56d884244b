/**
 * The PROXY header in front of TLS (HAProxy `mode tcp` + `send-proxy-v2`
 * passing TLS through): the header comes in the clear, then the client's
 * ClientHello. The TLS stage reads and decrypts natively as soon as it is
 * attached, so the header must be off the socket, EXACTLY, before then: not
 * a byte of the ClientHello may be lost, nor taken into JavaScript.
 *
 * Done as HAProxy's conn_recv_proxy does it: the accepted fd is registered
 * for readiness only (no native read; on io_uring a readiness-only
 * registration is a poll), its bytes are looked at with recv(MSG_PEEK), and
 * only header bytes are read. The one difference: a header that arrives in
 * pieces is accepted (HAProxy refuses one once it has peeked part of it).
 * Bytes the parser calls "incomplete, not yet wrong" can only belong to the
 * header (a v2 header is at least 16 bytes and says its length there; a v1
 * line ends at its CRLF, and nothing past a CR is peeked unparsed), so they
 * are read off at once; otherwise they would stay readable and a
 * level-triggered backend would report them again and again.
 *
 * Why not the plain path's gate (proxyGate.ts) plus a native "feed these
 * ciphertext bytes first" call: that reads past the header into JavaScript
 * and must give the bytes back to the TLS stage, with a new entry point into
 * native/tls.cc and, on io_uring, a stream registration whose reads may
 * already be in flight when the stage is attached. Here the kernel keeps the
 * ClientHello where the TLS stage will read it, and the stage is untouched.
 * The cost, two syscalls (peek, read) per connection before a handshake
 * worth far more, is paid only by TLS listeners with proxyProtocol; the
 * plain PROXY path is unchanged.
 */
import type { AsyncScope } from '../reactor/asyncScope';
import { errnoException, rxnetError, EAGAIN } from '../reactor/errors';
import * as io from '../reactor/io';
import { Interest, type Reactor, type ReadinessTarget, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import type { ProxyGate } from './proxyGate';
import { parseProxyHeader, tooLarge, type ParsedProxyHeader, type ProxyHeader } from './proxyProtocol';

// One buffer per thread for the peeks: what is peeked is parsed in place
// and copied only once known to be header.
let scratch = Buffer.alloc(0);

/** One TLS connection waiting for its PROXY header, on its own readiness registration. @internal */
export class PeekedHeader implements ReadinessTarget {
  private registration: Registration | null = null;
  // Header bytes read off already (the header arrived in pieces).
  private buffered: Buffer | null = null;
  private done = false;

  constructor(
    private readonly gate: ProxyGate,
    private readonly reactor: Reactor,
    private readonly fd: number,
    readonly deadline: number,
    /** The header is read and nothing more: attach TLS. The fd passes to it. */
    private readonly onHeader: (fd: number, header: ProxyHeader) => void,
  ) {}

  /** Registers for readability in the listener's async context. Throws if the reactor refuses; the caller owns the fd then. */
  start(context: AsyncScope): void {
    // read: false: no native read, so nothing is taken from the socket but what we read.
    this.registration = this.reactor.register(this.fd, Interest.Readable, this, { owned: true, context });
  }

  expire(timeoutMs: number): void {
    this.reject(rxnetError(Error, 'ERR_RXNET_PROXY_HEADER_TIMEOUT', `No complete PROXY protocol header within ${timeoutMs} ms`));
  }

  abandon(): void {
    if (this.done) return;
    this.finish();
    io.close(this.fd);
  }

  /** @internal */
  onReady(): void {
    if (this.done) return;
    const have = this.buffered === null ? 0 : this.buffered.length;
    const room = this.gate.maxSize - have;
    if (scratch.length < room) scratch = Buffer.allocUnsafe(Math.max(room, this.gate.maxSize));
    const n = io.peek(this.fd, scratch, 0, room);
    if (n === EAGAIN) return;
    if (n === 0) return this.reject(rxnetError(Error, 'ERR_RXNET_PROXY_HEADER', 'Connection ended before a complete PROXY protocol header'));
    if (n < 0) return this.reject(errnoException(n, 'read'));
    const peeked = scratch.subarray(0, n);
    const bytes = this.buffered === null ? peeked : Buffer.concat([this.buffered, peeked]);
    let parsed: ParsedProxyHeader | null;
    try {
      parsed = parseProxyHeader(bytes, this.gate.version, this.gate.maxSize);
      if (parsed === null && bytes.length >= this.gate.maxSize) throw tooLarge(this.gate.maxSize);
    } catch (err) {
      return this.reject(err as Error);
    }
    if (parsed === null) {
      // All of it is header: read it off, or it stays readable.
      const kept = Buffer.from(bytes);
      const r = io.read(this.fd, scratch, 0, n);
      if (r !== n) return this.reject(this.shortRead(r, n));
      this.buffered = kept;
      return;
    }
    // Exactly the header's bytes, into a buffer of its own: the header is
    // parsed again from what was consumed (its TLVs point into it), and the
    // ClientHello after it stays in the socket for the TLS stage.
    const own = Buffer.allocUnsafe(parsed.length);
    if (have > 0) this.buffered!.copy(own, 0);
    const need = parsed.length - have;
    const r = io.read(this.fd, own, have, need);
    if (r !== need) return this.reject(this.shortRead(r, need));
    let header: ProxyHeader;
    try {
      header = parseProxyHeader(own, this.gate.version, this.gate.maxSize)!.header;
    } catch (err) {
      return this.reject(err as Error);
    }
    this.finish();
    this.onHeader(this.fd, header);
  }

  /** A read after a peek that got less than was peeked: cannot happen on TCP, and would lose track of the header. */
  private shortRead(r: number, wanted: number): Error {
    return r < 0 ? errnoException(r, 'read') : rxnetError(Error, 'ERR_RXNET_PROXY_HEADER', `Read ${r} of the ${wanted} PROXY header bytes peeked`);
  }

  private reject(error: Error): void {
    if (this.done) return;
    this.finish();
    let remote: string | undefined;
    try {
      remote = sys.getpeername(this.fd).address;
    } catch {
      remote = undefined;
    }
    // RST, as the plain path's gate does (spec 2.1: abort at once).
    io.lingerZero(this.fd);
    io.close(this.fd);
    this.gate.onRejected(error, remote);
  }

  /** Leaves the gate and the reactor; the fd stays open for whoever comes next. */
  private finish(): void {
    this.done = true;
    this.gate.pending.delete(this);
    this.buffered = null;
    this.registration?.close();
    this.registration = null;
  }
}
