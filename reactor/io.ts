/**
 * The stream layer's unchecked calls into native code: the hot path of
 * connections, listeners and UDP sockets, whose arguments are the stream
 * layer's own (fds it opened, Buffers it built) and so are not validated
 * again. Public code uses `sys`, which checks every argument first. Every
 * call returns a result >= 0 or a negative errno and never throws.
 *
 * With `sys` and `Reactor`, this is the stream layer's only way into native
 * code: streams/ never imports the binding.
 * @internal
 */
import { native } from './binding';

const C = native.constants;

/** Limits and numbers of native/abi.h that the stream layer works with. */
export const limits = {
  /** Most chunks one writev takes. */
  iovMax: C.IOV_MAX,
  /** Most bytes one sendfile call is asked for. */
  sendfileMax: C.SENDFILE_MAX,
  /** Connections accepted per listener per wakeup. */
  acceptBudget: C.ACCEPT_BUDGET,
  /** Datagrams sent per sendmmsg. */
  dgramBudget: C.DGRAM_BUDGET,
  /** Receive slot of a datagram socket unless maxMessageSize says otherwise. */
  dgramDefaultSize: C.DGRAM_DEFAULT_SIZE,
  /** Bytes of one address (IPv6's 16) in a datagram's metadata and in sendDatagrams' destinations. */
  addrSlot: C.ADDR_SLOT,
} as const;

// Options by index into abi.h's list: no string for native code to convert per call.
const OPT_SO_LINGER: number = C.SOCKET_OPTIONS.indexOf('SO_LINGER');
const OPT_TCP_NODELAY: number = C.SOCKET_OPTIONS.indexOf('TCP_NODELAY');
const OPT_SO_KEEPALIVE: number = C.SOCKET_OPTIONS.indexOf('SO_KEEPALIVE');
const OPT_SO_ERROR: number = C.SOCKET_OPTIONS.indexOf('SO_ERROR');
if (Math.min(OPT_SO_LINGER, OPT_TCP_NODELAY, OPT_SO_KEEPALIVE, OPT_SO_ERROR) < 0) throw new Error('rxnet: native/abi.h lacks a socket option reactor/io.ts uses');

export const AF_INET: number = C.AF_INET;
export const AF_INET6: number = C.AF_INET6;
export const AF_UNIX: number = C.AF_UNIX;

/**
 * The syscalls through which a connection or listener moves its bytes, as
 * its reactor does them: the plain syscalls below for a readiness backend
 * (`directIo`), or the backend's own data path (io_uring: writes are taken
 * into the ring and leave at the end of the batch in one submission; accepted
 * connections come from a multishot accept). Every call returns a result >= 0
 * or a negative errno, EAGAIN included, exactly like the plain ones.
 */
export interface ReactorIo {
  write(fd: number, buf: Uint8Array): number;
  writev(fd: number, chunks: readonly Uint8Array[]): number;
  sendfile(outFd: number, inFd: number, offset: number, count: number): number;
  shutdownWrite(fd: number): number;
  close(fd: number): number;
  accept(fd: number): number;
  /** Starts a non-blocking connect: 0, EINPROGRESS, or another negative errno. */
  connect(fd: number, family: number, host: string, port: number): number;
  /**
   * How a connect went once its registration was reported writable: 0 or a
   * negative errno (SO_ERROR; io_uring keeps its connect's own result, which
   * the kernel took from SO_ERROR).
   */
  connectError(fd: number): number;
}

/** recv(2) into buf[offset, offset + length): bytes read, 0 at end of stream, or a negative errno. */
export function read(fd: number, buf: Uint8Array, offset: number, length: number): number {
  return native.read(fd, buf, offset, length);
}

/** recv(2) with MSG_PEEK: as read(), but the bytes stay in the socket (a PROXY header in front of TLS). */
export function peek(fd: number, buf: Uint8Array, offset: number, length: number): number {
  return native.peek(fd, buf, offset, length);
}

/** send(2) with MSG_NOSIGNAL. */
export function write(fd: number, buf: Uint8Array): number {
  return native.write(fd, buf, 0, buf.byteLength);
}

/** sendmsg(2) of up to `limits.iovMax` chunks. */
export function writev(fd: number, chunks: readonly Uint8Array[]): number {
  return native.writev(fd, chunks);
}

/** sendfile(2) of up to `limits.sendfileMax` bytes. */
export function sendfile(outFd: number, inFd: number, offset: number, count: number): number {
  return native.sendfile(outFd, inFd, offset, count);
}

/** accept4(SOCK_NONBLOCK | SOCK_CLOEXEC). */
export function accept(fd: number): number {
  return native.accept(fd);
}

/** A non-blocking connect: 0, EINPROGRESS, or another negative errno. */
export function connect(fd: number, family: number, host: string, port: number): number {
  return native.connect(fd, family, host, port);
}

/** The socket's pending error (SO_ERROR, which this clears) as a negative errno, or 0. */
export function connectError(fd: number): number {
  const [r, value] = native.getsockopt(fd, OPT_SO_ERROR);
  return r < 0 ? r : -value;
}

/** FIN after what the kernel holds. */
export function shutdownWrite(fd: number): number {
  return native.shutdown(fd, C.SHUT_WR);
}

export function close(fd: number): number {
  return native.close(fd);
}

/** Makes the next close send RST instead of FIN (SO_LINGER with a zero timeout). */
export function lingerZero(fd: number): number {
  return native.setsockopt(fd, OPT_SO_LINGER, 0);
}

/** TCP_NODELAY; the one route for serve(), listen() and connect(). */
export function setNoDelay(fd: number, on: boolean): number {
  return native.setsockopt(fd, OPT_TCP_NODELAY, on ? 1 : 0);
}

export function setKeepAlive(fd: number, on: boolean): number {
  return native.setsockopt(fd, OPT_SO_KEEPALIVE, on ? 1 : 0);
}

/**
 * sendmmsg(2) of chunks[start, start + count) (at most `limits.dgramBudget`),
 * datagram i to family i, the address bytes at `addrs[i * limits.addrSlot]`
 * (packAddress's form) and port i.
 */
export function sendDatagrams(
  fd: number,
  chunks: readonly Uint8Array[],
  families: Int32Array,
  addrs: Uint8Array,
  ports: Int32Array,
  start: number,
  count: number,
): number {
  return native.sendDatagrams(fd, chunks, families, addrs, ports, start, count);
}

/** An IP literal's bytes (4 or 16, network order) at out[offset], as sendDatagrams takes them: 0 or -EINVAL. */
export function packAddress(family: number, host: string, out: Uint8Array, offset: number): number {
  return native.packAddress(family, host, out, offset);
}

/** The plain syscalls, for readiness backends. */
export const directIo: ReactorIo = { write, writev, sendfile, shutdownWrite, close, accept, connect, connectError };
