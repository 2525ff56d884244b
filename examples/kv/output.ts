/**
 * Replies on their way out: encoded as they are produced, written under
 * backpressure, in bounded memory whatever their size.
 *
 * - Small replies (status lines, integers, bulk strings up to COPY_MAX) are
 *   encoded into a shared slab and handed to the connection as one batch: at
 *   the end of a session's step, or whenever the slab is full. A full slab
 *   is replaced, never regrown or copied (bytes handed out are never
 *   overwritten, as in Node's Buffer pool).
 * - Larger bulk strings go out by reference: the stored Buffer itself is
 *   written, not a copy; past SLICE they are written a slice at a time.
 * - Arrays are encoded element by element. When the connection's output
 *   reaches its high-water mark the rest waits, as references, for drain$:
 *   an MGET of five 16 MB values or a KEYS of a million keys never sits in
 *   memory encoded, and never exceeds the connection's maxBufferedBytes.
 *
 * One slab serves every connection: JavaScript runs one session's step at a
 * time, and each step flushes its batch before returning.
 */
import { ErrorReply, Raw, Replies, SimpleString, type Reply } from './resp';

/** Where replies go: a Connection, or anything with its write/backpressure surface. */
export interface Sink {
  /** Queues bytes; false once bufferedAmount reaches highWaterMark. */
  write(chunk: Uint8Array): boolean;
  readonly bufferedAmount: number;
  readonly highWaterMark: number;
  readonly closed: boolean;
}

const SLAB_SIZE = 64 * 1024;
/** Bulk strings up to this long are copied into the slab; longer ones are written by reference. */
export const COPY_MAX = 4 * 1024;
/** A bulk string longer than this is written in slices, each only while below the high-water mark. */
export const SLICE = 4 * 1024 * 1024;
/** Room for a `$<length>\r\n` or `:<integer>\r\n` line: prefix, sign, 20 digits, CRLF. */
const NUMBER_LINE = 24;
const CR = 0x0d;
const LF = 0x0a;

const OK_BYTES = Buffer.from('+OK\r\n');
const NIL_BYTES = Buffer.from('$-1\r\n');
const PONG_BYTES = Buffer.from('+PONG\r\n');
const EMPTY_ARRAY_BYTES = Buffer.from('*0\r\n');

type Latin1Write = (this: Buffer, text: string, offset: number, length: number) => number;
const nativeLatin1Write = (Buffer.prototype as unknown as { latin1Write?: Latin1Write }).latin1Write;
/** `buf.write(text, at, 'latin1')`, without write()'s argument juggling when Node exposes latin1Write. */
const writeLatin1: (buf: Buffer, text: string, at: number) => number =
  nativeLatin1Write === undefined ? (buf, text, at) => buf.write(text, at, 'latin1') : (buf, text, at) => nativeLatin1Write.call(buf, text, at, text.length);

/** The shared encoding buffer; see the file comment. */
class Slab {
  buf = Buffer.allocUnsafe(SLAB_SIZE);
  /** The batch being built is buf[mark, pos), for `sink`. */
  mark = 0;
  pos = 0;
  sink: Sink | null = null;

  attach(sink: Sink): void {
    if (this.sink === sink) return;
    this.flush();
    this.sink = sink;
  }

  detach(): void {
    this.flush();
    this.sink = null;
  }

  /** Hands the batch to the sink. */
  flush(): void {
    if (this.pos === this.mark) return;
    const batch = this.buf.subarray(this.mark, this.pos);
    this.mark = this.pos;
    this.sink!.write(batch);
  }

  /** Makes room for n more bytes (n <= SLAB_SIZE): a full slab is flushed and replaced. */
  reserve(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    this.flush();
    this.buf = Buffer.allocUnsafe(SLAB_SIZE);
    this.mark = this.pos = 0;
  }

  copy(bytes: Uint8Array, from: number, to: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (to - from <= 32) {
      for (let i = from; i < to; i++) buf[pos++] = bytes[i];
    } else {
      buf.set(bytes.subarray(from, to), pos);
      pos += to - from;
    }
    this.pos = pos;
  }

