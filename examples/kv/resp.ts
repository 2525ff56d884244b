/**
 * RESP2, the Redis wire protocol: an incremental, bounded request parser and
 * a reply encoder.
 *
 * Requests are arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or
 * inline commands (`PING\r\n`, what nc and redis-benchmark's inline tests
 * send). The parser takes bytes as they arrive, in chunks split anywhere,
 * and never holds more than the command being read: every length is checked
 * against the limits as soon as its header is read, before its bytes are
 * buffered.
 */
import { Observable, type OperatorFunction } from 'rxjs';

/** Bad input: the connection gets `-ERR Protocol error: ...` and is closed, as Redis does. */
export class RespProtocolError extends Error {
  constructor(detail: string) {
    super(`Protocol error: ${detail}`);
    this.name = 'RespProtocolError';
  }
}

/** What one request may cost. */
export interface RespLimits {
  /** Longest bulk string (Redis' proto-max-bulk-len is 512 MB; ours is smaller). */
  maxBulkLength: number;
  /** Most arguments in one request (each costs a Buffer object on top of its bytes). */
  maxArgs: number;
  /** Longest inline command or header line (Redis: 64 KiB). */
  maxInlineLength: number;
  /** Most argument bytes in one request, all bulks together. */
  maxRequestBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RespLimits> = Object.freeze({
  maxBulkLength: 16 * 1024 * 1024,
  maxArgs: 64 * 1024,
  maxInlineLength: 64 * 1024,
  maxRequestBytes: 64 * 1024 * 1024,
});

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const EMPTY = Buffer.alloc(0);
type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;

/**
 * `buf.toString('latin1', start, end)` (one char per byte: how keys become
 * Map keys). Calls Node's `latin1Slice` when it has one: toString's argument
 * and encoding handling cost as much as making the string of a short key.
 */
export const latin1: (buf: Buffer, start: number, end: number) => string =
  nativeLatin1 === undefined ? (buf, start, end) => buf.toString('latin1', start, end) : (buf, start, end) => nativeLatin1.call(buf, start, end);

/** Most arguments a request may have to take the parser's fast path (GET, SET, MGET of a few keys...). */
const FAST_ARGS = 32;

/**
 * Turns a byte stream into requests (arrays of arguments).
 *
 * Arguments are views of the pushed chunks (or of the parser's own buffer
 * when a request spans chunks), which stay valid: bytes already handed out
 * are never overwritten. Copy what you keep beyond the chunk's life.
 *
 * @example
 * const parser = new RespParser();
 * parser.push(chunk);
 * for (let args; (args = parser.next()) !== null; ) handle(args);
 */
export class RespParser {
  private readonly limits: RespLimits;
  // Unconsumed input is data[start, end). `owned`: data is ours to append
  // into (a chunk pushed by the caller is not).
  private data: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  private owned = false;
  // Where to resume looking for a line end, so a slow line is scanned once.
  private scanFrom = 0;
  // The array request being read: its arguments so far, how many are still
  // missing, and the length of the current bulk (-1: its `$` header is next).
  private args: Buffer[] | null = null;
  private missing = 0;
  private bulk = -1;
  private requestBytes = 0;
  /**
   * After {@link nextRequest} returned n > 0: argument i is
   * `argData[argOffsets[2 * i], argOffsets[2 * i + 1])`.
   */
  argData: Buffer = EMPTY;
  readonly argOffsets = new Int32Array(2 * FAST_ARGS);
  /** After {@link nextRequest} returned -1: the request, as views. */
  argList: Buffer[] = [];

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes received and not yet parsed into a complete request. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Adds received bytes; call {@link next} until it returns null. */
  push(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, n);
    const pending = this.end - this.start;
    if (pending === 0) {
      // The common case: parse straight from the chunk, no copy.
      this.data = bytes;
      this.start = this.scanFrom = 0;
      this.end = n;
      this.owned = false;
      return;
    }
    if (!this.owned || this.data.length - this.end < n) {
      // Grow by doubling (linear total copying however the input is split),
      // into a fresh buffer: views handed out earlier stay intact.
      const grown = Buffer.allocUnsafe(Math.max(2 * (pending + n), 4096));
      this.data.copy(grown, 0, this.start, this.end);
      this.scanFrom -= this.start;
      this.data = grown;
      this.start = 0;
      this.end = pending;
      this.owned = true;
    }
    bytes.copy(this.data, this.end);
    this.end += n;
  }

