/**
 * What a connection has yet to send: byte chunks and files, in order. Bytes
 * go out with one write or writev for everything queued; files with
 * sendfile(2), zero-copy. A file's unsent bytes count in `size` like queued
 * chunks do, so backpressure and `bufferedAmount` see them too.
 * @internal
 */
import * as fs from 'node:fs';
import { errnoException, rxnetError, EAGAIN, type SystemError } from '../reactor/errors';
import * as io from '../reactor/io';
import type { ReactorIo } from '../reactor/io';

/** A file queued with sendFile(); with no bytes, a marker that settles when the queue reaches it (flushed()). */
export interface FileSend {
  fd: number;
  /** Opened by sendFile() from a path, so closed when done. */
  owned: boolean;
  offset: number;
  remaining: number;
  sent: number;
  resolve: (sent: number) => void;
  reject: (err: Error) => void;
}

export type Item = Uint8Array | FileSend;

export class WriteQueue {
  /** Bytes queued and not yet taken by the kernel, file bytes included. */
  size = 0;
  protected items: Item[] = [];

  get empty(): boolean {
    return this.items.length === 0;
  }

  push(chunk: Uint8Array): void {
    this.items.push(chunk);
    this.size += chunk.byteLength;
  }

  pushFile(file: FileSend): void {
    this.items.push(file);
    this.size += file.remaining;
  }

  /** The writing side ends after what is queued. Plain TCP has nothing to add before the FIN; TLS queues close_notify (tlsWriteQueue.ts). */
  end(): void {}

  /**
   * Queues a file: a path (opened here, closed once sent) or an open fd
   * (left open); `length` defaults to the rest of the file from `offset`.
   * Resolves with the bytes sent.
   */
  pushFileFrom(file: string | number, offset: number, length: number | undefined): Promise<number> {
    const owned = typeof file !== 'number';
    let fd: number;
    try {
      fd = owned ? fs.openSync(file, 'r') : file;
    } catch (err) {
      return Promise.reject(err);
    }
    if (length === undefined) {
      try {
        length = Math.max(0, fs.fstatSync(fd).size - offset);
      } catch (err) {
        if (owned) fs.closeSync(fd);
        return Promise.reject(err);
      }
    }
    const remaining = length;
    return new Promise<number>((resolve, reject) => this.pushFile({ fd, owned, offset, remaining, sent: 0, resolve, reject }));
  }

  /**
   * Sends what the kernel takes, in order. Returns the bytes sent (the queue
   * is left non-empty when the socket would block), or the error when
   * sending failed: the caller closes the connection. `sys` is the
   * connection's reactor's way of sending (`reactor.io`).
   */
  flush(fd: number, sys: ReactorIo): number | SystemError {
    const items = this.items;
    let total = 0;
    while (items.length > 0) {
      const head = items[0];
      if (!(head instanceof Uint8Array)) {
        const r = this.sendFileStep(fd, head, sys);
        if (typeof r !== 'number') return r;
        if (r < 0) return total; // EAGAIN
        total += r;
        if (head.remaining > 0) return total; // the kernel's buffer is full
        continue;
      }
      let attempted: number;
      let r: number;
      if (items.length === 1 || !(items[1] instanceof Uint8Array)) {
        attempted = head.byteLength;
        r = sys.write(fd, head);
      } else {
        const chunks: Uint8Array[] = [];
        attempted = 0;
        for (let i = 0; i < items.length && i < io.limits.iovMax; i++) {
          const item = items[i];
          if (!(item instanceof Uint8Array)) break;
          chunks.push(item);
          attempted += item.byteLength;
        }
        r = sys.writev(fd, chunks);
      }
      if (r < 0) return r === EAGAIN ? total : errnoException(r, 'write');
      this.consume(r);
      total += r;
      if (r < attempted) break;
    }
    return total;
  }

  /** Empties the queue; files still queued are settled with `error`. */
  clear(error: Error | null): void {
    const items = this.items;
    this.items = [];
    this.size = 0;
    for (const item of items) {
      if (!(item instanceof Uint8Array)) {
        settle(item, error ?? rxnetError(Error, 'ERR_RXNET_CLOSED', 'The connection closed before the file was sent'));
      }
    }
  }

  protected consume(n: number): void {
    this.size -= n;
    const items = this.items;
    let i = 0;
    while (n > 0) {
      const head = items[i] as Uint8Array;
      if (n >= head.byteLength) {
        n -= head.byteLength;
        i++;
      } else {
        items[i] = head.subarray(n);
        n = 0;
      }
    }
    // Everything taken (the usual case): no splice. One chunk (the usual
    // case of that) is popped: assigning `length` goes through V8's slow
    // accessor path, which showed in the per-connection profile.
    // (The array itself stays: flush loops hold it.)
    if (i === items.length) {
      if (i === 1) items.pop();
      else items.length = 0;
    } else if (i > 0) items.splice(0, i);
  }

  /**
   * One file, as far as the kernel takes it. Returns the bytes sent, EAGAIN
   * when none could be, or the error (the file's promise is rejected with it
   * and it leaves the queue). A finished file leaves the queue.
   */
  private sendFileStep(fd: number, f: FileSend, sys: ReactorIo): number | SystemError {
    let total = 0;
    while (f.remaining > 0) {
      const r = sys.sendfile(fd, f.fd, f.offset, Math.min(f.remaining, io.limits.sendfileMax));
      if (r < 0) {
        if (r === EAGAIN) return total > 0 ? total : EAGAIN;
        const error = errnoException(r, 'sendfile');
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
    }
    this.items.shift();
    settle(f, null);
    return total;
  }
}

export function settle(f: FileSend, error: Error | null): void {
  if (f.owned) fs.closeSync(f.fd);
  if (error) f.reject(error);
  else f.resolve(f.sent);
}
