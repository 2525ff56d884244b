/**
 * Typed, non-blocking socket syscalls.
 *
 * Two kinds of call, on purpose:
 *
 * - Hot-path calls (`read`, `write`, `writev`, `accept`, `recvfrom`,
 *   `sendto`, `sendfile`) return a number: a result >= 0, or a negative errno
 *   such as {@link EAGAIN}. They never throw for a syscall failure, because
 *   EAGAIN is a state and a loop should not pay for exceptions. Turn a
 *   negative result into a Node-shaped error with `errnoException`.
 * - Setup calls (`socket`, `bind`, `listen`, `connect`, `shutdown`, `close`,
 *   `getsockname`, `getpeername`, `setsockopt`, `getsockopt`) throw
 *   Node-shaped errors (`code`, `errno`, `syscall`, `address`, `port`).
 *
 * Every call checks its arguments first and throws `TypeError`/`RangeError`
 * before any syscall. Sockets are always created with SOCK_NONBLOCK and
 * SOCK_CLOEXEC, and no call can raise SIGPIPE.
 *
 * @example
 * const fd = sys.socket('ipv4', 'stream');
 * sys.setsockopt(fd, 'SO_REUSEADDR', 1);
 * sys.bind(fd, { address: '127.0.0.1', port: 0 });
 * sys.listen(fd, 511);
 * const { port } = sys.getsockname(fd);
 */
import { native } from './binding';
import { errnoException, EAGAIN, EINPROGRESS, rxnetError } from './errors';
import { validateBytes, validateFd, validateInteger, validateIp, validateOneOf, validatePort, validateString, invalidArgType } from './validate';

export { EAGAIN, EINPROGRESS, ECONNRESET, EPIPE, EMFILE, ENFILE, ECONNABORTED, ETIMEDOUT, EINTR, EBADF } from './errors';

const C = native.constants;

export type Family = 'ipv4' | 'ipv6' | 'unix';
export type SocketType = 'stream' | 'dgram';
export type SocketOption =
  | 'SO_REUSEADDR'
  | 'SO_REUSEPORT'
  | 'TCP_NODELAY'
  | 'SO_KEEPALIVE'
  | 'SO_RCVBUF'
  | 'SO_SNDBUF'
  | 'SO_LINGER'
  | 'IPV6_V6ONLY'
  | 'SO_ERROR'
  | 'SO_BROADCAST'
  | 'IP_MULTICAST_TTL'
  | 'IP_MULTICAST_LOOP'
  | 'IPV6_MULTICAST_HOPS'
  | 'IPV6_MULTICAST_LOOP'
  | 'SO_TYPE'
  | 'SO_ACCEPTCONN';

const FAMILIES: readonly Family[] = ['ipv4', 'ipv6', 'unix'];
const TYPES: readonly SocketType[] = ['stream', 'dgram'];
// The option names native/abi.h lists; SocketOption above is their type.
const OPTIONS = C.SOCKET_OPTIONS as readonly SocketOption[];

/** An IP endpoint or a Unix socket path. */
export type Endpoint = { address: string; port: number } | { path: string };

/** A bound or connected address, shaped like `net.AddressInfo`; a Unix socket has its path as `address` and port 0. */
export interface SocketAddress {
  address: string;
  family: 'IPv4' | 'IPv6' | 'unix';
  port: number;
}

/** A received datagram's metadata. */
export interface ReceivedFrom extends SocketAddress {
  /** Bytes written into the buffer. */
  bytes: number;
  /** The datagram was larger than the buffer and its tail was lost. */
  truncated: boolean;
}

interface RawEndpoint {
  family: number;
  host: string;
  port: number;
  /** For error messages. */
  address: string;
}

function rawEndpoint(endpoint: unknown, name: string): RawEndpoint {
  if (endpoint === null || typeof endpoint !== 'object') throw invalidArgType(name, 'an object with address and port, or path', endpoint);
  if ('path' in endpoint) {
    const path = (endpoint as { path: unknown }).path;
    validateString(path, `${name}.path`);
    if (path.length === 0) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}.path' must be a non-empty string`);
    return { family: C.AF_UNIX, host: path, port: 0, address: path };
  }
  const { address, port } = endpoint as { address: unknown; port: unknown };
  const family = validateIp(address, `${name}.address`);
  validatePort(port, `${name}.port`);
  return { family: family === 6 ? C.AF_INET6 : C.AF_INET, host: address as string, port, address: address as string };
}

function familyName(family: number): SocketAddress['family'] {
  if (family === C.AF_INET) return 'IPv4';
  if (family === C.AF_INET6) return 'IPv6';
  return 'unix';
}

