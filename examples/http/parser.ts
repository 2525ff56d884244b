/**
 * An incremental HTTP/1.x request-head parser for the http example.
 *
 * Strict where leniency is a known attack surface (request smuggling, header
 * injection): CRLF line endings only, no whitespace before a header's colon,
 * no obsolete line folding, no control characters, one Host, consistent
 * Content-Length. Bodies are not parsed: the server only serves GET and HEAD,
 * so a request that announces a body is flagged (`hasBody`) for the caller to
 * refuse.
 *
 * Memory is bounded: an incomplete head is never buffered past
 * `maxHeadBytes`, and an over-long request-target is refused (414) as soon
 * as it is seen, before the rest of the head arrives.
 */

/** Size limits of a request head. */
export interface ParserLimits {
  /** The whole head, request line to blank line inclusive (default 8 KiB); beyond it: 431. */
  maxHeadBytes: number;
  /** The request-target (default 2 KiB); beyond it: 414. */
  maxTargetBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ParserLimits> = { maxHeadBytes: 8 * 1024, maxTargetBytes: 2 * 1024 };

/** One parsed request head. */
export interface HttpRequest {
  /** Case-sensitive, as sent (`GET`, `HEAD`, ...). */
  method: string;
  /** The request-target as sent (still percent-encoded). */
  target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Lower-cased names; a repeated field's values joined with ", ". */
  headers: Record<string, string>;
  /** Whether the connection may stay open after the response. */
  keepAlive: boolean;
  /** Content-Length > 0 or any Transfer-Encoding: a body follows the head. */
  hasBody: boolean;
}

/** A request the parser refuses; after one, the connection's input is out of sync and must be closed. */
export class RequestError {
  constructor(
    /** 400, 414, 431 or 505. */
    readonly status: 400 | 414 | 431 | 505,
    readonly message: string,
  ) {}
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
/** Longer than any real method; a longer first word is garbage, not a long URI. */
const MAX_METHOD = 32;
/** " HTTP/1.1\r" after the target, with room to spare. */
const MAX_VERSION_TAIL = 16;

// Byte classes, looked up instead of matched with regexps: parsing a head is
// the hot path of the server, and a table lookup per byte is far cheaper than
// a string split plus a regexp per line.
/** RFC 9110 token characters (methods, field names). */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
/** Field-value characters: HTAB, visible ASCII, SP and obs-text (0x80-0xff); no other controls. */
const VALUE = new Uint8Array(256);
VALUE[HTAB] = 1;
for (let c = 0x20; c < 0x7f; c++) VALUE[c] = 1;
for (let c = 0x80; c < 0x100; c++) VALUE[c] = 1;

/**
 * The headers object. Instances of a plain function get fast (hidden-class)
 * properties, where `Object.create(null)` objects start in V8's slow
 * dictionary mode (profiled: ~0.67 µs per keyed store against ~0.11 µs); and the prototype is
 * itself prototype-less, so a header named `constructor`, `toString` or
 * `__proto__` is just a header, as with `Object.create(null)`.
 */
const Fields = function Fields() {} as unknown as new () => Record<string, string>;
Fields.prototype = Object.create(null);

type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;
/**
 * `buf.toString('latin1', start, end)`: latin1 maps bytes 1:1 to UTF-16 code
 * units, so obs-text (0x80-0xff) in values survives for whoever reads it.
 * Calls Node's `latin1Slice` when it has one: toString's argument and
 * encoding handling cost as much as making a short string.
 */
const latin1: (buf: Buffer, start: number, end: number) => string =
  nativeLatin1 === undefined ? (buf, start, end) => buf.toString('latin1', start, end) : (buf, start, end) => nativeLatin1.call(buf, start, end);

/** Field names common enough to be worth recognising without allocating a string. */
const KNOWN_NAMES: readonly string[] = [
  'host', 'connection', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'content-length',
  'transfer-encoding', 'content-type', 'if-modified-since', 'if-none-match', 'if-range', 'range',
  'cache-control', 'upgrade', 'cookie', 'referer', 'origin', 'pragma', 'te', 'expect', 'authorization',
];
/** KNOWN_NAMES by length. */
const NAMES_BY_LENGTH: string[][] = [];
for (const name of KNOWN_NAMES) (NAMES_BY_LENGTH[name.length] ??= []).push(name);

/** `buf[at, at + lower.length)` equals `lower` ignoring ASCII case; the bytes are token characters. */
function sameName(buf: Buffer, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    // OR 0x20 lower-cases letters; the only token bytes it maps onto a
    // lowercase letter or '-' are that letter's two cases and '-' itself.
    if ((buf[at + i] | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The lower-cased field name in `buf[from, to)` (token characters only). */
function fieldName(buf: Buffer, from: number, to: number): string {
  const candidates = NAMES_BY_LENGTH[to - from];
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i++) if (sameName(buf, from, candidates[i])) return candidates[i];
  }
  return latin1(buf, from, to).toLowerCase();
}

/** Returned by {@link parseFrom} when `buf` ends before the blank line. */
const INCOMPLETE = null;
/** Where the head {@link parseFrom} last parsed successfully ends (after its blank line). */
let parsedEnd = 0;

/**
 * Parses one complete head: `buf[start, end)` runs from the request line to
 * the blank line inclusive, every line ending in CRLF (the reader checked).
 */
export function parseHead(buf: Buffer, start: number, end: number, limits: ParserLimits = DEFAULT_LIMITS): HttpRequest | RequestError {
  return parseFrom(buf, start, end, limits) ?? new RequestError(400, 'incomplete request head');
}

/**
 * Parses the head starting at `buf[start]`, reading no further than `stop`,
 * in one pass over the bytes (table lookups, no intermediate strings); on
 * success, {@link parsedEnd} is where the head ends. Checks, in order, what the reader's `checkRequestLine` and the request-line
 * grammar check (414, 400, 505), then each header line, then Host and
 * Content-Length.
 * @returns null (INCOMPLETE) if the blank line is not within `buf[start, stop)`.
 */
function parseFrom(buf: Buffer, start: number, stop: number, limits: ParserLimits): HttpRequest | RequestError | null {
  // ---- request line: METHOD SP TARGET SP HTTP/D.D CRLF
  let i = start;
  while (i < stop && TOKEN[buf[i]] === 1) i++;
  const sp1 = i;
  if (i === stop) return INCOMPLETE;
  if (buf[i] !== SP || i === start) return malformedRequestLine(buf, start, stop, limits);
  i++;
  while (i < stop && buf[i] > SP && buf[i] < 0x7f) i++;
  const sp2 = i;
  if (i === stop) return INCOMPLETE;
  if (sp2 - sp1 - 1 > limits.maxTargetBytes) return new RequestError(414, 'request-target too long');
  if (buf[i] !== SP || sp2 === sp1 + 1) return malformedRequestLine(buf, start, stop, limits);
  // "HTTP/D.D\r\n"
  if (sp2 + 11 > stop) return INCOMPLETE;
  const major = buf[sp2 + 6] - 0x30;
  const minor = buf[sp2 + 8] - 0x30;
  if (
    buf[sp2 + 1] !== 0x48 || buf[sp2 + 2] !== 0x54 || buf[sp2 + 3] !== 0x54 || buf[sp2 + 4] !== 0x50 || buf[sp2 + 5] !== 0x2f ||
    major < 0 || major > 9 || buf[sp2 + 7] !== 0x2e || minor < 0 || minor > 9 || buf[sp2 + 9] !== CR || buf[sp2 + 10] !== LF
  ) {
    return malformedRequestLine(buf, start, stop, limits);
  }
  if (major !== 1 || minor > 1) return new RequestError(505, `HTTP/${major}.${minor} is not supported`);
  const method =
    sp1 - start === 3 && buf[start] === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54
      ? 'GET'
      : sp1 - start === 4 && buf[start] === 0x48 && buf[start + 1] === 0x45 && buf[start + 2] === 0x41 && buf[start + 3] === 0x44
        ? 'HEAD'
        : latin1(buf, start, sp1);
  const target = sp2 - sp1 === 2 && buf[sp1 + 1] === 0x2f ? '/' : latin1(buf, sp1 + 1, sp2);

  // ---- header lines, up to the blank line
  const headers = new Fields();
  let host: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding = false;
  let connection: string | undefined;
  let line = 0;
  i = sp2 + 11;
  for (;;) {
    line++;
    const nameStart = i;
    while (i < stop && TOKEN[buf[i]] === 1) i++;
    if (i === stop) return INCOMPLETE;
    const nameEnd = i;
    if (buf[i] !== COLON || i === nameStart) {
      if (i === nameStart && buf[i] === CR) {
        if (i + 1 === stop) return INCOMPLETE;
        if (buf[i + 1] === LF) {
          i += 2;
          break;
        }
      }
      return new RequestError(400, `malformed header line ${line}`);
    }
    i++;
    while (i < stop && VALUE[buf[i]] === 1) i++;
    if (i + 1 >= stop) return INCOMPLETE;
    if (buf[i] !== CR || buf[i + 1] !== LF) return new RequestError(400, buf[i] === LF ? 'bare LF line ending' : `malformed header line ${line}`);
    // Optional whitespace around the value is not part of it.
    let a = nameEnd + 1;
    let b = i;
    while (a < b && (buf[a] === SP || buf[a] === HTAB)) a++;
    while (b > a && (buf[b - 1] === SP || buf[b - 1] === HTAB)) b--;
    i += 2;
    const name = fieldName(buf, nameStart, nameEnd);
    const value = a === b ? '' : latin1(buf, a, b);
    const previous = headers[name];
    if (previous === undefined) {
      headers[name] = value;
    } else if (name === 'host') {
      return new RequestError(400, 'more than one Host');
    } else if (name === 'content-length') {
      // Two different lengths are a request-smuggling classic.
      if (value !== previous) return new RequestError(400, 'conflicting Content-Length');
      continue;
    } else {
      headers[name] = `${previous}, ${value}`;
    }
    // What the checks below need, kept as we go rather than looked up again.
    if (name === 'host') host = value;
    else if (name === 'content-length') contentLength = value;
    else if (name === 'transfer-encoding') transferEncoding = true;
    else if (name === 'connection') connection = headers[name];
  }
  parsedEnd = i;

  const version: 0 | 1 = minor === 1 ? 1 : 0;
  if (version === 1 && host === undefined) return new RequestError(400, 'HTTP/1.1 request without Host');
  if (contentLength !== undefined && !isDigits(contentLength)) return new RequestError(400, 'malformed Content-Length');
  const hasBody = transferEncoding || (contentLength !== undefined && Number(contentLength) > 0);
  return { method, target, minor: version, headers, keepAlive: keepAlive(version, connection), hasBody };
}

/**
 * The verdict on a request line that does not match the grammar: 414 if the
 * reader's early check would have said so (the target is everything after
 * the first SP up to the next), else 400.
 */
function malformedRequestLine(buf: Buffer, start: number, stop: number, limits: ParserLimits): RequestError | null {
  const lf = buf.indexOf(LF, start);
  if (lf < 0 || lf >= stop) return INCOMPLETE;
  if (lf === start || buf[lf - 1] !== CR) return new RequestError(400, 'bare LF line ending');
  return checkRequestLine(buf, start, lf - 1, limits) ?? new RequestError(400, 'malformed request line');
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** HTTP/1.1 stays open unless `Connection: close`; HTTP/1.0 closes unless `Connection: keep-alive`. */
function keepAlive(minor: 0 | 1, connection: string | undefined): boolean {
  if (connection === undefined) return minor === 1;
  let close = false;
  let keep = false;
  for (const option of connection.split(',')) {
    const o = option.trim().toLowerCase();
    if (o === 'close') close = true;
    else if (o === 'keep-alive') keep = true;
  }
  if (close) return false;
  return minor === 1 || keep;
}

/**
 * Checks a request line that may still be arriving (`buf[start, end)` holds
 * no LF yet, or exactly the line): refuses an over-long target at once, so a
 * peer cannot make us wait for (or buffer) a head we will refuse anyway.
 */
function checkRequestLine(buf: Buffer, start: number, end: number, limits: ParserLimits): RequestError | null {
  const sp1 = buf.indexOf(SP, start);
  if (sp1 < 0 || sp1 >= end) return end - start > MAX_METHOD ? new RequestError(400, 'malformed request line') : null;
  const sp2 = buf.indexOf(SP, sp1 + 1);
  const targetEnd = sp2 < 0 || sp2 >= end ? end : sp2;
  if (targetEnd - sp1 - 1 > limits.maxTargetBytes) return new RequestError(414, 'request-target too long');
  if (targetEnd === sp2 && end - sp2 > MAX_VERSION_TAIL) return new RequestError(400, 'malformed request line');
  return null;
}

/**
 * Splits a connection's input into request heads, in order (pipelining).
 *
 * @example
 * const reader = new RequestReader();
 * conn.data$.subscribe((chunk) => {
 *   reader.push(chunk);
 *   for (let r = reader.next(); r !== null; r = reader.next()) handle(r);
 * });
 */
export class RequestReader {
  private readonly limits: ParserLimits;
  /** Unparsed input is `buf[pos, buf.length)`. */
  private buf: Buffer | null = null;
  private pos = 0;
  /** Bytes after `pos` already scanned: whole lines of the head in progress. */
  private scanned = 0;
  private failure: RequestError | null = null;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes received and not yet returned as requests. */
  get buffered(): number {
    return this.buf === null ? 0 : this.buf.length - this.pos;
  }

  /** Appends input. Call {@link next} until it returns null. */
  push(chunk: Buffer): void {
    if (this.failure !== null || chunk.length === 0) return;
    if (this.buf === null || this.pos === this.buf.length) {
      this.buf = chunk;
    } else {
      // Only the unparsed tail is kept: at most one chunk plus an incomplete head.
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /**
   * The next complete request, a {@link RequestError} (returned again on
   * every later call: the input cannot be resynchronised), or null when more
   * input is needed.
   */
  next(): HttpRequest | RequestError | null {
    if (this.failure !== null) return this.failure;
    const buf = this.buf;
    if (buf === null) return null;
    const { maxHeadBytes } = this.limits;
    const len = buf.length;
    // RFC 9112 §2.2: ignore empty lines before a request line.
    if (this.scanned === 0) {
      while (this.pos + 1 < len && buf[this.pos] === CR && buf[this.pos + 1] === LF) this.pos += 2;
    }
    const pos = this.pos;
    if (this.scanned === 0) {
      // Fast path: the whole head is usually in the buffer, so parse it in
      // one pass. Anything else (incomplete, too large, or refused) goes the
      // careful way below, which is what decides the outcome of such input.
      const request = parseFrom(buf, pos, len, this.limits);
      if (request !== null && !(request instanceof RequestError) && parsedEnd - pos <= maxHeadBytes) {
        this.pos = parsedEnd;
        this.release();
        return request;
      }
    }
    let lineStart = pos + this.scanned;
    for (;;) {
      const lf = buf.indexOf(LF, lineStart);
      if (lf < 0) {
        if (lineStart === pos) {
          const bad = checkRequestLine(buf, pos, len, this.limits);
          if (bad !== null) return this.fail(bad);
        }
        if (len - pos > maxHeadBytes) return this.fail(new RequestError(431, 'request head too large'));
        this.scanned = lineStart - pos;
        this.release();
        return null;
      }
      if (lf === lineStart || buf[lf - 1] !== CR) return this.fail(new RequestError(400, 'bare LF line ending'));
      if (lf + 1 - pos > maxHeadBytes) return this.fail(new RequestError(431, 'request head too large'));
      if (lineStart === pos) {
        const bad = checkRequestLine(buf, pos, lf - 1, this.limits);
        if (bad !== null) return this.fail(bad);
      } else if (lf - 1 === lineStart) {
        // The blank line: the head is complete.
        const end = lf + 1;
        this.pos = end;
        this.scanned = 0;
        this.release();
        const request = parseHead(buf, pos, end, this.limits);
        return request instanceof RequestError ? this.fail(request) : request;
      }
      lineStart = lf + 1;
    }
  }

  private fail(error: RequestError): RequestError {
    this.failure = error;
    this.buf = null;
    this.pos = 0;
    return error;
  }

  /** Drops a fully consumed buffer so an idle connection holds no input. */
  private release(): void {
    if (this.buf !== null && this.pos === this.buf.length) {
      this.buf = null;
      this.pos = 0;
    }
  }
}