  /**
   * The next complete request, or null until more bytes arrive. Empty
   * requests (`*0`, blank lines) are skipped.
   * @throws RespProtocolError on malformed or oversized input; the parser
   *   is unusable afterwards (the connection is closed anyway).
   */
  next(): Buffer[] | null {
    const n = this.nextRequest();
    if (n === 0) return null;
    if (n < 0) return this.argList;
    const args = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) args[i] = this.argData.subarray(this.argOffsets[2 * i], this.argOffsets[2 * i + 1]);
    return args;
  }

  /**
   * {@link next} without allocating in the common case, for servers: the
   * next request's argument count n, its arguments left in
   * {@link argData}/{@link argOffsets} (no Buffer per argument); -1 when the
   * request came the general way, as views in {@link argList}; 0 until more
   * bytes arrive.
   * @throws RespProtocolError as {@link next} does.
   */
  nextRequest(): number {
    if (this.args === null && this.start < this.end && this.data[this.start] === STAR) {
      const n = this.scanWhole();
      if (n > 0) return n;
    }
    const args = this.nextGeneral();
    if (args === null) return 0;
    this.argList = args;
    return -1;
  }

  /**
   * The fast path: a multibulk request wholly in the buffer, every header
   * `*N` / `$N` in canonical form and within the limits, at most FAST_ARGS
   * arguments. Consumes it and returns its argument count, or returns 0
   * having changed nothing: the general path then decides (waits for more
   * bytes, or refuses the input with the right error).
   */
  private scanWhole(): number {
    const d = this.data;
    const end = this.end;
    const offsets = this.argOffsets;
    const { maxArgs, maxBulkLength, maxRequestBytes } = this.limits;
    let i = this.start + 1;
    let count = 0;
    const countFrom = i;
    for (; i < end; i++) {
      const digit = d[i] - 0x30;
      if (digit < 0 || digit > 9) break;
      count = count * 10 + digit;
    }
    if (i === countFrom || i - countFrom > 9 || i + 1 >= end || d[i] !== CR || d[i + 1] !== LF) return 0;
    if (count === 0 || count > FAST_ARGS || count > maxArgs) return 0;
    i += 2;
    let total = 0;
    for (let a = 0; a < count; a++) {
      if (i >= end || d[i] !== DOLLAR) return 0;
      i++;
      const lengthFrom = i;
      let length = 0;
      for (; i < end; i++) {
        const digit = d[i] - 0x30;
        if (digit < 0 || digit > 9) break;
        length = length * 10 + digit;
      }
      if (i === lengthFrom || i - lengthFrom > 9 || i + 1 >= end || d[i] !== CR || d[i + 1] !== LF) return 0;
      if (length > maxBulkLength) return 0;
      total += length;
      if (total > maxRequestBytes) return 0;
      i += 2;
      const stop = i + length;
      if (stop + 2 > end || d[stop] !== CR || d[stop + 1] !== LF) return 0;
      offsets[2 * a] = i;
      offsets[2 * a + 1] = stop;
      i = stop + 2;
    }
    this.argData = d;
    this.consume(i - this.start);
    return count;
  }

  private nextGeneral(): Buffer[] | null {
    for (;;) {
      if (this.args === null) {
        if (this.start === this.end) return null;
        if (this.data[this.start] !== STAR) {
          const inline = this.inline();
          if (inline === null) return null;
          if (inline.length > 0) return inline;
          continue;
        }
        const count = this.headerLine('too big mbulk count string');
        if (count === undefined) return null;
        if (count === null || count > this.limits.maxArgs) throw new RespProtocolError('invalid multibulk length');
        if (count <= 0) continue;
        this.args = [];
        this.missing = count;
        this.bulk = -1;
        this.requestBytes = 0;
      }
      while (this.missing > 0) {
        if (this.bulk < 0) {
          if (this.start === this.end) return null;
          const first = this.data[this.start];
          if (first !== DOLLAR) throw new RespProtocolError(`expected '$', got '${String.fromCharCode(first)}'`);
          const length = this.headerLine('too big bulk count string');
          if (length === undefined) return null;
          if (length === null || length < 0 || length > this.limits.maxBulkLength) throw new RespProtocolError('invalid bulk length');
          this.requestBytes += length;
          if (this.requestBytes > this.limits.maxRequestBytes) {
            throw new RespProtocolError(`request larger than ${this.limits.maxRequestBytes} bytes`);
          }
          this.bulk = length;
        }
        if (this.end - this.start < this.bulk + 2) return null;
        const at = this.start + this.bulk;
        if (this.data[at] !== CR || this.data[at + 1] !== LF) throw new RespProtocolError('expected CRLF after bulk string');
        this.args!.push(this.data.subarray(this.start, at));
        this.consume(this.bulk + 2);
        this.bulk = -1;
        this.missing--;
      }
      const args = this.args!;
      this.args = null;
      return args;
    }
  }

  /** Index of the next LF in the unconsumed input, or -1. */
  private lineEnd(): number {
    // An owned buffer has spare room past `end`: search only what was received.
    const received = this.owned ? this.data.subarray(0, this.end) : this.data;
    const at = received.indexOf(LF, Math.max(this.scanFrom, this.start));
    if (at < 0) this.scanFrom = this.end;
    return at;
  }

  private consume(n: number): void {
    this.start += n;
    this.scanFrom = this.start;
    if (this.start === this.end && !this.owned) {
      // Drop the reference to a fully parsed chunk.
      this.data = EMPTY;
      this.start = this.end = this.scanFrom = 0;
    }
  }

  /**
   * Reads a `*N` or `$N` header line.
   * @returns N; null if it is not an integer; undefined while incomplete.
   */
  private headerLine(tooBig: string): number | null | undefined {
    const lf = this.lineEnd();
    if (lf < 0) {
      if (this.end - this.start > this.limits.maxInlineLength) throw new RespProtocolError(tooBig);
      return undefined;
    }
    const stop = lf > this.start && this.data[lf - 1] === CR ? lf - 1 : lf;
    const value = parseDecimal(this.data, this.start + 1, stop);
    this.consume(lf + 1 - this.start);
    return value;
  }

  /** Reads an inline command: @returns its words, or null while incomplete. */
  private inline(): Buffer[] | null {
    const lf = this.lineEnd();
    if (lf < 0) {
      if (this.end - this.start > this.limits.maxInlineLength) throw new RespProtocolError('too big inline request');
      return null;
    }
    const line = this.data.toString('latin1', this.start, lf);
    this.consume(lf + 1 - this.start);
    const words = splitInline(line);
    if (words === null) throw new RespProtocolError('unbalanced quotes in request');
    return words.map((w) => Buffer.from(w, 'latin1'));
  }
}