function check(result: number, syscall: string, endpoint?: RawEndpoint): number {
  if (result < 0) throw errnoException(result, syscall, endpoint ? { address: endpoint.address, port: endpoint.family === C.AF_UNIX ? undefined : endpoint.port } : {});
  return result;
}

/** A valid fd, tested in one go (the validators say what is wrong otherwise). */
function isFd(fd: unknown): fd is number {
  return typeof fd === 'number' && (fd | 0) === fd && fd >= 0;
}

function isRange(buf: Uint8Array, offset: number | undefined, length: number | undefined): boolean {
  const off = offset ?? 0;
  if (typeof off !== 'number' || (off | 0) !== off || off < 0 || off > buf.byteLength) return false;
  if (length === undefined) return true;
  return typeof length === 'number' && (length | 0) === length && length >= 0 && length <= buf.byteLength - off;
}

function range(buf: Uint8Array, offset: number | undefined, length: number | undefined): [number, number] {
  const off = offset ?? 0;
  validateInteger(off, 'offset', 0, buf.byteLength);
  const len = length ?? buf.byteLength - off;
  validateInteger(len, 'length', 0, buf.byteLength - off);
  return [off, len];
}

/** Creates a non-blocking, close-on-exec socket. Throws on failure. */
export function socket(family: Family, type: SocketType): number {
  validateOneOf(family, 'family', FAMILIES);
  validateOneOf(type, 'type', TYPES);
  const af = family === 'ipv4' ? C.AF_INET : family === 'ipv6' ? C.AF_INET6 : C.AF_UNIX;
  return check(native.socket(af, type === 'stream' ? C.SOCK_STREAM : C.SOCK_DGRAM), 'socket');
}

/** Binds a socket; errors carry `address` and `port` (`EADDRINUSE`, `EADDRNOTAVAIL`, ...). */
export function bind(fd: number, endpoint: Endpoint): void {
  validateFd(fd);
  const e = rawEndpoint(endpoint, 'endpoint');
  check(native.bind(fd, e.family, e.host, e.port), 'bind', e);
}

/** Marks a bound stream socket as listening. */
export function listen(fd: number, backlog = 511): void {
  validateFd(fd);
  validateInteger(backlog, 'backlog', 0, 0x7fffffff);
  check(native.listen(fd, backlog), 'listen');
}

/**
 * Accepts one connection with accept4(SOCK_NONBLOCK|SOCK_CLOEXEC).
 * @returns the new fd, {@link EAGAIN} when no connection is pending, or another negative errno.
 */
export function accept(fd: number): number {
  if (!isFd(fd)) validateFd(fd);
  return native.accept(fd);
}

/**
 * Starts a non-blocking connect.
 * @returns true if connected at once (a Unix socket can be), false if it is in
 *   progress: wait for writability, then read `socketError(fd)`.
 */
export function connect(fd: number, endpoint: Endpoint): boolean {
  validateFd(fd);
  const e = rawEndpoint(endpoint, 'endpoint');
  const r = native.connect(fd, e.family, e.host, e.port);
  if (r === EINPROGRESS) return false;
  check(r, 'connect', e);
  return true;
}

/** Reads into `buf`. @returns bytes read, 0 at end of stream, or a negative errno ({@link EAGAIN} when nothing is there). */
export function read(fd: number, buf: Uint8Array, offset?: number, length?: number): number {
  // The hot path: one cheap test; anything unusual gets the precise checks below.
  if (isFd(fd) && buf instanceof Uint8Array && isRange(buf, offset, length)) {
    return native.read(fd, buf, offset ?? 0, length ?? buf.byteLength - (offset ?? 0));
  }
  validateFd(fd);
  validateBytes(buf, 'buffer');
  const [off, len] = range(buf, offset, length);
  return native.read(fd, buf, off, len);
}

/** Writes from `buf` (send with MSG_NOSIGNAL). @returns bytes written or a negative errno. */
export function write(fd: number, buf: Uint8Array, offset?: number, length?: number): number {
  if (isFd(fd) && buf instanceof Uint8Array && isRange(buf, offset, length)) {
    return native.write(fd, buf, offset ?? 0, length ?? buf.byteLength - (offset ?? 0));
  }
  validateFd(fd);
  validateBytes(buf, 'buffer');
  const [off, len] = range(buf, offset, length);
  return native.write(fd, buf, off, len);
}

