/**
 * RESP2, the Redis wire protocol: an incremental, bounded request parser
 * that reads requests exactly as redis-server 7.0 does, and the reply types.
 *
 * Requests are arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or
 * inline commands (`PING\r\n`, what nc and redis-benchmark's inline tests
 * send). The parser takes bytes as they arrive, in chunks split anywhere,
 * and never holds more than the request being read: every length is checked
 * against the limits as soon as its header is read, before its bytes are
 * buffered.
 *
 * "Exactly as redis-server" means its quirks too (networking.c,
 * processMultibulkBuffer and processInlineBuffer): a header line ends at the
 * first CR and the byte after it is skipped whatever it is; the two bytes
 * after a bulk are skipped unchecked; lines are found with strchr(), so a NUL
 * byte before the line end hides it until the 64 KiB line limit refuses the
 * request; counts and lengths are read with string2ll (no leading zeros, no
 * `+`, no `-0`); a count of zero or below is an empty request, skipped.
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
  /** Longest inline command or header line (Redis: 64 KiB, PROTO_INLINE_MAX_SIZE). */
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
const NUL = 0x00;
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
  // A NUL found before any line end: strchr() stops there, so no line end
  // after it is ever seen (until the line limit refuses the request).
  private nulAt = -1;
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

  /** Bytes received and not yet parsed into a complete request: > 0 while a request is incomplete. */
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
      this.nulAt = -1;
      return;
    }
    if (!this.owned || this.data.length - this.end < n) {
      // Grow by doubling (linear total copying however the input is split),
      // into a fresh buffer: views handed out earlier stay intact.
      const grown = Buffer.allocUnsafe(Math.max(2 * (pending + n), 4096));
      this.data.copy(grown, 0, this.start, this.end);
      this.scanFrom -= this.start;
      if (this.nulAt >= 0) this.nulAt -= this.start;
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
   * requests (`*0`, `*-1`, blank lines) are skipped.
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
    if (this.args === null && this.start < this.end) {
      const n = this.data[this.start] === STAR ? this.scanWhole() : this.scanInline();
      if (n > 0) return n;
    }
    const args = this.nextGeneral();
    if (args === null) return 0;
    this.argList = args;
    return -1;
  }

  /**
   * The fast path: a multibulk request wholly in the buffer, every header
   * `*N` / `$N` in canonical form (no leading zero) ending in CRLF, every
   * bulk followed by CRLF, within the limits, at most FAST_ARGS arguments.
   * Consumes it and returns its argument count, or returns 0 having changed
   * nothing: the general path then decides (waits for more bytes, skips an
   * empty request, or refuses the input with the right error).
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
    if (i === countFrom || i - countFrom > 9 || d[countFrom] === 0x30 || i + 1 >= end || d[i] !== CR || d[i + 1] !== LF) return 0;
    if (count > FAST_ARGS || count > maxArgs) return 0;
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
      if (d[lengthFrom] === 0x30 && i - lengthFrom > 1) return 0;
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

  /**
   * The inline fast path: a whole line of at most FAST_ARGS plain words (no
   * quotes, no NUL, blanks only spaces and tabs) ending in LF or CRLF.
   * Consumes it and returns its word count with the words in argOffsets, or
   * returns 0 having changed nothing.
   */
  private scanInline(): number {
    // Find the line end first (remembered across calls, so a slow line is scanned once).
    const lf = this.find(LF);
    if (lf < 0) return 0;
    const d = this.data;
    const stop = lf > this.start && d[lf - 1] === CR ? lf - 1 : lf;
    const offsets = this.argOffsets;
    let n = 0;
    let wordFrom = -1;
    for (let i = this.start; i < stop; i++) {
      const c = d[i];
      if (c === 0x20 || c === 0x09) {
        if (wordFrom >= 0) {
          if (n === FAST_ARGS) return 0;
          offsets[2 * n] = wordFrom;
          offsets[2 * n + 1] = i;
          n++;
          wordFrom = -1;
        }
      } else if (c === 0x22 || c === 0x27 || c === CR || c === 0x0b || c === 0x0c) {
        // Quotes and the rarer blanks: the general path splits those.
        return 0;
      } else if (wordFrom < 0) {
        wordFrom = i;
      }
    }
    if (wordFrom >= 0) {
      if (n === FAST_ARGS) return 0;
      offsets[2 * n] = wordFrom;
      offsets[2 * n + 1] = stop;
      n++;
    }
    if (n === 0) return 0;
    this.argData = d;
    this.consume(lf + 1 - this.start);
    return n;
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
        if (count === null || count > 2147483647 || count > this.limits.maxArgs) throw new RespProtocolError('invalid multibulk length');
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
          const length = this.headerLine('too big bulk count string', true);
          if (length === undefined) return null;
          if (first !== DOLLAR) {
            // Redis formats the byte with %c, then turns CR and LF into spaces.
            const shown = first === CR || first === LF ? ' ' : String.fromCharCode(first);
            throw new RespProtocolError(`expected '$', got '${shown}'`);
          }
          if (length === null || length < 0 || length > this.limits.maxBulkLength) throw new RespProtocolError('invalid bulk length');
          this.requestBytes += length;
          if (this.requestBytes > this.limits.maxRequestBytes) {
            throw new RespProtocolError(`request larger than ${this.limits.maxRequestBytes} bytes`);
          }
          this.bulk = length;
        }
        if (this.end - this.start < this.bulk + 2) return null;
        // The two bytes after the bulk are skipped unchecked, as Redis does.
        this.args!.push(this.data.subarray(this.start, this.start + this.bulk));
        this.consume(this.bulk + 2);
        this.bulk = -1;
        this.missing--;
      }
      const args = this.args!;
      this.args = null;
      return args;
    }
  }

  /**
   * Index of the first `byte` in the unconsumed input, as strchr() finds it:
   * -1 if absent or if a NUL comes first.
   */
  private find(byte: number): number {
    if (this.nulAt >= 0) return -1;
    const from = Math.max(this.scanFrom, this.start);
    // An owned buffer has spare room past `end`: search only what was received.
    const received = this.owned ? this.data.subarray(0, this.end) : this.data;
    const at = received.indexOf(byte, from);
    const stop = at < 0 ? this.end : at;
    const d = this.data;
    for (let i = from; i < stop; i++) {
      if (d[i] === NUL) {
        this.nulAt = i;
        return -1;
      }
    }
    if (at < 0) this.scanFrom = this.end;
    return at;
  }

  private consume(n: number): void {
    this.start += n;
    this.scanFrom = this.start;
    this.nulAt = -1;
    if (this.start === this.end && !this.owned) {
      // Drop the reference to a fully parsed chunk.
      this.data = EMPTY;
      this.start = this.end = this.scanFrom = 0;
    }
  }

  /**
   * Reads a `*N` or `$N` header line: up to the first CR, plus the byte after it.
   * @returns N; null if it is not a valid integer (string2ll); undefined while incomplete.
   */
  private headerLine(tooBig: string, dollar = false): number | null | undefined {
    const cr = this.find(CR);
    if (cr < 0 || cr + 1 >= this.end) {
      if (this.end - this.start > this.limits.maxInlineLength) throw new RespProtocolError(tooBig);
      return undefined;
    }
    const first = this.data[this.start];
    const value = parseInt64Header(this.data, this.start + 1, cr);
    if (!dollar || first === DOLLAR) this.consume(cr + 2 - this.start);
    return value;
  }

  /** Reads an inline command: @returns its words, or null while incomplete. */
  private inline(): Buffer[] | null {
    const lf = this.find(LF);
    if (lf < 0) {
      if (this.end - this.start > this.limits.maxInlineLength) throw new RespProtocolError('too big inline request');
      return null;
    }
    const stop = lf > this.start && this.data[lf - 1] === CR ? lf - 1 : lf;
    const words = splitArgs(this.data, this.start, stop);
    if (words === null) throw new RespProtocolError('unbalanced quotes in request');
    this.consume(lf + 1 - this.start);
    return words;
  }
}

