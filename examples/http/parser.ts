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
/** Longer than any real method; a longer first word is garbage, not a long URI. */
const MAX_METHOD = 32;
/** " HTTP/1.1\r" after the target, with room to spare. */
const MAX_VERSION_TAIL = 16;

// RFC 9110 tokens; the target is visible ASCII only (no spaces, controls or raw UTF-8).
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
// The value is trimmed by hand: a regex trimming both ends backtracks
// quadratically on a long run of spaces.
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):([\t\x20-\x7e\x80-\xff]*)$/;
const DIGITS = /^\d+$/;

/**
 * Parses one complete head: `buf[start, end)` runs from the request line to
 * the blank line inclusive, every line ending in CRLF (the reader checked).
 */
export function parseHead(buf: Buffer, start: number, end: number, limits: ParserLimits = DEFAULT_LIMITS): HttpRequest | RequestError {
  // latin1 maps bytes 1:1 to UTF-16 code units: no decoding surprises, and
  // obs-text (0x80-0xff) in values survives for whoever reads it.
  const lines = buf.toString('latin1', start, end - 4).split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]);
  if (m === null) return new RequestError(400, 'malformed request line');
  const [, method, target, major, minor] = m;
  if (target.length > limits.maxTargetBytes) return new RequestError(414, 'request-target too long');
  if (major !== '1' || (minor !== '0' && minor !== '1')) return new RequestError(505, `HTTP/${major}.${minor} is not supported`);

  const headers: Record<string, string> = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const h = HEADER_LINE.exec(lines[i]);
    if (h === null) return new RequestError(400, `malformed header line ${i}`);
    const name = h[1].toLowerCase();
    const value = trimOws(h[2]);
    const previous = headers[name];
    if (previous === undefined) {
      headers[name] = value;
    } else if (name === 'host') {
      return new RequestError(400, 'more than one Host');
    } else if (name === 'content-length') {
      // Two different lengths are a request-smuggling classic.
      if (value !== previous) return new RequestError(400, 'conflicting Content-Length');
    } else {
      headers[name] = `${previous}, ${value}`;
    }
  }

  const version: 0 | 1 = minor === '1' ? 1 : 0;
  if (version === 1 && headers.host === undefined) return new RequestError(400, 'HTTP/1.1 request without Host');
  const contentLength = headers['content-length'];
  if (contentLength !== undefined && !DIGITS.test(contentLength)) return new RequestError(400, 'malformed Content-Length');
  const hasBody = headers['transfer-encoding'] !== undefined || (contentLength !== undefined && Number(contentLength) > 0);
  return { method, target, minor: version, headers, keepAlive: keepAlive(version, headers.connection), hasBody };
}

/** Strips optional whitespace (SP, HTAB) around a field value. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
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
