/**
 * Response heads for the http example, built as strings (latin1) and encoded
 * once; the `GET /` reply is pre-encoded whole and rebuilt only when the
 * Date header's second changes, so the hot path allocates nothing for it.
 */

export const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  206: 'Partial Content',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  505: 'HTTP Version Not Supported',
};

let dateSecond = -1;
let dateLine = '';

/** `Date: <IMF-fixdate>\r\n` for now, recomputed at most once a second. */
export function dateHeader(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
    helloCache.fill(undefined);
  }
  return dateLine;
}

/**
 * The `Connection` line a response needs: none for a persistent HTTP/1.1
 * connection (the default), `keep-alive` to confirm one to an HTTP/1.0 client,
 * `close` when we close after this response.
 */
export function connectionHeader(minor: 0 | 1, keepAlive: boolean): string {
  if (!keepAlive) return 'Connection: close\r\n';
  return minor === 0 ? 'Connection: keep-alive\r\n' : '';
}

/** A status line plus Date, Server and the given header lines; ends with the blank line. */
export function head(status: number, headerLines: string): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n${dateHeader()}Server: rxnet\r\n${headerLines}\r\n`;
}

/**
 * A short text/plain response (errors, 404, 405). `withBody` false for HEAD:
 * same headers, no body.
 */
export function textResponse(status: number, headerLines: string, withBody: boolean): Buffer {
  const body = `${status} ${REASONS[status] ?? 'Unknown'}\n`;
  const h = head(status, `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n${headerLines}`);
  return Buffer.from(withBody ? h + body : h, 'latin1');
}

const HELLO = 'Hello, World!';
/** Indexed by keepAlive | minor << 1 | head << 2. */
const helloCache: (Buffer | undefined)[] = new Array(8).fill(undefined);

/** The whole `GET /` (or `HEAD /`) response, from a cache valid for the current second. */
export function helloResponse(minor: 0 | 1, keepAlive: boolean, headOnly: boolean): Buffer {
  dateHeader(); // may invalidate the cache
  const key = (keepAlive ? 1 : 0) | (minor << 1) | (headOnly ? 4 : 0);
  let bytes = helloCache[key];
  if (bytes === undefined) {
    const h = head(200, `Content-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n${connectionHeader(minor, keepAlive)}`);
    bytes = helloCache[key] = Buffer.from(headOnly ? h : h + HELLO, 'latin1');
  }
  return bytes;
}