/** A decimal integer in buf[from, to): an optional '-' and at most 18 digits; else null. */
function parseDecimal(buf: Buffer, from: number, to: number): number | null {
  let i = from;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i === to || to - i > 18) return null;
  let n = 0;
  for (; i < to; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' };

/**
 * Splits an inline command into words like redis-cli and Redis do
 * (sdssplitargs): blanks separate words; "double quotes" allow \n \r \t \b
 * \a \xHH and \" escapes, 'single quotes' allow \'; a closing quote must be
 * followed by a blank.
 * @returns the words (latin1 strings, one char per byte), or null for unbalanced quotes.
 */
export function splitInline(line: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  const blank = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\v' || c === '\f';
  for (;;) {
    while (i < n && blank(line[i])) i++;
    if (i >= n) return words;
    let word = '';
    const quote = line[i] === '"' || line[i] === "'" ? line[i++] : '';
    for (;;) {
      if (quote === '') {
        if (i >= n || blank(line[i])) break;
        word += line[i++];
        continue;
      }
      if (i >= n) return null;
      const c = line[i];
      if (c === quote) {
        if (i + 1 < n && !blank(line[i + 1])) return null;
        i++;
        break;
      }
      if (c === '\\' && i + 1 < n) {
        const e = line[i + 1];
        if (quote === '"' && e === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
          word += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
          continue;
        }
        if (quote === '"' || e === "'") {
          word += quote === '"' ? (ESCAPES[e] ?? e) : e;
          i += 2;
          continue;
        }
      }
      word += c;
      i++;
    }
    words.push(word);
  }
}

/**
 * Requests parsed from a connection's bytes: emits each complete request,
 * in order, as soon as its last byte arrives; errors with
 * RespProtocolError on bad input. A request cut off by the end of input is
 * dropped, as Redis drops it when a client goes away.
 *
 * @example
 * serve(options, (conn) => conn.data$.pipe(respRequests(), map(execute)));
 */
export function respRequests(limits: Partial<RespLimits> = {}): OperatorFunction<Uint8Array, Buffer[]> {
  return (source) =>
    new Observable<Buffer[]>((subscriber) => {
      const parser = new RespParser(limits);
      return source.subscribe({
        next(chunk) {
          parser.push(chunk);
          for (;;) {
            let args: Buffer[] | null;
            try {
              args = parser.next();
            } catch (err) {
              subscriber.error(err);
              return;
            }
            if (args === null || subscriber.closed) return;
            subscriber.next(args);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

// ---- replies ---------------------------------------------------------------

/** `+OK`: a status line (no CR or LF inside). */
export class SimpleString {
  constructor(readonly value: string) {}
}

/** `-ERR ...`: an error reply; `message` starts with its code (ERR, NOPROTO, ...). */
export class ErrorReply {
  constructor(readonly message: string) {}
}

/**
 * A reply: integers are numbers or bigints, bulk strings Buffers or
 * strings (UTF-8), null is the nil bulk string, arrays nest.
 */
export type Reply = SimpleString | ErrorReply | number | bigint | Buffer | string | null | readonly Reply[];

export const OK = new SimpleString('OK');
export const PONG = new SimpleString('PONG');

/** Pre-encoded constant replies: answering them copies bytes, it never formats. */
export const OK_BYTES = Buffer.from('+OK\r\n');
export const NIL_BYTES = Buffer.from('$-1\r\n');
const PONG_BYTES = Buffer.from('+PONG\r\n');
const EMPTY_ARRAY_BYTES = Buffer.from('*0\r\n');

/** Room reserved for a `$<length>\r\n` or `:<integer>\r\n` line: sign, 20 digits, prefix and CRLF. */
const NUMBER_LINE = 24;
/** Values up to this long are copied byte by byte; longer ones with one native copy. */
const SMALL_COPY = 32;

/**
 * Encodes replies into shared slabs and hands them out in batches: one
 * Buffer for all the replies to one chunk of pipelined requests, so a
 * server writes once per chunk, not once per request, and encoding
 * allocates nothing per reply (no template strings, no Buffer.concat).
 *
 * Like Node's Buffer pool, bytes handed out are never overwritten: a batch
 * is a view of the slab, and a full slab is replaced, not reused.
 */
export class ReplyWriter {
  private slab: Buffer;
  /** The batch being built is slab[mark, pos). */
  private mark = 0;
  private pos = 0;

  constructor(private readonly slabSize = 64 * 1024) {
    this.slab = Buffer.allocUnsafe(slabSize);
  }

  /** Bytes encoded since the last {@link take}. */
  get length(): number {
    return this.pos - this.mark;
  }

  /** The replies encoded since the last call, as one Buffer (empty if none). */
  take(): Buffer {
    if (this.pos === this.mark) return EMPTY;
    const batch = this.slab.subarray(this.mark, this.pos);
    this.mark = this.pos;
    // An oversized slab (a huge reply) is not kept for small ones: it would
    // stay alive as long as any of them.
    if (this.slab.length > this.slabSize) this.newSlab(0);
    return batch;
  }

  /** Makes room for n more bytes in the batch, moving it to a new slab if need be. */
  private reserve(n: number): void {
    if (this.slab.length - this.pos >= n) return;
    this.newSlab(n);
  }

  private newSlab(n: number): void {
    const batch = this.pos - this.mark;
    const slab = Buffer.allocUnsafe(Math.max(this.slabSize, batch + n));
    if (batch > 0) this.slab.copy(slab, 0, this.mark, this.pos);
    this.slab = slab;
    this.mark = 0;
    this.pos = batch;
  }

  /** Appends bytes as they are (a pre-encoded reply). */
  raw(bytes: Buffer): void {
    this.reserve(bytes.length);
    this.copyIn(bytes, 0, bytes.length);
  }

  /** `+OK`. */
  ok(): void {
    this.raw(OK_BYTES);
  }

  /** The nil bulk string. */
  nil(): void {
    this.raw(NIL_BYTES);
  }

  /** A bulk string: `bytes[from, to)`. */
  bulk(bytes: Buffer, from = 0, to = bytes.length): void {
    const n = to - from;
    this.reserve(n + NUMBER_LINE);
    this.slab[this.pos++] = 0x24; // $
    this.digits(n);
    this.crlf();
    this.copyIn(bytes, from, to);
    this.crlf();
  }

  /** An integer reply. */
  integer(value: number | bigint): void {
    this.reserve(NUMBER_LINE);
    this.slab[this.pos++] = 0x3a; // :
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      if (value < 0) {
        this.slab[this.pos++] = 0x2d;
        value = -value;
      }
      this.digits(value);
    } else {
      this.pos += this.slab.write(String(value), this.pos, 'latin1');
    }
    this.crlf();
  }

  /** Any reply, as {@link encode} would encode it. */
  reply(reply: Reply): void {
    if (reply === null) return this.nil();
    if (reply === OK) return this.ok();
    if (Buffer.isBuffer(reply)) return this.bulk(reply);
    if (typeof reply === 'number' || typeof reply === 'bigint') return this.integer(reply);
    if (typeof reply === 'string') {
      const n = Buffer.byteLength(reply);
      this.reserve(n + NUMBER_LINE);
      this.slab[this.pos++] = 0x24;
      this.digits(n);
      this.crlf();
      this.pos += this.slab.write(reply, this.pos, n, 'utf8');
      return this.crlf();
    }
    if (reply === PONG) return this.raw(PONG_BYTES);
    // A status or error line ends at the first CR or LF: keep them out.
    if (reply instanceof SimpleString) return this.line(`+${reply.value.replace(/[\r\n]+/g, ' ')}\r\n`);
    if (reply instanceof ErrorReply) return this.line(`-${reply.message.replace(/[\r\n]+/g, ' ')}\r\n`);
    if (reply.length === 0) return this.raw(EMPTY_ARRAY_BYTES);
    this.line(`*${reply.length}\r\n`);
    for (const item of reply) this.reply(item);
  }

  /** A status, error or array header line (UTF-8, as Buffer.from encoded it). */
  private line(text: string): void {
    const n = Buffer.byteLength(text);
    this.reserve(n);
    this.pos += this.slab.write(text, this.pos, n, 'utf8');
  }

  /** A non-negative safe integer in decimal, then CRLF is up to the caller. Room is reserved. */
  private digits(n: number): void {
    const slab = this.slab;
    if (n < 10) {
      slab[this.pos++] = 0x30 + n;
      return;
    }
    let width = 1;
    for (let p = 10; p <= n && width < 16; p *= 10) width++;
    if (width >= 16) {
      this.pos += slab.write(String(n), this.pos, 'latin1');
      return;
    }
    let at = this.pos + width;
    this.pos = at;
    do {
      slab[--at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  private crlf(): void {
    this.slab[this.pos++] = CR;
    this.slab[this.pos++] = LF;
  }

  /** Copies bytes[from, to) to the batch; room is reserved. */
  private copyIn(bytes: Buffer, from: number, to: number): void {
    const slab = this.slab;
    let pos = this.pos;
    if (to - from <= SMALL_COPY) {
      for (let i = from; i < to; i++) slab[pos++] = bytes[i];
    } else {
      pos += bytes.copy(slab, pos, from, to);
    }
    this.pos = pos;
  }
}

const encoder = new ReplyWriter();

/** Encodes a reply as RESP2 bytes. */
export function encode(reply: Reply): Buffer {
  if (reply === null) return NIL_BYTES;
  if (reply === OK) return OK_BYTES;
  encoder.reply(reply);
  return encoder.take();
}