/** Gathers chunks into one sendmsg (at most `sys.IOV_MAX` of them are taken). @returns bytes written or a negative errno. */
export function writev(fd: number, chunks: readonly Uint8Array[]): number {
  validateFd(fd);
  if (!Array.isArray(chunks)) throw invalidArgType('chunks', 'an array of Uint8Array', chunks);
  for (let i = 0; i < chunks.length; i++) validateBytes(chunks[i], `chunks[${i}]`);
  return native.writev(fd, chunks);
}

/** Receives one datagram. @returns its metadata, or a negative errno. */
export function recvfrom(fd: number, buf: Uint8Array, offset?: number, length?: number): ReceivedFrom | number {
  validateFd(fd);
  validateBytes(buf, 'buffer');
  const [off, len] = range(buf, offset, length);
  const r = native.recvfrom(fd, buf, off, len);
  if (typeof r === 'number') return r;
  return { bytes: r[0], family: familyName(r[1]), address: r[2], port: r[3], truncated: r[4] };
}

/** Sends one datagram. @returns bytes sent or a negative errno. */
export function sendto(fd: number, buf: Uint8Array, to: Endpoint, offset?: number, length?: number): number {
  validateFd(fd);
  validateBytes(buf, 'buffer');
  const e = rawEndpoint(to, 'to');
  const [off, len] = range(buf, offset, length);
  return native.sendto(fd, buf, off, len, e.family, e.host, e.port);
}

/** Zero-copy file to socket. @returns bytes sent or a negative errno. */
export function sendfile(outFd: number, inFd: number, offset: number, count: number): number {
  validateFd(outFd, 'outFd');
  validateFd(inFd, 'inFd');
  validateInteger(offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
  validateInteger(count, 'count', 0, C.SENDFILE_MAX);
  return native.sendfile(outFd, inFd, offset, count);
}

/** Shuts down one or both directions. */
export function shutdown(fd: number, how: 'read' | 'write' | 'both'): void {
  validateFd(fd);
  validateOneOf(how, 'how', ['read', 'write', 'both'] as const);
  check(native.shutdown(fd, how === 'read' ? C.SHUT_RD : how === 'write' ? C.SHUT_WR : C.SHUT_RDWR), 'shutdown');
}

/** Closes a descriptor. Deregister it from any reactor first. */
export function close(fd: number): void {
  validateFd(fd);
  check(native.close(fd), 'close');
}

export function getsockname(fd: number): SocketAddress {
  validateFd(fd);
  const r = native.getsockname(fd);
  if (typeof r === 'number') throw errnoException(r, 'getsockname');
  return { family: familyName(r[0]), address: r[1], port: r[2] };
}

export function getpeername(fd: number): SocketAddress {
  validateFd(fd);
  const r = native.getpeername(fd);
  if (typeof r === 'number') throw errnoException(r, 'getpeername');
  return { family: familyName(r[0]), address: r[1], port: r[2] };
}

/**
 * Sets a named option. Booleans become 0/1; `SO_LINGER` takes seconds, or -1
 * (or false) to turn lingering off.
 */
export function setsockopt(fd: number, name: SocketOption, value: number | boolean): void {
  validateFd(fd);
  validateOneOf(name, 'name', OPTIONS);
  if (name === 'SO_ERROR' || name === 'SO_TYPE' || name === 'SO_ACCEPTCONN') {
    throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `${name} can only be read`);
  }
  const v = value === true ? 1 : value === false ? (name === 'SO_LINGER' ? -1 : 0) : value;
  validateInteger(v, 'value', name === 'SO_LINGER' ? -1 : 0, 0x7fffffff);
  check(native.setsockopt(fd, name, v), 'setsockopt');
}

/** Reads a named option; `SO_LINGER` reads -1 when off, `SO_ERROR` a positive errno or 0. */
export function getsockopt(fd: number, name: SocketOption): number {
  validateFd(fd);
  validateOneOf(name, 'name', OPTIONS);
  const [r, value] = native.getsockopt(fd, name);
  check(r, 'getsockopt');
  return value;
}

/**
 * The socket's pending error (SO_ERROR) as a Node-shaped error, or null. This
 * is how a non-blocking connect reports its outcome once the socket is writable.
 */
export function socketError(fd: number, syscall = 'connect', details?: { address?: string; port?: number }): Error | null {
  const e = getsockopt(fd, 'SO_ERROR');
  return e === 0 ? null : errnoException(-e, syscall, details);
}

/**
 * Joins or leaves a multicast group on a datagram socket.
 * @param iface IPv4: a local interface address; IPv6: an interface index. Default: the system's choice.
 */