  /** A non-negative safe integer in decimal; room is reserved. */
  digits(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = 0x30 + n;
      return;
    }
    let width = 1;
    for (let p = 10; p <= n && width < 16; p *= 10) width++;
    if (width >= 16) {
      this.pos += writeLatin1(buf, String(n), this.pos);
      return;
    }
    let at = this.pos + width;
    this.pos = at;
    do {
      buf[--at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  crlf(): void {
    this.buf[this.pos++] = CR;
    this.buf[this.pos++] = LF;
  }
}

const slab = new Slab();

/** What is left to write of an array (or of a run of replies). */
class ArrayFrame {
  i = 0;
  constructor(readonly items: readonly Reply[]) {}
}

/** What is left to write of a big bulk string: bytes[at, end), then CRLF. */
class BulkFrame {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
  ) {}
}

/**
 * One connection's reply stream. Between {@link begin} and {@link end} (one
 * step of its session) replies are encoded into the shared slab; a reply
 * that does not fit under the high-water mark is left pending
 * ({@link busy}) and continued by {@link pump} after the next drain.
 */
export class Output {
  private readonly frames: Array<ArrayFrame | BulkFrame> = [];
  /** Pushed messages (pub/sub) that arrived while a reply was pending: they go out after it. */
  private deferred: Uint8Array[] | null = null;
  private deferredBytes = 0;
  /** Inside pump(): a nested array only pushes its frame (no recursion per nesting). */
  private pumping = false;

  constructor(readonly sink: Sink) {}

  /** True while a reply is only partly written. */
  get busy(): boolean {
    return this.frames.length > 0;
  }

  /** Bytes waiting: queued on the connection, in the slab's batch, and deferred here. */
  get pendingBytes(): number {
    return this.sink.bufferedAmount + (slab.sink === this.sink ? slab.pos - slab.mark : 0) + this.deferredBytes;
  }

  /** Starts a step: replies go to this connection's batch. */
  begin(): void {
    slab.attach(this.sink);
  }

  /** Ends a step: the batch is handed to the connection. */
  end(): void {
    if (slab.sink === this.sink) slab.detach();
  }

  /** Drops what this step encoded and anything pending (the connection is being dropped). */
  discard(): void {
    if (slab.sink === this.sink) slab.pos = slab.mark;
    this.frames.length = 0;
    this.deferred = null;
    this.deferredBytes = 0;
  }

  /**
   * True when the session must stop producing replies: one is still
   * pending, or the output reached the high-water mark (the batch is then
   * flushed, so a drain$ will follow).
   */
  blocked(): boolean {
    if (this.frames.length > 0) return true;
    const sink = this.sink;
    // A closed connection takes no more bytes (its queue is empty): the
    // session notices closed$, and at worst answers the rest of a chunk to nobody.
    if (slab.pos - slab.mark + sink.bufferedAmount < sink.highWaterMark) return false;
    slab.flush();
    return true;
  }

  // ---- the hot path: no Reply objects -------------------------------------------

  /** Pre-encoded bytes (a constant reply). */
  raw(bytes: Uint8Array): void {
    if (bytes.length > COPY_MAX) {
      slab.flush();
      this.sink.write(bytes);
      return;
    }
    slab.reserve(bytes.length);
    slab.copy(bytes, 0, bytes.length);
  }

  ok(): void {
    this.raw(OK_BYTES);
  }

  nil(): void {
    this.raw(NIL_BYTES);
  }

  /** A bulk string: bytes[from, to). Long ones are written by reference: do not modify them afterwards. */
  bulk(bytes: Uint8Array, from = 0, to = bytes.length): void {
    const n = to - from;
    slab.reserve(Math.min(n, COPY_MAX + 1) + NUMBER_LINE);
    slab.buf[slab.pos++] = 0x24; // $
    slab.digits(n);
    slab.crlf();
    if (n <= COPY_MAX) {
      slab.copy(bytes, from, to);
      slab.crlf();
      return;
    }
    slab.flush();
    if (n <= SLICE) {
      this.sink.write(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
      slab.reserve(2);
      slab.crlf();
      return;
    }
    this.frames.push(new BulkFrame(bytes.subarray(from, to), 0));
    if (!this.pumping) this.pump();
  }

  /** An integer reply. */
  integer(value: number | bigint): void {
    slab.reserve(NUMBER_LINE);
    slab.buf[slab.pos++] = 0x3a; // :
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      if (value < 0) {
        slab.buf[slab.pos++] = 0x2d;
        value = -value;
      }
      slab.digits(value);
    } else {
      slab.pos += writeLatin1(slab.buf, String(value), slab.pos);
    }
    slab.crlf();
  }

  /** A bulk string given as latin1 text (one char per byte). */
  text(value: string): void {
    const n = value.length;
    if (n > COPY_MAX) return this.bulk(Buffer.from(value, 'latin1'));
    slab.reserve(n + NUMBER_LINE);
    slab.buf[slab.pos++] = 0x24;
    slab.digits(n);
    slab.crlf();
    slab.pos += writeLatin1(slab.buf, value, slab.pos);
    slab.crlf();
  }

