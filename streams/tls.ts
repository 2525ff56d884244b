/**
 * TLS for serve(), listen() and connect(), terminated in native code on the
 * reactor's data path (native/tls.h): ciphertext is read and decrypted
 * before the batch reaches JavaScript, and a batch's writes become records
 * in one pass per connection. Options are named as node:tls names them;
 * this file validates them, makes contexts, and runs each connection's
 * handshake until it becomes a Connection.
 */
import type { AsyncScope } from '../reactor/asyncScope';
import { X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import * as nodeTls from 'node:tls';
import { errnoException, rxnetError, ECONNRESET, EPROTO, type ErrorDetails, type SystemError } from '../reactor/errors';
import * as io from '../reactor/io';
import { Reactor, Interest, Ready, type ReadinessTarget, type Registration } from '../reactor/reactor';
import * as sys from '../reactor/sys';
import * as tls from '../reactor/tls';
import { invalidArgType, validateFunction, validateInteger, validateOneOf, validateString } from '../reactor/validate';
import { Connection, type ConnectionOptions } from './connection';
import { TlsWriteQueue } from './tlsWriteQueue';

const NOT_READ = Reactor.NOT_READ;
const { TLS } = tls;

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** PEM text, as a string or its bytes. */
export type Pem = string | Uint8Array;

/** What a context is made of: tls.createSecureContext's options. */
export interface SecureContextOptions {
  /** Private key(s) in PEM; an entry may carry its own passphrase. */
  key?: Pem | ReadonlyArray<Pem | { pem: Pem; passphrase?: string }>;
  /** Certificate chain(s) in PEM: the leaf first, then its issuers. */
  cert?: Pem | readonly Pem[];
  /** Certificates to trust instead of Node's root certificates (`tls.rootCertificates`). */
  ca?: Pem | readonly Pem[];
  /** Passphrase of an encrypted key. */
  passphrase?: string;
  /** OpenSSL cipher list; names starting `TLS_` are TLSv1.3 suites. Default `tls.DEFAULT_CIPHERS`. */
  ciphers?: string;
  /** Default `tls.DEFAULT_MIN_VERSION` ('TLSv1.2'). */
  minVersion?: TlsVersion;
  /** Default `tls.DEFAULT_MAX_VERSION` ('TLSv1.3'). */
  maxVersion?: TlsVersion;
  /** Key-exchange groups, e.g. 'X25519:P-256'; default 'auto'. */
  ecdhCurve?: string;
  /** Prefer the server's cipher order. */
  honorCipherOrder?: boolean;
  /** Seconds a session (ticket) may be resumed for. */
  sessionTimeout?: number;
  /** 48 bytes of session ticket keys, as node:tls's: share them so that servers resume each other's sessions. */
  ticketKeys?: Uint8Array;
}

/** Options both ends share. */
export interface TlsCommonOptions extends SecureContextOptions {
  /** A context made once with {@link createSecureContext}; the context options above are then ignored. */
  secureContext?: SecureContext;
  /**
   * Fail the handshake when the peer's certificate does not verify against
   * `ca` (a client: or does not name the host). Default true. When false the
   * connection is made and `conn.tls.authorized` / `authorizationError` say so.
   */
  rejectUnauthorized?: boolean;
  /** ALPN protocols, best first (strings, or one Uint8Array in wire format). */
  ALPNProtocols?: readonly string[] | readonly Uint8Array[] | Uint8Array;
  /** A peer that has not completed its handshake this many ms after TCP connected is dropped (`ERR_TLS_HANDSHAKE_TIMEOUT`); 0: never. Default 120000, as node:tls. */
  handshakeTimeout?: number;
}

/** `serve({ tls })` and `listen({ tls })`. */
export interface TlsServerOptions extends TlsCommonOptions {
  /** Ask clients for a certificate (with `rejectUnauthorized`, require one that verifies against `ca`). Default false. */
  requestCert?: boolean;
  /**
   * Picks the context for the name a client asks for (SNI), as node:tls's:
   * call `callback(null, context)` (or `callback(null)` for the default),
   * now or later; the handshake waits.
   */
  SNICallback?: (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => void;
  /**
   * SNI without a callback: a context per name, "*.example.com" matching one
   * label, chosen in native code with no call into JavaScript (node:tls's
   * `server.addContext()`, given up front).
   */
  sniContexts?: Readonly<Record<string, SecureContext | SecureContextOptions>> | ReadonlyMap<string, SecureContext | SecureContextOptions>;
  /**
   * Sessions resume only between servers with the same one (1-32 bytes; set
   * on the context). Default 'rxnet'; node:tls's default is a hash of its
   * argv, so give both the same value to resume each other's tickets.
   */
  sessionIdContext?: string;
}

/** `connect({ tls })`. */
export interface TlsClientOptions extends TlsCommonOptions {
  /** SNI name, and the name the certificate must carry; default the host (no SNI for an IP). */
  servername?: string;
  /** A session from an earlier connection's `conn.tls.getSession()`, to resume. */
  session?: Uint8Array;
}

/** A TLS failure as node:tls reports one. */
export interface TlsError extends Error {
  code: string;
  /** OpenSSL's library ('SSL routines') and reason ('wrong version number'), where there are some. */
  library?: string;
  reason?: string;
  /** ERR_TLS_CERT_ALTNAME_INVALID: the name that was checked. */
  host?: string;
  address?: string;
  port?: number;
}

/**
 * A TLS context (an SSL_CTX): keys, certificates, trusted CAs and protocol
 * settings parsed once and shared by every connection made with it.
 */
export class SecureContext {
  /** @internal */
  readonly native: tls.NativeSecureContext;
  // Node's root certificates are parsed into a context only when something
  // verifies against them (a client, a server with requestCert).
  private rootsPending: boolean;

  /** @internal Use createSecureContext(). */
  constructor(native: tls.NativeSecureContext, rootsPending: boolean) {
    this.native = native;
    this.rootsPending = rootsPending;
  }

  /** @internal */
  trustRootsIfNeeded(): void {
    if (!this.rootsPending) return;
    this.rootsPending = false;
    check(this.native.addCA(nodeTls.rootCertificates.join('\n'), false));
  }
}

/**
 * Makes a reusable TLS context, so a server does not parse its key and
 * certificate per connection. Options as `tls.createSecureContext`.
 *
 * @example
 * const context = createSecureContext({ key: fs.readFileSync('key.pem'), cert: fs.readFileSync('cert.pem') });
 * serve({ port: 8443, tls: { secureContext: context } }, (conn) => conn.data$);
 */
export function createSecureContext(options: SecureContextOptions = {}): SecureContext {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  return makeContext(options, 'options');
}

function makeContext(options: SecureContextOptions, name: string): SecureContext {
  const minVersion = options.minVersion ?? (nodeTls.DEFAULT_MIN_VERSION as TlsVersion);
  const maxVersion = options.maxVersion ?? (nodeTls.DEFAULT_MAX_VERSION as TlsVersion);
  for (const [value, which] of [
    [minVersion, 'minimum'],
    [maxVersion, 'maximum'],
  ] as const) {
    if (!VERSIONS.includes(value)) {
      throw rxnetError(TypeError, 'ERR_TLS_INVALID_PROTOCOL_VERSION', `${String(value)} is not a valid ${which} TLS protocol version`);
    }
  }
  if (options.passphrase !== undefined) validateString(options.passphrase, `${name}.passphrase`);
  if (options.ciphers !== undefined) validateString(options.ciphers, `${name}.ciphers`);
  if (options.ecdhCurve !== undefined) validateString(options.ecdhCurve, `${name}.ecdhCurve`);
  if (options.sessionTimeout !== undefined) validateInteger(options.sessionTimeout, `${name}.sessionTimeout`, 0, 2 ** 31 - 1);
  if (options.ticketKeys !== undefined) {
    if (!(options.ticketKeys instanceof Uint8Array)) throw invalidArgType(`${name}.ticketKeys`, 'an instance of Buffer or Uint8Array', options.ticketKeys);
    if (options.ticketKeys.byteLength !== 48) {
      throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The property '${name}.ticketKeys' must be exactly 48 bytes. Received ${options.ticketKeys.byteLength}`);
    }
  }
  const certs = pems(options.cert, `${name}.cert`);
  const cas = pems(options.ca, `${name}.ca`);
  const keys = keyPems(options.key, options.passphrase, `${name}.key`);

  const native = tls.createContext();
  check(native.setProtocols(minVersion, maxVersion));
  check(native.setCiphers(options.ciphers ?? nodeTls.DEFAULT_CIPHERS));
  check(native.setGroups(options.ecdhCurve ?? nodeTls.DEFAULT_ECDH_CURVE));
  // The certificate before the key, as Node does: OpenSSL checks a key
  // against the certificate already there, and replacing the certificate
  // after the key would silently drop the key.
  for (const cert of certs) check(native.setCert(cert));
  for (const { pem, passphrase } of keys) check(native.setKey(pem, passphrase));
  for (const ca of cas) check(native.addCA(ca, true));
  if (options.sessionTimeout !== undefined) native.setSessionTimeout(options.sessionTimeout);
  if (options.ticketKeys !== undefined) check(native.setTicketKeys(options.ticketKeys));
  if (options.honorCipherOrder !== undefined) native.setHonorCipherOrder(options.honorCipherOrder === true);
  return new SecureContext(native, cas.length === 0);
}

function pems(value: SecureContextOptions['cert'], name: string): Pem[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (let i = 0; i < list.length; i++) {
    const pem = list[i];
    if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) throw invalidArgType(`${name}`, 'of type string or an instance of Buffer', pem);
  }
  return list as Pem[];
}

function keyPems(value: SecureContextOptions['key'], passphrase: string | undefined, name: string): Array<{ pem: Pem; passphrase?: string }> {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry: Pem | { pem: Pem; passphrase?: string }) => {
    if (typeof entry === 'string' || entry instanceof Uint8Array) return { pem: entry, passphrase };
    if (entry === null || typeof entry !== 'object' || (typeof entry.pem !== 'string' && !(entry.pem instanceof Uint8Array))) {
      throw invalidArgType(name, 'of type string or an instance of Buffer, or an object with a pem property', entry);
    }
    if (entry.passphrase !== undefined) validateString(entry.passphrase, `${name}.passphrase`);
    return { pem: entry.pem, passphrase: entry.passphrase ?? passphrase };
  });
}

/** Throws what OpenSSL refused, Node-shaped. */
function check(failure: tls.NativeTlsFailure | undefined): void {
  if (failure !== undefined) throw tlsError(failure);
}

function tlsError([code, message, library, reason, host]: tls.NativeTlsFailure, details?: ErrorDetails): TlsError {
  const Kind = code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_TLS_INVALID_PROTOCOL_VERSION' ? TypeError : Error;
  const error = new Kind(message) as TlsError;
  error.code = code;
  if (library) error.library = library;
  if (reason) error.reason = reason;
  if (host) error.host = host;
  if (details?.address !== undefined) error.address = details.address;
  if (details?.port !== undefined) error.port = details.port;
  Error.captureStackTrace(error, tlsError);
  return error;
}

const DISCONNECTED = 'Client network socket disconnected before secure TLS connection was established';

function disconnected(details: ErrorDetails): SystemError {
  const error = errnoException(ECONNRESET, 'read', details);
  error.message = DISCONNECTED;
  return error;
}

// ---- per-listener / per-connect settings, validated once ---------------------------

/** What every connection of one listener or one connect() is set up with. @internal */
export interface TlsSetup {
  readonly server: boolean;
  readonly context: SecureContext;
  readonly flags: number;
  readonly alpn: Uint8Array | undefined;
  readonly handshakeTimeout: number;
  readonly SNICallback: TlsServerOptions['SNICallback'];
  readonly servername: string;
  readonly verifyHost: string;
  readonly session: Uint8Array | undefined;
}

const CONTEXT_KEYS: ReadonlyArray<keyof SecureContextOptions> = [
  'key',
  'cert',
  'ca',
  'passphrase',
  'ciphers',
  'minVersion',
  'maxVersion',
  'ecdhCurve',
  'honorCipherOrder',
  'sessionTimeout',
  'ticketKeys',
];

function checkCommon(options: TlsCommonOptions, name: string): { alpn: Uint8Array | undefined; handshakeTimeout: number; reject: boolean } {
  if (options === null || typeof options !== 'object') throw invalidArgType(name, 'of type object', options);
  if (options.secureContext !== undefined && !(options.secureContext instanceof SecureContext)) {
    throw invalidArgType(`${name}.secureContext`, 'a SecureContext from createSecureContext()', options.secureContext);
  }
  if (options.rejectUnauthorized !== undefined && typeof options.rejectUnauthorized !== 'boolean') {
    throw invalidArgType(`${name}.rejectUnauthorized`, 'of type boolean', options.rejectUnauthorized);
  }
  const handshakeTimeout = options.handshakeTimeout ?? 120_000;
  validateInteger(handshakeTimeout, `${name}.handshakeTimeout`, 0, 2 ** 31 - 1);
  return { alpn: alpnWire(options.ALPNProtocols, `${name}.ALPNProtocols`), handshakeTimeout, reject: options.rejectUnauthorized !== false };
}

/** ALPN protocols in wire format (each length-prefixed), as node:tls converts them. */
function alpnWire(protocols: TlsCommonOptions['ALPNProtocols'], name: string): Uint8Array | undefined {
  if (protocols === undefined) return undefined;
  if (protocols instanceof Uint8Array) return protocols.byteLength > 0 ? protocols : undefined;
  if (!Array.isArray(protocols)) throw invalidArgType(name, 'an Array or an instance of Buffer', protocols);
  const parts: Buffer[] = [];
  for (const p of protocols as ReadonlyArray<string | Uint8Array>) {
    const bytes = typeof p === 'string' ? Buffer.from(p) : p instanceof Uint8Array ? Buffer.from(p) : null;
    if (bytes === null) throw invalidArgType(name, 'an Array of strings or Buffers', protocols);
    if (bytes.byteLength === 0 || bytes.byteLength > 255) {
      throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', `The byte length of the protocol at index ${parts.length} exceeds the maximum length. It must be >= 1 && <= 255. Received ${bytes.byteLength}`);
    }
    parts.push(Buffer.from([bytes.byteLength]), bytes);
  }
  return parts.length > 0 ? Buffer.concat(parts) : undefined;
}

function hasContextOptions(options: TlsCommonOptions): boolean {
  return CONTEXT_KEYS.some((k) => options[k] !== undefined);
}

/** Validates `options.tls` of serve()/listen() and makes its context. @internal */
export function tlsServerSetup(options: TlsServerOptions, name: string): TlsSetup {
  const { alpn, handshakeTimeout, reject } = checkCommon(options, name);
  if (options.requestCert !== undefined && typeof options.requestCert !== 'boolean') {
    throw invalidArgType(`${name}.requestCert`, 'of type boolean', options.requestCert);
  }
  if (options.SNICallback !== undefined) validateFunction(options.SNICallback, `${name}.SNICallback`);
  const sni = options.sniContexts === undefined ? [] : options.sniContexts instanceof Map ? [...options.sniContexts] : Object.entries(options.sniContexts);
  if (options.secureContext === undefined && (options.key === undefined || options.cert === undefined) && options.SNICallback === undefined && sni.length === 0) {
    throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The property '${name}' needs key and cert, a secureContext, or SNI contexts`);
  }
  const requestCert = options.requestCert === true;
  const context = options.secureContext ?? makeContext(options, name);
  for (const [servername, ctx] of sni) {
    validateString(servername, `${name}.sniContexts key`);
    const other = ctx instanceof SecureContext ? ctx : makeContext(ctx, `${name}.sniContexts['${servername}']`);
    if (requestCert) other.trustRootsIfNeeded();
    check(context.native.addServername(servername, other.native));
  }
  if (requestCert) context.trustRootsIfNeeded();
  if (options.sessionIdContext !== undefined) {
    validateString(options.sessionIdContext, `${name}.sessionIdContext`);
    check(context.native.setSessionIdContext(options.sessionIdContext));
  }
  const flags = TLS.ATTACH_SERVER | (requestCert ? TLS.ATTACH_REQUEST_CERT : 0) | (reject ? TLS.ATTACH_REJECT_UNAUTHORIZED : 0) | (options.SNICallback ? TLS.ATTACH_SNI_CALLBACK : 0);
  return { server: true, context, flags, alpn, handshakeTimeout, SNICallback: options.SNICallback, servername: '', verifyHost: '', session: undefined };
}

let defaultClientContext: SecureContext | undefined;

/**
 * Validates `options.tls` of connect() for a connection to `host` (undefined
 * for a Unix socket). Contexts with only Node's defaults are made once per
 * thread. @internal
 */
export function tlsClientSetup(options: TlsClientOptions, host: string | undefined, name: string): TlsSetup {
  const { alpn, handshakeTimeout, reject } = checkCommon(options, name);
  if (options.servername !== undefined) validateString(options.servername, `${name}.servername`);
  if (options.session !== undefined && !(options.session instanceof Uint8Array)) {
    throw invalidArgType(`${name}.session`, 'an instance of Buffer or Uint8Array', options.session);
  }
  let context = options.secureContext;
  if (context === undefined) {
    context = hasContextOptions(options) ? makeContext(options, name) : (defaultClientContext ??= makeContext({}, name));
  }
  context.trustRootsIfNeeded();
  // As node:tls: SNI is the servername, else the host unless it is an IP;
  // the certificate must name the servername, else the host.
  const checked = options.servername || host || 'localhost';
  const servername = options.servername ?? (host !== undefined && net.isIP(host) === 0 ? host : '');
  const flags = reject ? TLS.ATTACH_REJECT_UNAUTHORIZED : 0;
  return { server: false, context, flags, alpn, handshakeTimeout, SNICallback: undefined, servername, verifyHost: checked, session: options.session };
}

// ---- what a connection reports ------------------------------------------------------

/** What the handshake agreed, as `conn.tls`. */
export class TlsInfo {
  /** 'TLSv1.3', 'TLSv1.2', ... */
  readonly protocol: string;
  /** The cipher: OpenSSL's name, the IANA name, and the version it belongs to (tlsSocket.getCipher()). */
  readonly cipher: { readonly name: string; readonly standardName: string; readonly version: string };
  /** The protocol ALPN chose, or false. */
  readonly alpnProtocol: string | false;
  /** Server: the name the client asked for (SNI); client: the one sent. False if none. */
  readonly servername: string | false;
  /** The peer's certificate verified (a client: and named the host). A server that did not request one: false. */
  readonly authorized: boolean;
  /** Why it did not verify (Node's codes: 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', ...), or null. */
  readonly authorizationError: string | null;
  /** The session was resumed (a ticket), not a full handshake. */
  readonly sessionReused: boolean;
  private readonly certificateDer: Buffer | undefined;
  private certificate: X509Certificate | null | undefined;

  /** @internal */
  constructor(
    raw: NonNullable<ReturnType<typeof tls.info>>,
    private readonly session: TlsSession,
  ) {
    this.protocol = raw[0];
    this.cipher = { name: raw[1], standardName: raw[2], version: raw[3] };
    this.alpnProtocol = raw[4] || false;
    this.servername = raw[5] || false;
    this.authorized = raw[6];
    this.authorizationError = raw[7] || null;
    this.sessionReused = raw[8];
    this.certificateDer = raw[9];
  }

  /** The peer's certificate, or null if it sent none. */
  get peerCertificate(): X509Certificate | null {
    if (this.certificate === undefined) this.certificate = this.certificateDer === undefined ? null : new X509Certificate(this.certificateDer);
    return this.certificate;
  }

  /**
   * The session, for `connect({ tls: { session } })` to resume later;
   * undefined once closed, or before the server has sent one (TLSv1.3 sends
   * its tickets after the handshake: ask once some data has arrived).
   */
  getSession(): Buffer | undefined {
    return this.session.getSession();
  }
}

// ---- one connection's session ----------------------------------------------------

/**
 * The TLS side of one connection: its handshake (the registration's target
 * until the handshake completes, on its own, before any Connection exists),
 * then, for the Connection, the translation of the stage's status bits into
 * the plain stream events a Connection knows, and its write queue.
 * @internal
 */
export class TlsSession implements ReadinessTarget {
  info: TlsInfo | null = null;
  /** Server: the client a failed handshake came from (null if it was gone already). */
  remote: sys.SocketAddress | null = null;
  private conn: Connection | null = null;
  private registration: Registration | null = null;
  private queue: TlsWriteQueue | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wantWrite = false;
  private waitingForSni = false;
  private settled = false;

  constructor(
    readonly reactor: Reactor,
    readonly fd: number,
    private readonly limits: Required<ConnectionOptions>,
    private readonly setup: TlsSetup,
    private readonly details: ErrorDetails,
    private readonly callback: (error: Error | null, conn?: Connection) => void,
  ) {}

  /** Server: attaches and registers. Throws if that fails; the caller still owns the fd then. */
  startServer(context: AsyncScope | null = null): void {
    this.attach();
    try {
      // In the listener's async context, as a plain connection's callbacks are.
      this.registration = this.reactor.register(this.fd, Interest.Readable, this, { read: true, tls: true, owned: true, context });
    } catch (err) {
      tls.detach(this.reactor, this.fd);
      throw err;
    }
    this.armTimer();
  }

  /** Client: takes over connect()'s registration (made with `tls: true`) and sends the ClientHello. Owns the fd from here. */
  startClient(registration: Registration): void {
    this.registration = registration;
    registration.target = this;
    try {
      this.attach();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.armTimer();
    this.step(tls.handshake(this.reactor, this.fd), true);
  }

  /** Gives up a handshake under way (the listener stopped, connect() was unsubscribed). */
  abort(): void {
    if (this.settled) return;
    this.settle();
    this.release();
  }

  /** @internal */
  onReady(events: number, length: number, offset: number): void {
    const conn = this.conn;
    if (conn !== null) {
      this.connectionReady(conn, events, length, offset);
      return;
    }
    if (this.settled) return;
    // The handshake's news first: a client may send its Finished, a request
    // and close_notify in one segment (length is then what followed).
    if (events & (TLS.HANDSHAKE_DONE | TLS.FAILED | TLS.SERVERNAME)) return this.step(events, true, length, offset);
    if (length === 0) return this.fail(disconnected(this.details));
    if (length !== NOT_READ) return this.fail(errnoException(length, 'read', this.details));
    if (events & (Ready.Hangup | Ready.Error) && !(events & Ready.Readable)) {
      this.fail(sys.socketError(this.fd, 'read', this.details) ?? disconnected(this.details));
    } else if (events & Ready.Writable) {
      this.step(tls.handshake(this.reactor, this.fd), true);
    } else {
      // Nothing read (or nothing to say): WANT_WRITE is news, its absence
      // is not (the arena may have been too full to read at all).
      this.step(events, false);
    }
  }

  /** @internal The Connection's write queue. */
  newQueue(): TlsWriteQueue {
    return (this.queue = new TlsWriteQueue(this.reactor, this.fd, (result, syscall) => this.writeFailure(result, syscall)));
  }

  /** @internal Frees the native session; the Connection calls it before closing the fd. */
  detach(): void {
    tls.detach(this.reactor, this.fd);
  }

  /** @internal */
  getSession(): Buffer | undefined {
    const conn = this.conn;
    return conn === null || conn.closed ? undefined : tls.session(this.reactor, this.fd);
  }

  // ---- the handshake ----

  private attach(): void {
    const { context, flags, servername, verifyHost, alpn, session } = this.setup;
    const r = tls.attach(this.reactor, this.fd, context.native, flags, servername, verifyHost, alpn, session);
    if (r < 0) throw errnoException(r, 'tls_attach', this.details);
  }

  /**
   * Acts on the stage's status bits, from a batch or from a call that
   * advanced the handshake. `known`: the stage ran, so no WANT_WRITE means
   * nothing waits to be sent.
   */
  private step(bits: number, known: boolean, length = NOT_READ, offset = 0): void {
    if (bits < 0) return this.fail(errnoException(bits, 'write', this.details));
    if (bits & TLS.WANT_WRITE) this.wantWrite = true;
    else if (known) this.wantWrite = false;
    if (bits & TLS.FAILED) return this.fail(this.failure());
    if (bits & TLS.HANDSHAKE_DONE) return this.established(bits, length, offset);
    if (bits & TLS.SERVERNAME) return this.askServername();
    this.updateInterest();
  }

  private established(bits: number, length: number, offset: number): void {
    this.settle();
    const raw = tls.info(this.reactor, this.fd);
    let conn: Connection;
    try {
      if (raw === undefined) throw rxnetError(Error, 'ERR_RXNET_TLS', 'The TLS session vanished during its handshake');
      this.info = new TlsInfo(raw, this);
      conn = new Connection(this.fd, this.reactor, this.limits, this.registration, this);
    } catch (err) {
      this.release();
      this.callback(err as Error);
      return;
    }
    this.registration = null;
    this.conn = conn;
    // What arrived with the last handshake message (a client's first
    // request; a server's first words) waits in the connection for data$.
    // Readiness itself is left out: level-triggered, it is reported again.
    const rest = bits & (TLS.END | TLS.WANT_WRITE);
    if (length !== NOT_READ || rest !== 0) this.connectionReady(conn, rest, length, offset);
    this.callback(null, conn);
  }

  private askServername(): void {
    this.waitingForSni = true;
    this.updateInterest();
    const servername = tls.servername(this.reactor, this.fd);
    let answered = false;
    const answer = (error: Error | null, context?: SecureContext): void => {
      if (answered || this.settled) return;
      answered = true;
      if (error) return this.fail(error);
      if (context !== undefined && context !== null && !(context instanceof SecureContext)) {
        return this.fail(invalidArgType('SNICallback context', 'a SecureContext from createSecureContext()', context));
      }
      if (context && this.setup.flags & TLS.ATTACH_REQUEST_CERT) context.trustRootsIfNeeded();
      const r = tls.useContext(this.reactor, this.fd, context ? context.native : null);
      if (r < 0) return this.fail(errnoException(r, 'tls_sni', this.details));
      this.waitingForSni = false;
      this.step(tls.handshake(this.reactor, this.fd), true);
    };
    try {
      this.setup.SNICallback!(servername, answer);
    } catch (err) {
      if (!answered) {
        answered = true;
        this.fail(err as Error);
      }
    }
  }

  private updateInterest(): void {
    if (this.settled) return;
    const interest = (this.waitingForSni ? 0 : Interest.Readable) | (this.wantWrite ? Interest.Writable : 0);
    try {
      this.registration?.update(interest);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private armTimer(): void {
    const ms = this.setup.handshakeTimeout;
    if (ms <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const error = rxnetError(Error, 'ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timeout') as TlsError;
      if (this.details.address !== undefined) error.address = this.details.address;
      if (this.details.port !== undefined) error.port = this.details.port;
      this.fail(error);
    }, ms);
    // The registration keeps the process alive while the handshake is under way.
    this.timer.unref();
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settle();
    if (this.setup.server) {
      try {
        this.remote = sys.getpeername(this.fd);
      } catch {
        // Reset by the peer already: nobody to name.
      }
    }
    this.release();
    this.callback(error);
  }

  private settle(): void {
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private release(): void {
    this.registration?.close();
    this.registration = null;
    tls.detach(this.reactor, this.fd);
    io.close(this.fd);
  }

  private failure(): TlsError {
    const failure = tls.failure(this.reactor, this.fd);
    return failure === undefined ? (disconnected(this.details) as TlsError) : tlsError(failure, this.details);
  }

  private writeFailure(result: number, syscall: string): SystemError {
    if (result === EPROTO && tls.failure(this.reactor, this.fd) !== undefined) return this.failure() as TlsError & SystemError;
    return errnoException(result, syscall);
  }

  // ---- the connection ----

  private connectionReady(conn: Connection, events: number, length: number, offset: number): void {
    conn.onReady(events, length, offset);
    if (conn.closed) return;
    if (events & TLS.FAILED) {
      conn.destroy(this.failure());
      return;
    }
    // close_notify after the plaintext: the stream ends now, whether or not
    // the TCP FIN follows (a TLSv1.3 peer may wait for ours first).
    if (events & TLS.END && length > 0) conn.onReady(0, 0, 0);
    if (events & TLS.WANT_WRITE && !conn.closed) {
      conn.flushSoon();
      this.queue?.notePending();
    }
  }
}
