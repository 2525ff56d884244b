/**
 * Clients for the http and proxy examples' tests: node:http, the real `curl`
 * where installed (HttpTool: one test, both clients), and raw node:net
 * sockets for what neither will send (pipelining, malformed requests), with
 * a small parser for the responses that come back.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { withClient } from './clients';

export interface CurlResult {
  /** curl's exit code (0 = success). */
  code: number;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `curl args...` (always with a 10 s ceiling). Rejects with a clear
 * message if curl is not installed: these tests must fail then, not pass.
 */
export function curl(args: string[], timeoutMs = 10000): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['--max-time', String(Math.ceil(timeoutMs / 1000)), ...args], { encoding: 'buffer', timeout: timeoutMs + 1000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && e.code === 'ENOENT') {
        reject(new Error('curl is not installed: the example tests need the real curl client (CI installs it; apt-get install curl)'));
        return;
      }
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

/** Fails the calling hook with a clear message unless curl runs. */
export async function requireCurl(): Promise<void> {
  const r = await curl(['--version']);
  if (r.code !== 0) throw new Error(`curl --version failed (exit ${r.code}): ${r.stderr}`);
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** One HTTP/1.x response. */
export interface HttpResponse {
  status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Splits `buf` into complete responses. `bodiless[i]` says the i-th response
 * answers a HEAD (no body whatever Content-Length says). Responses without
 * Content-Length (only 304 here) have no body. `needed` is how many bytes
 * `buf` must hold before the next response can be complete (0: unknown).
 */
export function parseResponses(buf: Buffer, bodiless: boolean[] = []): { responses: HttpResponse[]; rest: Buffer; needed: number } {
  const responses: HttpResponse[] = [];
  let pos = 0;
  let needed = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = buf.toString('latin1', pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
    if (m === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(m[1]);
    const length = bodiless[responses.length] || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + length) {
      needed = end + 4 + length - pos;
      break;
    }
    responses.push({ status, headers, body: buf.subarray(end + 4, end + 4 + length) });
    pos = end + 4 + length;
  }
  return { responses, rest: buf.subarray(pos), needed };
}

/** Parses responses as their bytes arrive, without re-reading a long body for every chunk. */
class ResponseCollector {
  readonly responses: HttpResponse[] = [];
  private readonly all: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private needed = 0;

  constructor(private readonly bodiless: boolean[]) {}

  push(chunk: Buffer): void {
    this.all.push(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.needed) return;
    const { responses, rest, needed } = parseResponses(Buffer.concat(this.pending), this.bodiless.slice(this.responses.length));
    this.responses.push(...responses);
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.needed = needed;
  }

  get raw(): Buffer {
    return Buffer.concat(this.all);
  }
}

/** The responses to curl's `-i` output (stdout: head, then body). */
export function parseCurl(r: CurlResult, head = false): HttpResponse {
  const { responses } = parseResponses(r.stdout, [head]);
  if (r.code !== 0 || responses.length === 0) throw new Error(`curl failed (exit ${r.code}): ${r.stderr}\n${r.stdout.toString('latin1', 0, 500)}`);
  return responses[0];
}

export interface Exchange {
  responses: HttpResponse[];
  /** Whether the server closed the connection (FIN or reset) before we gave up. */
  closed: boolean;
  /** Milliseconds from the first write to the close (or to giving up). */
  ms: number;
  /** Everything received. */
  raw: Buffer;
}

/**
 * Sends `writes` (one socket write each, `gapMs` apart) on a fresh
 * connection, then reads until `expect` responses arrived and — with
 * `untilClose` — the server closed, or `timeoutMs` passed.
 */
export function exchange(
  port: number,
  writes: (string | Buffer)[],
  options: { expect?: number; bodiless?: boolean[]; untilClose?: boolean; timeoutMs?: number; gapMs?: number } = {},
): Promise<Exchange> {
  const { expect = 1, bodiless = [], untilClose = false, timeoutMs = 3000, gapMs = 0 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const collector = new ResponseCollector(bodiless);
    let start = 0;
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: collector.responses, closed, ms: Date.now() - start, raw: collector.raw });
    };
    const timer = setTimeout(finish, timeoutMs);
    const check = () => {
      if (collector.responses.length >= expect && (!untilClose || closed)) finish();
    };
    socket.on('connect', async () => {
      start = Date.now();
      for (const [i, w] of writes.entries()) {
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!socket.destroyed) socket.write(w);
      }
    });
    socket.on('data', (d) => {
      try {
        collector.push(d);
      } catch (err) {
        done = true;
        clearTimeout(timer);
        socket.destroy();
        return reject(err);
      }
      check();
    });
    socket.on('end', () => {
      closed = true;
      check();
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return reject(err);
      closed = true;
      finish();
    });
  });
}