/**
 * A header's integer as Redis' string2ll reads buf[from, to): an optional
 * '-', then digits with no leading zero ("0" alone is fine), within int64,
 * shorter than 21 bytes.
 * @returns the value (a number: beyond 2^53 it is only ever compared with
 *   limits far below), or null if it is not one.
 */
function parseInt64Header(buf: Buffer, from: number, to: number): number | null {
  const n = to - from;
  if (n <= 0 || n >= 21) return null;
  if (n === 1 && buf[from] === 0x30) return 0;
  let i = from;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i === to || buf[i] < 0x31 || buf[i] > 0x39) return null;
  let value = 0;
  for (; i < to; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return null;
    value = value * 10 + d;
  }
  if (to - from > 15) {
    // Near int64's edges: decide exactly.
    const exact = BigInt(buf.toString('latin1', from, to));
    if (exact > 9223372036854775807n || exact < -9223372036854775808n) return null;
  }
  return negative ? -value : value;
}

const BLANKS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) BLANKS[c] = 1;
const ESCAPES: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07 };

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Splits an inline command line buf[from, to) into arguments the way Redis
 * does (sds.c, sdssplitargs): blanks separate words; a quote may open
 * anywhere in a word; "double quotes" allow \xHH and \n \r \t \b \a escapes
 * (any other escaped byte stands for itself), 'single quotes' allow only
 * \'; a closing quote must be followed by a blank or the end. The line
 * holds no NUL (the parser stops looking for its end at one).
 * @returns the arguments, or null for unbalanced quotes.
 */
