/**
 * Errors shaped the way `node:net` shapes them: an `Error` with `code`,
 * `errno` (negative, as libuv reports it), `syscall`, and `address`/`port`
 * where they apply. EAGAIN is a state, never one of these.
 */
import * as os from 'node:os';
import * as util from 'node:util';

/** A failure of a system call, as `node:net` reports it. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

export interface ErrorDetails {
  address?: string;
  port?: number;
}

/**
 * Builds a Node-shaped error from a native result.
 *
 * @param result a negative errno, as every native call returns it.
 * @example
 * const r = sys.accept(fd);
 * if (r < 0 && r !== sys.EAGAIN) throw errnoException(r, 'accept');
 */
export function errnoException(result: number, syscall: string, details: ErrorDetails = {}): SystemError {
  const code = systemErrorName(result);
  let message = `${syscall} ${code}`;
  if (details.address !== undefined) {
    message += details.port !== undefined && details.port > 0 ? ` ${details.address}:${details.port}` : ` ${details.address}`;
  }
  const error = bareError(Error, message) as SystemError;
  error.errno = result;
  error.code = code;
  error.syscall = syscall;
  if (details.address !== undefined) error.address = details.address;
  if (details.port !== undefined) error.port = details.port;
  Error.captureStackTrace(error, errnoException);
  return error;
}

// Whether Error.stackTraceLimit may be set (not with frozen intrinsics).
const stackLimitWritable = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true && Object.isExtensible(Error);

/**
 * `new Kind(message)` without the stack trace the constructor would capture:
 * the callers capture one themselves, from their own frame, so constructing
 * captured every stack twice. A peer that leaves mid-write costs an error per
 * connection (5% of a TLS server's CPU per handshake under `openssl s_time
 * -new`, half of it the wasted capture).
 */
function bareError<E extends Error>(Kind: new (message: string) => E, message: string): E {
  if (!stackLimitWritable) return new Kind(message);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new Kind(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** `util.getSystemErrorName`, or a readable fallback for an errno it does not know. */
export function systemErrorName(result: number): string {
  try {
    return util.getSystemErrorName(result);
  } catch {
    return `Unknown system error ${result}`;
  }
}

/** An rxnet error that has no errno: a `code` like Node's `ERR_*` codes. */
export function rxnetError<E extends Error>(Kind: new (message: string) => E, code: string, message: string): E & { code: string } {
  const error = bareError(Kind, message) as E & { code: string };
  error.code = code;
  Error.captureStackTrace(error, rxnetError);
  return error;
}

const errno = os.constants.errno;
/** Negative errno values, as native calls return them. */
export const EAGAIN = -errno.EAGAIN;
export const EINPROGRESS = -errno.EINPROGRESS;
export const EINTR = -errno.EINTR;
export const EMFILE = -errno.EMFILE;
export const ENFILE = -errno.ENFILE;
export const ECONNRESET = -errno.ECONNRESET;
export const ECONNABORTED = -errno.ECONNABORTED;
export const EPIPE = -errno.EPIPE;
export const ETIMEDOUT = -errno.ETIMEDOUT;
export const ERANGE = -errno.ERANGE;
export const EBADF = -errno.EBADF;
export const ENOBUFS = -errno.ENOBUFS;
/** A TLS session failed (the native stage's answer to a write after a failure). */
export const EPROTO = -errno.EPROTO;