/** A minimal well-formed request. */
export const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

// ---- HTTP clients: node:http always, curl where installed -------------------

export interface HttpRequestOptions {
  /** GET unless said; HEAD gets the head only. */
  method?: string;
  headers?: Record<string, string>;
  /** An HTTP/1.0 request (curl -0). */
  http10?: boolean;
}

export interface DownloadOptions extends HttpRequestOptions {
  /** Read no faster than this (curl --limit-rate). */
  bytesPerSecond?: number;
  timeoutMs?: number;
}

/** What the http and proxy tests need of a client. */
export interface HttpTool {
  readonly name: string;
  /** One request on a connection of its own, the target sent as is: the whole response. */
  request(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
  /** The body into `file`; the status and the bytes received. Rejects if the transfer failed. */
  download(url: string, file: string, options?: DownloadOptions): Promise<{ status: number; size: number }>;
  /** Two requests on one kept-alive connection: the responses, and whether the second reused the first's connection. */
  keepAlive(urls: [string, string]): Promise<{ responses: HttpResponse[]; reused: boolean }>;
  /** Starts a download and gives up after its head (curl --max-filesize 1). */
  abandon(url: string): Promise<void>;
}

function splitUrl(url: string): { host: string; port: number; path: string } {
  const m = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url);
  if (m === null) throw new Error(`not a http://host:port/path URL: ${url}`);
  return { host: m[1], port: Number(m[2]), path: m[3] };
}

function responseOf(res: http.IncomingMessage, body: Buffer): HttpResponse {
  const headers: Record<string, string> = {};
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i].toLowerCase();
    const value = res.rawHeaders[i + 1];
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: res.statusCode!, headers, body };
}