export function membership(fd: number, group: string, add: boolean, iface?: string): void {
  validateFd(fd);
  const family = validateIp(group, 'group');
  if (iface !== undefined) validateString(iface, 'iface');
  check(native.membership(fd, family === 6 ? C.AF_INET6 : C.AF_INET, group, iface ?? '', add), add ? 'addMembership' : 'dropMembership', {
    family: 0,
    host: group,
    port: 0,
    address: group,
  });
}

/** What a descriptor this process did not open is: see {@link describeSocket}. */
export interface SocketDescription {
  /** SO_TYPE: 'stream' (TCP, Unix stream), 'dgram', or 'other' (SOCK_SEQPACKET, raw, ...). */
  type: SocketType | 'other';
  /** SO_ACCEPTCONN: listen(2) was called on it. */
  listening: boolean;
  /** getsockname(2): where it is bound. */
  address: SocketAddress;
}

/**
 * Tells what an inherited descriptor is (systemd socket activation, a
 * handoff): its type, whether it is listening, and its address. Throws a
 * Node-shaped error (EBADF, ENOTSOCK) when it is not an open socket.
 *
 * @example
 * const { type, listening, address } = sys.describeSocket(3);
 */
export function describeSocket(fd: number): SocketDescription {
  validateFd(fd);
  const type = getsockopt(fd, 'SO_TYPE');
  const listening = getsockopt(fd, 'SO_ACCEPTCONN') !== 0;
  return { type: type === C.SOCK_STREAM ? 'stream' : type === C.SOCK_DGRAM ? 'dgram' : 'other', listening, address: getsockname(fd) };
}

/**
 * Makes a descriptor this process did not open behave like rxnet's own:
 * non-blocking (O_NONBLOCK) and close-on-exec (FD_CLOEXEC), so a child
 * process does not inherit it by accident. Throws a Node-shaped error.
 */
export function inherit(fd: number): void {
  validateFd(fd);
  check(native.setNonblockCloexec(fd), 'fcntl');
}

/** Most descriptors one {@link sendFds} carries. */
export const MAX_PASSED_FDS: number = C.MAX_PASSED_FDS;

/**
 * Sends `buf` on a Unix stream socket with `fds` attached as SCM_RIGHTS
 * (unix(7)): the receiver gets its own descriptors for the same open files.
 * @returns bytes sent or a negative errno ({@link EAGAIN} when the socket is full).
 */
export function sendFds(fd: number, buf: Uint8Array, fds: readonly number[]): number {
  validateFd(fd);
  validateBytes(buf, 'buffer');
  if (buf.byteLength === 0) throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', 'The "buffer" must hold at least one byte to carry descriptors');
  if (!Array.isArray(fds)) throw invalidArgType('fds', 'an array of descriptors', fds);
  validateInteger(fds.length, 'fds.length', 0, C.MAX_PASSED_FDS);
  for (let i = 0; i < fds.length; i++) validateFd(fds[i], `fds[${i}]`);
  return native.sendFds(fd, buf, 0, buf.byteLength, Int32Array.from(fds));
}

/** What {@link recvFds} received. */
export interface ReceivedFds {
  bytes: number;
  /** Descriptors that came with these bytes, now this process's (close-on-exec). */
  fds: number[];
  /** Descriptors were sent beyond `maxFds` (closed here) or dropped by the kernel (MSG_CTRUNC). */
  truncated: boolean;
}

/**
 * Reads from a Unix stream socket, taking any descriptors that arrive with
 * the bytes (SCM_RIGHTS). They belong to the caller, who must close them.
 * @returns what arrived (bytes 0: end of stream), or a negative errno.
 */
export function recvFds(fd: number, buf: Uint8Array, maxFds: number = C.MAX_PASSED_FDS): ReceivedFds | number {
  validateFd(fd);
  validateBytes(buf, 'buffer');
  validateInteger(maxFds, 'maxFds', 0, C.MAX_PASSED_FDS);
  const slots = new Int32Array(maxFds);
  const r = native.recvFds(fd, buf, 0, buf.byteLength, slots);
  if (typeof r === 'number') return r;
  return { bytes: r[0], fds: Array.from(slots.subarray(0, r[1])), truncated: r[2] };
}

/** True when `result` means "try again when ready". */
export function wouldBlock(result: number): boolean {
  return result === EAGAIN;
}

export { errnoException };
export const haveReusePort: boolean = C.HAVE_REUSEPORT;
/** Most chunks one {@link writev} takes; the rest wait for the next call. */
export const IOV_MAX: number = C.IOV_MAX;
/** Most bytes one {@link sendfile} call is asked for. */
export const SENDFILE_MAX: number = C.SENDFILE_MAX;
export { EAGAIN as EWOULDBLOCK };
