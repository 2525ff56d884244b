/**
 * Bytes of a frame in progress, for the framing operators. Appending grows
 * the buffer by doubling, so a frame dribbled in one byte at a time costs
 * linear time, not a Buffer.concat of everything so far per byte.
 * @internal
 */
export class Accumulator {
  private buf: Buffer | null = null;
  length = 0;

  append(chunk: Uint8Array): void {
    const need = this.length + chunk.byteLength;
    let buf = this.buf;
    if (buf === null || need > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, buf === null ? 256 : buf.length * 2));
      if (buf !== null) buf.copy(grown, 0, 0, this.length);
      this.buf = buf = grown;
    }
    buf.set(chunk, this.length);
    this.length = need;
  }

  /** The bytes held; valid until the next append() or consume(). */
  view(): Buffer {
    return this.buf === null ? Buffer.alloc(0) : this.buf.subarray(0, this.length);
  }

  /** A copy of bytes [start, end) for the caller to keep. */
  copy(start: number, end: number): Buffer {
    return Buffer.from(this.buf!.subarray(start, end));
  }

  /** Drops the first n bytes. */
  consume(n: number): void {
    if (n >= this.length) return this.clear();
    this.buf!.copyWithin(0, n, this.length);
    this.length -= n;
  }

  clear(): void {
    this.buf = null;
    this.length = 0;
  }
}