/** node:http (HTTP/1.0 requests over node:net: node:http sends only 1.1). */
export const nodeHttp: HttpTool = {
  name: 'node:http',
  async request(url, options = {}) {
    const { host, port, path } = splitUrl(url);
    const method = options.method ?? 'GET';
    if (options.http10) {
      const head = `${method} ${path} HTTP/1.0\r\n${Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
      const x = await exchange(port, [head], { untilClose: true, bodiless: [method === 'HEAD'], timeoutMs: 10_000 });
      if (x.responses.length !== 1) throw new Error(`HTTP/1.0 ${path}: ${x.responses.length} responses, ${x.raw.length} bytes`);
      return x.responses[0];
    }
    return new Promise((resolve, reject) => {
      // agent: false, a connection of its own; path: sent as given (curl --path-as-is).
      const req = http.request({ host, port, path, method, headers: options.headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve(responseOf(res, Buffer.concat(chunks))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  },
  download(url, file, options = {}) {
    if (options.http10) return rawDownload(url, file, options);
    const { host, port, path } = splitUrl(url);
    const headers = options.headers;
    return new Promise((resolve, reject) => {
      const req = http.request({ host, port, path, method: options.method ?? 'GET', headers, agent: false }, (res) => {
        const out = fs.createWriteStream(file);
        const started = Date.now();
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          out.write(d);
          const rate = options.bytesPerSecond;
          if (rate === undefined) return;
          // Ahead of the allowed rate: stop reading until the clock catches up.
          const ahead = (size / rate) * 1000 - (Date.now() - started);
          if (ahead > 1) {
            res.pause();
            setTimeout(() => res.resume(), ahead);
          }
        });
        res.on('end', () => out.end(() => resolve({ status: res.statusCode!, size })));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`${url}: the response was cut after ${size} bytes`)));
      });
      req.setTimeout(options.timeoutMs ?? 20_000, () => req.destroy(new Error(`${url}: timed out`)));
      req.on('error', reject);
      req.end();
    });
  },
  async keepAlive(urls) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const responses: HttpResponse[] = [];
      let reused = false;
      for (const url of urls) {
        const { host, port, path } = splitUrl(url);
        responses.push(
          await new Promise<HttpResponse>((resolve, reject) => {
            const req = http.request({ host, port, path, agent }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (d: Buffer) => chunks.push(d));
              res.on('end', () => resolve(responseOf(res, Buffer.concat(chunks))));
            });
            req.on('error', reject);
            req.end();
            if (url === urls[1]) reused = req.reusedSocket;
          }),
        );
      }
      return { responses, reused };
    } finally {
      agent.destroy();
    }
  },
  abandon(url) {
    const { host, port, path } = splitUrl(url);
    return new Promise((resolve, reject) => {
      const req = http.request({ host, port, path, agent: false }, (res) => {
        res.destroy();
        req.destroy();
      });
      req.on('close', () => resolve());
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
      req.end();
    });
  },
};

/**
 * An HTTP/1.0 download over node:net (node:http sends only 1.1): the body is
 * everything after the head until the server closes, read at up to
 * `bytesPerSecond`; rejects if it is shorter than Content-Length.
 */
function rawDownload(url: string, file: string, options: DownloadOptions): Promise<{ status: number; size: number }> {
  const { host, port, path } = splitUrl(url);
  const head = `${options.method ?? 'GET'} ${path} HTTP/1.0\r\n${Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const out = fs.createWriteStream(file);
    const started = Date.now();
    let pending: Buffer | null = Buffer.alloc(0);
    let status = 0;
    let expected = -1;
    let size = 0;
    let received = 0;
    const timer = setTimeout(() => socket.destroy(new Error(`${url}: timed out after ${received} bytes`)), options.timeoutMs ?? 20_000);
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (pending !== null) {
        pending = Buffer.concat([pending, d]);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = pending.toString('latin1', 0, end);
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
        expected = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? -1);
        d = pending.subarray(end + 4);
        pending = null;
      }
      size += d.length;
      out.write(d);
      const rate = options.bytesPerSecond;
      const ahead = rate === undefined ? 0 : (received / rate) * 1000 - (Date.now() - started);
      if (ahead > 1) {
        socket.pause();
        setTimeout(() => socket.resume(), ahead);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      out.end(() => reject(err));
    });
    socket.on('end', () => {
      clearTimeout(timer);
      out.end(() => (expected >= 0 && size !== expected ? reject(new Error(`${url}: ${size} of ${expected} bytes`)) : resolve({ status, size })));
    });
    socket.write(head);
  });
}

/** The real curl. */
export const curlTool: HttpTool = {
  name: 'curl',
  async request(url, options = {}) {
    const method = options.method ?? 'GET';
    const args = ['-s', '-i', '--path-as-is', ...(options.http10 ? ['-0'] : [])];
    if (method === 'HEAD') args.push('-I');
    else if (method !== 'GET') args.push('-X', method);
    for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}: ${v}`);
    return parseCurl(await curl([...args, url]), method === 'HEAD');
  },
  async download(url, file, options = {}) {
    const args = ['-s', ...(options.http10 ? ['-0'] : []), ...(options.bytesPerSecond ? ['--limit-rate', String(options.bytesPerSecond)] : [])];
    for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}: ${v}`);
    const r = await curl([...args, '-o', file, '-w', '%{http_code} %{size_download}', url], options.timeoutMs ?? 20_000);
    if (r.code !== 0) throw new Error(`curl exit ${r.code}: ${r.stderr} ${r.stdout.toString()}`);
    const [status, size] = r.stdout.toString().split(' ').map(Number);
    return { status, size };
  },
  async keepAlive(urls) {
    const r = await curl(['-s', '-i', '-v', ...urls]);
    if (r.code !== 0) throw new Error(`curl exit ${r.code}: ${r.stderr}`);
    const reused = /Re-using existing connection/i.test(r.stderr) && (r.stderr.match(/Connected to 127\.0\.0\.1/g) ?? []).length === 1;
    return { responses: parseResponses(r.stdout).responses, reused };
  },
  async abandon(url) {
    await curl(['-s', '--max-filesize', '1', url, '-o', '/dev/null']);
  },
};

/** node:http, and curl where installed (or required: it then fails saying what to install). */
export function httpTools(): HttpTool[] {
  return withClient('curl') ? [nodeHttp, curlTool] : [nodeHttp];
}
