/**
 * A real redis-server for differential tests, and a RESP client that keeps
 * each reply's raw bytes, to compare two servers byte for byte.
 *
 * redis-server listens on a Unix socket in a temporary directory (port 0:
 * no TCP at all), so it cannot collide with anything on this machine, and
 * commands that could hurt the machine or the test (SHUTDOWN, DEBUG, CONFIG,
 * SAVE...) are renamed away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireTool } from './clients';

export interface RunningRedis {
  proc: ChildProcess;
  socket: string;
  version: string;
  stop(): Promise<void>;
}

const DANGEROUS = ['SHUTDOWN', 'DEBUG', 'CONFIG', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'SLAVEOF', 'REPLICAOF', 'MODULE', 'MIGRATE', 'SYNC', 'PSYNC', 'FAILOVER', 'MONITOR', 'CLIENT', 'ACL'];

/**
 * Starts Debian's redis-server with one database (as kv has), nothing
 * persisted. Fails, saying what to install, if there is none.
 */
export async function startRedis(extraArgs: string[] = []): Promise<RunningRedis> {
  requireTool('redis-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-redis-'));
  const socket = path.join(dir, 'redis.sock');
  const args = ['--port', '0', '--unixsocket', socket, '--databases', '1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'];
  for (const name of DANGEROUS) args.push('--rename-command', name, '');
  const proc = spawn('redis-server', [...args, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${output}`);
    if (fs.existsSync(socket)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not create ${socket} within 10 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const version = await new Promise<string>((resolve) => {
    const v = spawn('redis-server', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    v.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    v.on('close', () => resolve(/v=(\S+)/.exec(text)?.[1] ?? '?'));
  });
  return {
    proc,
    socket,
    version,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The length of the first complete RESP2 reply in buf[at...]; if it is not
 * all there yet, minus the number of bytes (from `at`) known to be needed.
 */
export function replyLength(buf: Buffer, at = 0): number {
  const lf = buf.indexOf(0x0a, at);
  if (lf < 0) return -(buf.length - at + 1);
  const type = buf[at];
  const line = lf + 1 - at;
  if (type === 0x2b || type === 0x2d || type === 0x3a) return line;
  const n = Number(buf.toString('latin1', at + 1, lf - 1));
  if (type === 0x24) {
    if (n < 0) return line;
    return buf.length - at >= line + n + 2 ? line + n + 2 : -(line + n + 2);
  }
  if (type === 0x2a) {
    let total = line;
    for (let i = 0; i < n; i++) {
      const item = replyLength(buf, at + total);
      if (item < 0) return item - total;
      total += item;
    }
    return total;
  }
  throw new Error(`not RESP at ${at}: ${JSON.stringify(buf.toString('latin1', at, at + 40))}`);
}

/** A RESP connection (TCP port or Unix socket) that hands out replies as their raw bytes. */
export class RespConnection {
  // Received bytes as chunks: joined only once a reply can be complete, so
  // an 80 MB reply arriving in 64 KiB pieces costs linear time.
  private chunks: Buffer[] = [];
  private total = 0;
  private needed = 1;
  private waiters: Array<() => void> = [];
  ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.total += d.length;
      if (this.total >= this.needed) this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('error', end);
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static open(target: number | string): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const options = typeof target === 'number' ? { port: target, host: '127.0.0.1' } : { path: target };
      const socket = net.connect({ ...options, allowHalfOpen: true }, () => resolve(new RespConnection(socket)));
      socket.once('error', reject);
    });
  }

  private get buffer(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private set buffer(rest: Buffer) {
    this.chunks = rest.length > 0 ? [rest] : [];
    this.total = rest.length;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next `n` replies, as raw bytes each. */
  async replies(n: number, ms = 10_000): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const deadline = Date.now() + ms;
    while (out.length < n) {
      if (this.total >= this.needed) {
        const buffer = this.buffer;
        const length = replyLength(buffer);
        if (length >= 0) {
          out.push(buffer.subarray(0, length));
          this.buffer = buffer.subarray(length);
          this.needed = 1;
          continue;
        }
        this.needed = -length;
      }
      if (this.ended) throw new Error(`connection ended after ${out.length} of ${n} replies; pending ${JSON.stringify(this.buffer.toString('latin1', 0, 200))}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${out.length} of ${n} replies`);
      await this.wait(deadline);
    }
    return out;
  }

  /** Everything until the server closes the connection (or `ms` pass). */
  async untilEnd(ms = 5000): Promise<{ bytes: Buffer; ended: boolean }> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await this.wait(deadline);
    const bytes = this.buffer;
    this.buffer = Buffer.alloc(0);
    this.needed = 1;
    return { bytes, ended: this.ended };
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private wait(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, Math.min(100, deadline - Date.now())));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A request in RESP multibulk form. */
export function request(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