  /** Any reply. Arrays are written as far as the high-water mark allows; see {@link busy}. */
  reply(reply: Reply): void {
    if (reply === null) return this.nil();
    if (Buffer.isBuffer(reply)) return this.bulk(reply);
    if (typeof reply === 'number' || typeof reply === 'bigint') return this.integer(reply);
    if (typeof reply === 'string') return this.text(reply);
    if (reply instanceof SimpleString) return reply.value === 'OK' ? this.ok() : reply.value === 'PONG' ? this.raw(PONG_BYTES) : this.line(0x2b, reply.value);
    if (reply instanceof ErrorReply) return this.line(0x2d, reply.message);
    if (reply instanceof Raw) return this.raw(reply.bytes);
    if (reply instanceof Replies) {
      if (reply.items.length === 0) return;
      this.frames.push(new ArrayFrame(reply.items));
      if (!this.pumping) this.pump();
      return;
    }
    if (reply.length === 0) return this.raw(EMPTY_ARRAY_BYTES);
    slab.reserve(NUMBER_LINE);
    slab.buf[slab.pos++] = 0x2a; // *
    slab.digits(reply.length);
    slab.crlf();
    this.frames.push(new ArrayFrame(reply));
    if (!this.pumping) this.pump();
  }

  /**
   * Continues the pending reply until it is written or the output reaches
   * the high-water mark. @returns true when nothing is pending any more.
   */
  pump(): boolean {
    this.pumping = true;
    try {
      return this.pumpFrames();
    } finally {
      this.pumping = false;
    }
  }

  private pumpFrames(): boolean {
    const frames = this.frames;
    const sink = this.sink;
    while (frames.length > 0) {
      if (sink.closed) return false;
      if (slab.pos - slab.mark + sink.bufferedAmount >= sink.highWaterMark) {
        slab.flush();
        return false;
      }
      const frame = frames[frames.length - 1];
      if (frame instanceof BulkFrame) {
        const n = Math.min(SLICE, frame.bytes.length - frame.at);
        slab.flush();
        sink.write(frame.bytes.subarray(frame.at, frame.at + n));
        frame.at += n;
        if (frame.at === frame.bytes.length) {
          frames.pop();
          slab.reserve(2);
          slab.crlf();
        }
        continue;
      }
      if (frame.i === frame.items.length) {
        frames.pop();
        continue;
      }
      // reply() may push a frame for a nested array: it is continued first.
      this.reply(frame.items[frame.i++]);
    }
    if (this.deferred !== null) {
      const deferred = this.deferred;
      this.deferred = null;
      this.deferredBytes = 0;
      slab.flush();
      for (const chunk of deferred) sink.write(chunk);
    }
    return true;
  }

  /**
   * Writes pushed bytes (a pub/sub message) now, or after the pending reply
   * if there is one. Never called during this connection's own step.
   */
  push(chunks: readonly Uint8Array[]): void {
    if (this.frames.length > 0) {
      this.deferred ??= [];
      for (const chunk of chunks) {
        this.deferred.push(chunk);
        this.deferredBytes += chunk.length;
      }
      return;
    }
    for (const chunk of chunks) this.sink.write(chunk);
  }

  /** A status (`+`) or error (`-`) line: latin1, each CR or LF turned into a space as Redis does. */
  private line(prefix: number, text: string): void {
    if (text.includes('\r') || text.includes('\n')) text = text.replace(/[\r\n]/g, ' ');
    const n = text.length + 3;
    if (n > COPY_MAX) {
      const bytes = Buffer.allocUnsafe(n);
      bytes[0] = prefix;
      writeLatin1(bytes, text, 1);
      bytes[n - 2] = CR;
      bytes[n - 1] = LF;
      return this.raw(bytes);
    }
    slab.reserve(n);
    slab.buf[slab.pos++] = prefix;
    slab.pos += writeLatin1(slab.buf, text, slab.pos);
    slab.crlf();
  }
}

/** A sink that keeps everything: for encode() and tests. */
class Collector implements Sink {
  readonly chunks: Uint8Array[] = [];
  readonly highWaterMark = Infinity;
  readonly closed = false;
  bufferedAmount = 0;
  write(chunk: Uint8Array): boolean {
    // The slab may be reused by later batches only past what was handed out; copy anyway for clarity.
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
}

/** Encodes a reply as RESP2 bytes (for tests and pre-encoded messages). */
export function encode(reply: Reply): Buffer {
  const collector = new Collector();
  const out = new Output(collector);
  const previous = slab.sink;
  if (previous !== null) slab.flush();
  slab.sink = collector;
  try {
    out.reply(reply);
    slab.flush();
  } finally {
    slab.sink = previous;
  }
  return Buffer.concat(collector.chunks);
}
