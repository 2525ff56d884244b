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
 * -errno.
 */
export interface NativeReactor {
  add(fd: number, token: number, interest: number): number;
  modify(fd: number, token: number, interest: number): number;
  remove(fd: number): number;
  datagramSize(fd: number, size: number): void;
  /** Idempotent. */
  close(): void;
  /** wakeups, events, maxBatch, registrations, bytesRead */
  stats(out: Float64Array): void;
  readonly backend: string;
  /** The first fd the backend cannot watch, or -1. */
  readonly fdLimit: number;
  readonly closed: boolean;
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
  SOCKET_OPTIONS: readonly string[];
  HAVE_REUSEPORT: boolean;
}

/** The native module's shape; numbers are results >= 0 or -errno. */
export interface NativeBinding {
  backends(): string[];
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
    callback: (count: number) => void,
  ): NativeReactor | number;
  sendDatagrams(
    fd: number,
    chunks: readonly Uint8Array[],
    families: Int32Array,
    hosts: readonly string[],
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
  setsockopt(fd: number, name: string, value: number): number;
  getsockopt(fd: number, name: string): [result: number, value: number];
  sendfile(outFd: number, inFd: number, offset: number, count: number): number;
  membership(fd: number, family: number, group: string, iface: string, add: boolean): number;

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

export const native: NativeBinding = load();
