/**
 * Loads the native addon built by node-gyp during `npm install`. Internal:
 * everything public goes through `Reactor` and `sys`, which validate
 * arguments before any call reaches native code.
 */
import * as path from 'node:path';

/** The native module's shape; numbers are results >= 0 or -errno. */
export interface NativeBinding {
  backends(): string[];
  createReactor(
    backend: string,
    tokens: Uint32Array,
    events: Uint32Array,
    offsets: Uint32Array,
    lengths: Int32Array,
    arena: Uint8Array,
    dgramMeta: Int32Array,
    dgramAddrs: Uint8Array,
    callback: (count: number) => void,
  ): NativeReactor | number;
  reactorDatagramSize(r: NativeReactor, fd: number, size: number): void;
  sendDatagrams(
    fd: number,
    chunks: readonly Uint8Array[],
    families: Int32Array,
    hosts: readonly string[],
    ports: Int32Array,
    start: number,
    count: number,
  ): number;
  reactorAdd(r: NativeReactor, fd: number, token: number, interest: number): number;
  reactorModify(r: NativeReactor, fd: number, token: number, interest: number): number;
  reactorRemove(r: NativeReactor, fd: number): number;
  reactorClose(r: NativeReactor): void;
  reactorBackend(r: NativeReactor): string;
  reactorFdLimit(r: NativeReactor): number;
  reactorStats(r: NativeReactor, out: Float64Array): void;

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

  constants: {
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
    READ_TOKEN: number;
    DGRAM_TOKEN: number;
    OWNED_TOKEN: number;
    DGRAM_BUDGET: number;
    NOT_READ: number;
    READ_BUDGET: number;
    HAVE_REUSEPORT: boolean;
  };
}

/** Opaque handle of a native reactor. */
export type NativeReactor = { readonly __nativeReactor: unique symbol };

function load(): NativeBinding {
  // dist/reactor/binding.js -> <package>/build/Release/rxnet.node
  const root = path.resolve(__dirname, '..', '..');
  const candidates = ['build/Release/rxnet.node', 'build/Debug/rxnet.node'];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      return require(path.join(root, candidate)) as NativeBinding;
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  const error = new Error(
    `rxnet: the native addon is not built (looked for ${candidates.join(', ')} under ${root}); run \`npm install\` or \`npm run build:native\``,
  );
  (error as Error & { cause?: unknown }).cause = lastError;
  throw error;
}

export const native: NativeBinding = load();
