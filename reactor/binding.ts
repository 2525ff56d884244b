/**
 * Loads the native addon (prebuilt, or built from source at install). Internal to
 * reactor/: everything else goes through `Reactor`, `sys` (checked calls) and
 * `io` (the stream layer's unchecked hot-path calls), so this is the one door
 * to native code.
 * @internal
 */
import * as path from 'node:path';

/**
 * The native reactor handle (addon.cc's ReactorHandle). Every method throws
 * ERR_RXNET_REACTOR_CLOSED once the reactor is closed; numbers are >= 0 or
 * -errno. The hot calls (registrations, the data path) are the binding's
 * `reactor*` and `io*` functions, which name the reactor by `id`.
 */
export interface NativeReactor {
  /** This reactor's id in its environment's table; never reused. */
  readonly id: number;
  datagramSize(fd: number, size: number): void;
  /** Idempotent. */
  close(): void;
  /** wakeups, events, maxBatch, registrations, bytesRead, tlsSessions */
  stats(out: Float64Array): void;
  readonly backend: string;
  /** The first fd the backend cannot watch, or -1. */
  readonly fdLimit: number;
  readonly closed: boolean;
}

/** A failure as native/tls_context.h names it: [code, message, library, reason, host]. */
export type NativeTlsFailure = [code: string, message: string, library: string, reason: string, host: string];

/**
 * An SSL_CTX (native/tls_addon.cc). Each setter returns undefined, or the
 * failure when OpenSSL refused.
 */
export interface NativeSecureContext {
  setProtocols(min: string, max: string): NativeTlsFailure | undefined;
  setCiphers(ciphers: string): NativeTlsFailure | undefined;
  setGroups(groups: string): NativeTlsFailure | undefined;
  setCert(pem: string | Uint8Array): NativeTlsFailure | undefined;
  setKey(pem: string | Uint8Array, passphrase?: string): NativeTlsFailure | undefined;
  addCA(pem: string | Uint8Array, nameToClients: boolean): NativeTlsFailure | undefined;
  setSessionTimeout(seconds: number): void;
  setTicketKeys(keys: Uint8Array): NativeTlsFailure | undefined;
  setHonorCipherOrder(on: boolean): void;
  setSessionIdContext(id: string): NativeTlsFailure | undefined;
  addServername(servername: string, context: NativeSecureContext): NativeTlsFailure | undefined;
}

/** The numbers and names native/abi.h shares with TypeScript, plus the OS's. */
export interface NativeConstants {
  AF_INET: number;
  AF_INET6: number;
  AF_UNIX: number;
  SOCK_STREAM: number;
  SOCK_DGRAM: number;
  SHUT_RD: number;
  SHUT_WR: number;
  SHUT_RDWR: number;
  READABLE: number;
  WRITABLE: number;
  HANGUP: number;
  ERROR: number;
  TOKEN_READ: number;
  TOKEN_DGRAM: number;
  TOKEN_OWNED: number;
  TOKEN_ACCEPT: number;
  TOKEN_GENERATION: number;
  NOT_READ: number;
  BATCH_CAPACITY: number;
  ARENA_BYTES: number;
  DGRAM_CAPACITY: number;
  READ_BUDGET: number;
  DGRAM_BUDGET: number;
  ACCEPT_BUDGET: number;
  DGRAM_OFFSET: number;
  DGRAM_LENGTH: number;
  DGRAM_PORT: number;
  DGRAM_FAMILY: number;
  DGRAM_TRUNCATED: number;
  DGRAM_FIELDS: number;
  ADDR_SLOT: number;
  DGRAM_DEFAULT_SIZE: number;
  IOV_MAX: number;
  SENDFILE_MAX: number;
  MAX_PASSED_FDS: number;
  SOCKET_OPTIONS: readonly string[];
  HAVE_REUSEPORT: boolean;
  TOKEN_TLS: number;
  TLS_HANDSHAKE_DONE: number;
  TLS_END: number;
  TLS_FAILED: number;
  TLS_WANT_WRITE: number;
  TLS_SERVERNAME: number;
  TLS_RECORD_PLAINTEXT: number;
  TLS_WRITE_ROUND: number;
  TLS_ATTACH_SERVER: number;
  TLS_ATTACH_REQUEST_CERT: number;
  TLS_ATTACH_REJECT_UNAUTHORIZED: number;
  TLS_ATTACH_SNI_CALLBACK: number;
}

