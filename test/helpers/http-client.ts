/**
 * Clients for the http and proxy examples' tests: the real `curl`, and raw
 * node:net sockets for what curl will not send (pipelining, malformed
 * requests), with a small parser for the responses that come back.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as net from 'node:net';

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
