/**
 * What the http example serves: routing one parsed request to its response.
 * Output goes through {@link ResponseSink} so the routing can be tested
 * without a socket.
 */
import * as fs from 'node:fs';
import type { HttpRequest } from './parser';
import { connectionHeader, head, helloResponse, textResponse } from './responses';
import { notModifiedSince, parseRange, type StaticRoot } from './static';

/** Where a response goes: bytes, then (for files) a byte range sent zero-copy. */
export interface ResponseSink {
  write(bytes: Buffer): void;
  /** Sends `length` bytes of `fd` from `offset` after everything written so far, then closes `fd`. */
  sendFile(fd: number, offset: number, length: number): void;
  /** The client as the connection sees it: behind a PROXY-protocol load balancer, the original client. */
  readonly peer: { address: string; port: number };
}

const STATIC_PREFIX = '/static/';

/**
 * The routes: `/` says hello, `/whoami` answers the client's address as this
 * server sees it (`ADDRESS PORT\n`; behind HAProxy with `send-proxy-v2`, the
 * real client's), `/static/<path>` serves files under the root (if any).
 */
export class Site {
  constructor(private readonly root: StaticRoot | null) {}

  /**
   * Writes the response to `req` into `out`.
   * @returns whether the connection stays open for another request.
   */
  respond(req: HttpRequest, out: ResponseSink): boolean {
    const headOnly = req.method === 'HEAD';
    if (req.hasBody) {
      // This server never reads bodies; left unread, the body would be
      // parsed as the next request, so refuse it and close.
      out.write(textResponse(413, 'Connection: close\r\n', !headOnly));
      return false;
    }
    const keepAlive = req.keepAlive;
    const connection = connectionHeader(req.minor, keepAlive);
    if (req.method !== 'GET' && !headOnly) {
      out.write(textResponse(405, `Allow: GET, HEAD\r\n${connection}`, true));
      return keepAlive;
    }
    const p = pathOf(req.target);
    if (p === null) {
      out.write(textResponse(400, connection, !headOnly));
    } else if (p === '/') {
      out.write(helloResponse(req.minor, keepAlive, headOnly));
    } else if (p === '/whoami') {
      const body = `${out.peer.address} ${out.peer.port}\n`;
      const h = head(200, `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n${connection}`);
      out.write(Buffer.from(headOnly ? h : h + body, 'latin1'));
    } else if (this.root !== null && p.startsWith(STATIC_PREFIX)) {
      this.serveFile(req, p.slice(STATIC_PREFIX.length), connection, out);
    } else {
      out.write(textResponse(404, connection, !headOnly));
    }
    return keepAlive;
  }

  private serveFile(req: HttpRequest, rawPath: string, connection: string, out: ResponseSink): void {
    const headOnly = req.method === 'HEAD';
    const file = this.root!.open(rawPath);
    if (typeof file === 'number') {
      out.write(textResponse(file, connection, !headOnly));
      return;
    }
    let sending = false;
    try {
      const lastModified = new Date(file.mtimeMs).toUTCString();
      const common = `Last-Modified: ${lastModified}\r\nAccept-Ranges: bytes\r\n${connection}`;
      const ims = req.headers['if-modified-since'];
      if (ims !== undefined && notModifiedSince(ims, file.mtimeMs)) {
        out.write(Buffer.from(head(304, common), 'latin1'));
        return;
      }
      const rangeHeader = req.headers.range;
      const ifRange = req.headers['if-range'];
      // If-Range: the range only applies to the version the client has.
      const range = rangeHeader !== undefined && (ifRange === undefined || ifRange === lastModified) ? parseRange(rangeHeader, file.size) : null;
      if (range === 'unsatisfiable') {
        out.write(textResponse(416, `Content-Range: bytes */${file.size}\r\n${common}`, !headOnly));
        return;
      }
      const start = range === null ? 0 : range.start;
      const length = range === null ? file.size : range.end - range.start + 1;
      const contentRange = range === null ? '' : `Content-Range: bytes ${range.start}-${range.end}/${file.size}\r\n`;
      const fields = `Content-Type: ${file.type}\r\nContent-Length: ${length}\r\n${contentRange}${common}`;
      out.write(Buffer.from(head(range === null ? 200 : 206, fields), 'latin1'));
      if (!headOnly && length > 0) {
        sending = true;
        out.sendFile(file.fd, start, length);
      }
    } finally {
      if (!sending) fs.closeSync(file.fd);
    }
  }
}

/**
 * The path of an origin-form (`/a?b`) or absolute-form (`http://h/a`)
 * target, without the query; null for anything else (`*`, authority-form).
 */
export function pathOf(target: string): string | null {
  let p = target;
  if (p.charCodeAt(0) !== 0x2f /* / */) {
    const m = /^https?:\/\/[^/?#]*/i.exec(p);
    if (m === null) return null;
    p = p.slice(m[0].length) || '/';
    if (p.charCodeAt(0) !== 0x2f) return null;
  }
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}