/** The native module's shape; numbers are results >= 0 or -errno. */
export interface NativeBinding {
  backends(): string[];
  /** 0, or the -errno that keeps the named backend from being created here. */
  backendError(name: string): number;
  createReactor(
    backend: string,
    fds: Int32Array,
    tokens: Uint32Array,
    events: Uint32Array,
    offsets: Uint32Array,
    lengths: Int32Array,
    arena: Uint8Array,
    dgramMeta: Int32Array,
    dgramAddrs: Uint8Array,
    callback: (count: number, scope: number) => void,
  ): NativeReactor | number;
  /** Registrations of reactor `id`; each throws ERR_RXNET_REACTOR_CLOSED once it is closed. */
  reactorAdd(id: number, fd: number, token: number, interest: number, scope: number): number;
  reactorModify(id: number, fd: number, token: number, interest: number): number;
  reactorRemove(id: number, fd: number): number;
  /** Async scopes (reactor/asyncScope.ts): made with a resource object and a type, entered, destroyed. */
  asyncScopeCreate(resource: object, type: string): number;
  asyncScopeRun(id: number, fn: (...args: never) => unknown, thisArg: object, ...args: unknown[]): unknown;
  asyncScopeDestroy(id: number): void;
  asyncScopesLive(): number;
  /**
   * The stream layer's syscalls through reactor `id`'s own data path
   * (io_uring: writes become submissions, accepts come from a multishot
   * accept); the plain syscalls for a backend without one, or once closed.
   */
  ioWrite(id: number, fd: number, buf: Uint8Array): number;
  ioWritev(id: number, fd: number, chunks: readonly Uint8Array[]): number;
  ioSendfile(id: number, outFd: number, inFd: number, offset: number, count: number): number;
  ioShutdownWrite(id: number, fd: number): number;
  ioClose(id: number, fd: number): number;
  ioAccept(id: number, fd: number): number;
  ioConnect(id: number, fd: number, family: number, host: string, port: number): number;
  ioConnectError(id: number, fd: number): number;
  // TLS (native/tls_addon.h): reactor `id`'s sessions, by fd; each throws
  // ERR_RXNET_REACTOR_CLOSED once it is closed. Numbers are results >= 0 or
  // -errno; `status[0]` receives the ciphertext left waiting in the session
  // after a call that sends.
  tlsAttach(
    id: number,
    fd: number,
    context: NativeSecureContext,
    flags: number,
    servername: string,
    verifyHost: string,
    alpn?: Uint8Array,
    session?: Uint8Array,
  ): number;
  tlsDetach(id: number, fd: number): void;
  /** RX_TLS_* bits, or -errno. */
  tlsHandshake(id: number, fd: number, status: Float64Array): number;
  tlsWrite(id: number, fd: number, chunks: readonly Uint8Array[], status: Float64Array): number;
  tlsSendFile(id: number, fd: number, fileFd: number, offset: number, count: number, status: Float64Array): number;
  tlsShutdown(id: number, fd: number, status: Float64Array): number;
  tlsPending(id: number, fd: number): number;
  tlsInfo(
    id: number,
    fd: number,
  ):
    | [
        protocol: string,
        cipher: string,
        standardName: string,
        cipherVersion: string,
        alpn: string,
        servername: string,
        authorized: boolean,
        authorizationError: string,
        sessionReused: boolean,
        peerCertificate?: Buffer,
      ]
    | undefined;
  tlsError(id: number, fd: number): NativeTlsFailure | undefined;
  tlsSession(id: number, fd: number): Buffer | undefined;
  tlsServername(id: number, fd: number): string;
  tlsUseContext(id: number, fd: number, context: NativeSecureContext | null): number;