export function splitArgs(buf: Uint8Array, from = 0, to = buf.length): Buffer[] | null {
  const words: Buffer[] = [];
  const at = (i: number) => (i < to ? buf[i] : NUL);
  let p = from;
  for (;;) {
    while (p < to && BLANKS[buf[p]]) p++;
    if (p >= to) return words;
    const word: number[] = [];
    let inq = false;
    let insq = false;
    for (let done = false; !done; ) {
      const c = at(p);
      if (inq) {
        if (c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          word.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && at(p + 1) !== NUL) {
          p++;
          word.push(ESCAPES[at(p)] ?? at(p));
        } else if (c === 0x22) {
          if (at(p + 1) !== NUL && !BLANKS[at(p + 1)]) return null;
          done = true;
        } else if (c === NUL) {
          return null;
        } else {
          word.push(c);
        }
      } else if (insq) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          word.push(0x27);
        } else if (c === 0x27) {
          if (at(p + 1) !== NUL && !BLANKS[at(p + 1)]) return null;
          done = true;
        } else if (c === NUL) {
          return null;
        } else {
          word.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === NUL) {
        done = true;
      } else if (c === 0x22) {
        inq = true;
      } else if (c === 0x27) {
        insq = true;
      } else {
        word.push(c);
      }
      if (at(p) !== NUL) p++;
    }
    words.push(Buffer.from(word));
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

/** `+OK`: a status line. Text is latin1 (one char per byte); CR and LF become spaces. */
export class SimpleString {
  constructor(readonly value: string) {}
}

/** `-ERR ...`: an error reply; `message` starts with its code (ERR, WRONGTYPE...); latin1 like SimpleString. */
export class ErrorReply {
  constructor(readonly message: string) {}
}

/** Bytes that are already RESP (`*-1\r\n`, a pre-encoded message). */
export class Raw {
  constructor(readonly bytes: Buffer) {}
}

/** Several replies in a row, not an array: SUBSCRIBE a b answers twice. */
export class Replies {
  constructor(readonly items: readonly Reply[]) {}
}

/**
 * A reply: integers are numbers or bigints, bulk strings Buffers or
 * latin1 strings (one char per byte), null is the nil bulk string, arrays nest.
 */
export type Reply = SimpleString | ErrorReply | Raw | Replies | number | bigint | Buffer | string | null | readonly Reply[];

export const OK = new SimpleString('OK');
export const PONG = new SimpleString('PONG');
export const QUEUED = new SimpleString('QUEUED');
/** `*-1`: the nil array (EXEC aborted by WATCH). */
export const NULL_ARRAY = new Raw(Buffer.from('*-1\r\n'));
