/**
 * The write queue of a TLS connection: the same queue of plaintext chunks
 * and files, flushed through the reactor's TLS stage instead of write(2) and
 * sendfile(2). Everything queued in a batch becomes records in one call per
 * connection (small chunks share a record) and leaves in one send(2) per
 * round; files are read and encrypted in native code. Ciphertext the kernel
 * has not taken stays in the native session and counts in `size`, so
 * `bufferedAmount`, the high-water mark and `maxBufferedBytes` see it, and
 * the queue is not empty until it has left.
 * @internal
 */
import { EAGAIN, type SystemError } from '../reactor/errors';
import { limits } from '../reactor/io';
import type { Reactor } from '../reactor/reactor';
import * as tls from '../reactor/tls';
import { settle, WriteQueue, type FileSend } from './writeQueue';

const NO_CHUNKS: readonly Uint8Array[] = [];

export class TlsWriteQueue extends WriteQueue {
  /** Ciphertext waiting in the native session (also counted in `size`). */
  private cipherPending = 0;
  private ending = false;
  private closeNotifySent = false;

  constructor(
    private readonly reactor: Reactor,
    private readonly fd: number,
    /** Turns a failed native call into the connection's error (a TLS failure or an errno). */
    private readonly failure: (result: number, syscall: string) => SystemError,
  ) {
    super();
  }

  override get empty(): boolean {
    return this.items.length === 0 && this.cipherPending === 0 && (!this.ending || this.closeNotifySent);
  }

  /** close_notify goes out after everything queued, and the FIN after it. */
  override end(): void {
    this.ending = true;
  }

  /** The stage reported ciphertext of its own waiting (a handshake's last flight, tickets, a KeyUpdate). */
  notePending(): void {
    this.setPending(tls.pending(this.reactor, this.fd));
  }

  override flush(fd: number): number | SystemError {
    const items = this.items;
    const reactor = this.reactor;
    let total = 0;
    for (;;) {
      if (items.length === 0) {
        let r: number;
        if (this.ending && !this.closeNotifySent) {
          this.closeNotifySent = true;
          r = tls.shutdown(reactor, fd);
        } else if (this.cipherPending > 0) {
          r = tls.write(reactor, fd, NO_CHUNKS);
        } else {
          return total;
        }
        this.setPending(tls.status[0]);
        if (r < 0 && r !== EAGAIN) return this.failure(r, 'write');
        return total;
      }
      const head = items[0];
      if (!(head instanceof Uint8Array)) {
        const r = this.fileStep(fd, head);
        if (typeof r !== 'number') return r;
        if (r < 0) return total; // EAGAIN
        total += r;
        if (items[0] === head) return total; // the kernel is full
        continue;
      }
      const chunks: Uint8Array[] = [];
      let attempted = 0;
      for (let i = 0; i < items.length && i < limits.iovMax; i++) {
        const item = items[i];
        if (!(item instanceof Uint8Array)) break;
        chunks.push(item);
        attempted += item.byteLength;
      }
      const r = tls.write(reactor, fd, chunks);
      this.setPending(tls.status[0]);
      if (r === EAGAIN) return total;
      if (r < 0) return this.failure(r, 'write');
      this.consume(r);
      total += r;
      if (r < attempted || this.cipherPending > 0) return total;
    }
  }

  override clear(error: Error | null): void {
    super.clear(error);
    this.cipherPending = 0;
  }

  private setPending(bytes: number): void {
    this.size += bytes - this.cipherPending;
    this.cipherPending = bytes;
  }

  /**
   * One file, as far as the session takes it. A file (or flushed()'s empty
   * marker) settles only once the ciphertext before its end has left, so
   * "sent" means taken by the kernel, as with sendfile(2). Returns the bytes
   * taken, EAGAIN, or the error (the file's promise is rejected with it).
   */
  private fileStep(fd: number, f: FileSend): number | SystemError {
    let total = 0;
    while (f.remaining > 0) {
      const r = tls.sendFile(this.reactor, fd, f.fd, f.offset, Math.min(f.remaining, limits.sendfileMax));
      this.setPending(tls.status[0]);
      if (r === EAGAIN) return total > 0 ? total : EAGAIN;
      if (r < 0) {
        const error = this.failure(r, 'sendfile');
        this.items.shift();
        this.size -= f.remaining;
        f.remaining = 0;
        settle(f, error);
        return error;
      }
      if (r === 0) {
        // The file is shorter than asked: what there was is sent.
        this.size -= f.remaining;
        f.remaining = 0;
        break;
      }
      f.offset += r;
      f.remaining -= r;
      f.sent += r;
      this.size -= r;
      total += r;
      if (this.cipherPending > 0) return total;
    }
    if (this.cipherPending > 0) {
      const r = tls.write(this.reactor, fd, NO_CHUNKS);
      this.setPending(tls.status[0]);
      if (r < 0 && r !== EAGAIN) return this.failure(r, 'write');
      if (this.cipherPending > 0) return total > 0 ? total : EAGAIN;
    }
    this.items.shift();
    settle(f, null);
    return total;
  }
}
