/**
 * The stream layer's calls into a reactor's TLS stage (native/tls.h): TLS
 * sessions live in the reactor, by fd, on its native data path. Like io.ts,
 * unchecked: the arguments are the stream layer's own. Every call returns a
 * result >= 0 or a negative errno and never throws; `status[0]` holds the
 * ciphertext left waiting in the session after each call that sends.
 * @internal
 */
import { native, type NativeSecureContext, type NativeTlsFailure } from './binding';
import type { Reactor } from './reactor';

export type { NativeSecureContext, NativeTlsFailure };

const C = native.constants;

/** Status bits in `events` for a TLS registration, and tlsAttach's flags (native/abi.h). */
export const TLS = {
  /** The handshake completed in this wakeup; the plaintext (if any) came after it. */
  HANDSHAKE_DONE: C.TLS_HANDSHAKE_DONE,
  /** After this plaintext the peer sent close_notify: its stream has ended. */
  END: C.TLS_END,
  /** After this plaintext the session failed; `failure()` says how. */
  FAILED: C.TLS_FAILED,
  /** Ciphertext the stage made waits for the socket to become writable. */
  WANT_WRITE: C.TLS_WANT_WRITE,
  /** The server's handshake waits for the SNICallback (`servername()`, `useContext()`, `handshake()`). */
  SERVERNAME: C.TLS_SERVERNAME,
  ATTACH_SERVER: C.TLS_ATTACH_SERVER,
  ATTACH_REQUEST_CERT: C.TLS_ATTACH_REQUEST_CERT,
  ATTACH_REJECT_UNAUTHORIZED: C.TLS_ATTACH_REJECT_UNAUTHORIZED,
  ATTACH_SNI_CALLBACK: C.TLS_ATTACH_SNI_CALLBACK,
} as const;

/** Written by every call that sends: [ciphertext waiting in the session]. */
export const status = new Float64Array(1);

/** A new SSL_CTX with rxnet's fixed settings. Throws if OpenSSL cannot make one. */
export function createContext(): NativeSecureContext {
  return new native.SecureContext();
}

export function attach(
  reactor: Reactor,
  fd: number,
  context: NativeSecureContext,
  flags: number,
  servername: string,
  verifyHost: string,
  alpn: Uint8Array | undefined,
  session: Uint8Array | undefined,
): number {
  return native.tlsAttach(reactor.nativeId, fd, context, flags, servername, verifyHost, alpn, session);
}

/** Frees fd's session; before the fd is closed. */
export function detach(reactor: Reactor, fd: number): void {
  if (!reactor.closed) native.tlsDetach(reactor.nativeId, fd);
}

/** Advances the handshake with what the session holds; TLS bits or -errno. */
export function handshake(reactor: Reactor, fd: number): number {
  return native.tlsHandshake(reactor.nativeId, fd, status);
}

/** Encrypts and sends; the plaintext bytes taken, EAGAIN, or -errno (EPROTO: see failure()). */
export function write(reactor: Reactor, fd: number, chunks: readonly Uint8Array[]): number {
  return native.tlsWrite(reactor.nativeId, fd, chunks, status);
}

/** Reads, encrypts and sends a file's bytes; the bytes taken, 0 at its end, EAGAIN, or -errno. */
export function sendFile(reactor: Reactor, fd: number, fileFd: number, offset: number, count: number): number {
  return native.tlsSendFile(reactor.nativeId, fd, fileFd, offset, count, status);
}

/** Sends close_notify (once), then what waits; 0, EAGAIN, or -errno. */
export function shutdown(reactor: Reactor, fd: number): number {
  return native.tlsShutdown(reactor.nativeId, fd, status);
}

/** Ciphertext waiting in fd's session. */
export function pending(reactor: Reactor, fd: number): number {
  return native.tlsPending(reactor.nativeId, fd);
}

export function info(reactor: Reactor, fd: number): ReturnType<typeof native.tlsInfo> {
  return native.tlsInfo(reactor.nativeId, fd);
}

export function failure(reactor: Reactor, fd: number): NativeTlsFailure | undefined {
  return reactor.closed ? undefined : native.tlsError(reactor.nativeId, fd);
}

export function session(reactor: Reactor, fd: number): Buffer | undefined {
  return native.tlsSession(reactor.nativeId, fd);
}

/** The SNI name a server's paused handshake asks about. */
export function servername(reactor: Reactor, fd: number): string {
  return native.tlsServername(reactor.nativeId, fd);
}

/** The SNICallback's answer (null: the default context); then handshake(). */
export function useContext(reactor: Reactor, fd: number, context: NativeSecureContext | null): number {
  return native.tlsUseContext(reactor.nativeId, fd, context);
}
