/**
 * Static files for the http example: safe path resolution under a root,
 * Content-Type by extension, byte ranges and If-Modified-Since.
 *
 * File-system calls are synchronous on purpose: open/fstat/realpath on a
 * local disk take microseconds, rxnet's own `sendFile(path)` opens the same
 * way, and staying synchronous keeps responses trivially in request order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.woff2': 'font/woff2',
  '.mp4': 'video/mp4',
};

/** Content-Type by file extension; `application/octet-stream` when unknown. */
export function contentType(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** An open regular file, ready for sendFile. The caller closes `fd`. */
export interface OpenedFile {
  fd: number;
  size: number;
  /** Modification time in whole seconds (HTTP dates have no finer resolution), as ms. */
  mtimeMs: number;
  type: string;
}

/** Why a path is not served: 400 malformed, 403 refused (traversal attempts), 404 missing. */
export type Refusal = 400 | 403 | 404;

// Encoded separators would let one path segment stand for several.
const ENCODED_SEPARATOR = /%(2f|5c)/i;

/** Serves the files under one directory. */
export class StaticRoot {
  /** The root's real path (symlinks resolved), without a trailing separator. */
  readonly dir: string;

  /** @throws if `dir` is not an existing directory. */
  constructor(dir: string) {
    const real = fs.realpathSync.native(dir);
    if (!fs.statSync(real).isDirectory()) throw new Error(`${dir} is not a directory`);
    this.dir = real;
  }

  /**
   * Opens the file at `rawPath` (the part of the URL path after `/static/`,
   * still percent-encoded, without the query).
   */
  open(rawPath: string): OpenedFile | Refusal {
    if (rawPath.includes('\\') || ENCODED_SEPARATOR.test(rawPath)) return 403;
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      return 400; // a bad %-escape or invalid UTF-8
    }
    if (decoded.includes('\0')) return 400;
    const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.includes('..')) return 403;
    if (segments.length === 0) return 404;
    // No segment is absolute or '..', so this stays under the root; the prefix
    // check is the belt to those braces.
    const candidate = path.resolve(this.dir, ...segments);
    if (!this.contains(candidate)) return 403;
    let real: string;
    try {
      // A symlink inside the root may point outside it: judge where it leads.
      real = fs.realpathSync.native(candidate);
    } catch {
      return 404;
    }
    if (!this.contains(real)) return 403;
    let fd: number;
    try {
      // O_NONBLOCK: opening a FIFO for reading would otherwise block the loop.
      fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
    } catch {
      return 404;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        fs.closeSync(fd);
        return 404;
      }
      return { fd, size: st.size, mtimeMs: Math.floor(st.mtimeMs / 1000) * 1000, type: contentType(real) };
    } catch {
      fs.closeSync(fd);
      return 404;
    }
  }

  private contains(p: string): boolean {
    return p.startsWith(this.dir + path.sep);
  }
}

/** A satisfiable byte range, both ends inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

const RANGE = /^bytes=(\d*)-(\d*)$/;

/**
 * Interprets a `Range` header for a file of `size` bytes: a range to send,
 * `'unsatisfiable'` (416), or null to ignore it and send the whole file (what
 * RFC 9110 lets a server do with an invalid or multi-range header, which this
 * example does not split into multipart/byteranges).
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | null {
  const m = RANGE.exec(header.trim());
  if (m === null) return null;
  const [, first, last] = m;
  if (first === '') {
    if (last === '') return null;
    // The last n bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return null;
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}

/**
 * Whether an `If-Modified-Since` date lets us answer 304. An unparsable date
 * or one in the future (a client's clock or a forgery) is ignored, as Apache
 * does, rather than trusted.
 */
export function notModifiedSince(header: string, mtimeMs: number): boolean {
  const since = Date.parse(header);
  return !Number.isNaN(since) && since <= Date.now() && mtimeMs <= since;
}