  packAddress(family: number, host: string, out: Uint8Array, offset: number): number;
  sendDatagrams(
    fd: number,
    chunks: readonly Uint8Array[],
    families: Int32Array,
    addrs: Uint8Array,
    ports: Int32Array,
    start: number,
    count: number,
  ): number;

  socket(family: number, type: number): number;
  bind(fd: number, family: number, host: string, port: number): number;
  listen(fd: number, backlog: number): number;
  accept(fd: number): number;
  connect(fd: number, family: number, host: string, port: number): number;
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  peek(fd: number, buf: Uint8Array, offset: number, length: number): number;
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  writev(fd: number, chunks: readonly Uint8Array[]): number;
  recvfrom(
    fd: number,
    buf: Uint8Array,
    offset: number,
    length: number,
  ): number | [bytes: number, family: number, host: string, port: number, truncated: boolean];
  sendto(fd: number, buf: Uint8Array, offset: number, length: number, family: number, host: string, port: number): number;
  shutdown(fd: number, how: number): number;
  close(fd: number): number;
  getsockname(fd: number): number | [family: number, host: string, port: number];
  getpeername(fd: number): number | [family: number, host: string, port: number];
  /** `name`: an option's name, or its index in `constants.SOCKET_OPTIONS`. */
  setsockopt(fd: number, name: string | number, value: number): number;
  getsockopt(fd: number, name: string | number): [result: number, value: number];
  sendfile(outFd: number, inFd: number, offset: number, count: number): number;
  membership(fd: number, family: number, group: string, iface: string, add: boolean): number;
  SecureContext: new () => NativeSecureContext;
  setNonblockCloexec(fd: number): number;
  sendFds(fd: number, buf: Uint8Array, offset: number, length: number, fds: Int32Array): number;
  recvFds(fd: number, buf: Uint8Array, offset: number, length: number, fds: Int32Array): number | [bytes: number, nfds: number, truncated: boolean];

  constants: NativeConstants;
}

// node-gyp-build ships no types; this is the one function used.
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

/** Where the backends are written for (package.json "os" says the same). */
const PLATFORMS = ['linux', 'darwin', 'freebsd', 'openbsd', 'netbsd'];

/**
 * node-gyp-build finds the addon: a developer's or a from-source build
 * (build/Release, then build/Debug) first, else the prebuilt binary shipped
 * in the package for this platform, arch and libc (prebuilds/linux-x64/
 * rxnet.glibc.node: Node-API 8, so one binary serves every Node version).
 */
function load(): NativeBinding {
  // dist/reactor/binding.js -> the package root
  const root = path.resolve(__dirname, '..', '..');
  if (!PLATFORMS.includes(process.platform)) {
    throw new Error(
      `rxnet: ${process.platform} is not supported; its reactor runs on Linux (epoll), macOS and the BSDs (kqueue), with poll and select as fallbacks on those systems`,
    );
  }
  let file: string;
  try {
    file = nodeGypBuild.resolve(root);
  } catch (err) {
    const error = new Error(
      `rxnet: the native addon is not built for ${process.platform}-${process.arch} (Node ${process.version}): no prebuilt binary in the package fits this machine and none was compiled at install. ` +
        'In your app, run `npm rebuild rxnet` (it compiles the addon: python3, make and a C++ compiler are needed), ' +
        'or, in a clone of rxnet, `npm run build:native`.',
    );
    (error as Error & { cause?: unknown }).cause = err;
    throw error;
  }
  return require(file) as NativeBinding;
}

/**
 * The binding with fast properties. napi_define_properties leaves an addon's
 * exports (52 functions) and its constants in dictionary mode, where optimized
 * code cannot load a property by its offset: every `native.reactorAdd`,
 * `native.close` or `C.TOKEN_READ` on the hot path was a LoadIC call doing a
 * hash lookup (5.9% of a -k 0 echo's user time). Spread copies are fast-mode
 * objects whose loads TurboFan inlines.
 */
function withFastProperties(binding: NativeBinding): NativeBinding {
  return { ...binding, constants: { ...binding.constants } };
}

export const native: NativeBinding = withFastProperties(load());
