/**
 * Talking to a DNS server under test: the real `dig` (BIND's dnsutils) where
 * installed, Node's own dns.Resolver (c-ares) everywhere, and
 * raw UDP/TCP exchanges for what no well-behaved client sends.
 */
import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as net from 'node:net';

export interface DigResult {
  stdout: string;
  /** dig's exit status: 0 answered, 9 no reply, 10 other errors. */
  code: number;
}

/**
 * Runs `dig @127.0.0.1 -p PORT +time=2 +tries=1 ...args`. A missing `dig`
 * fails loudly: a DNS test that silently passes without a client proves nothing.
 */
export function dig(port: number, args: string[], timeoutMs = 8000): Promise<DigResult> {
  return run(['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], timeoutMs);
}

/** `dig -v`: the version line, or a clear error if dig is missing. */
export async function digVersion(): Promise<string> {
  return (await run(['-v'], 5000)).stdout.trim();
}

function run(args: string[], timeoutMs: number): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean }) | null;
      if (e?.code === 'ENOENT') {
        return reject(new Error('`dig` was not found on PATH: install dnsutils (apt-get install -y dnsutils) to run the dns example tests'));
      }
      if (e?.killed) return reject(new Error(`dig ${args.join(' ')} timed out after ${timeoutMs} ms:\n${stdout}${stderr}`));
      resolve({ stdout: stdout + stderr, code: typeof e?.code === 'number' ? e.code : 0 });
    });
  });
}

/** `dig +short ...`'s lines (+short first, so it applies to every query on the line). */
export async function digShort(port: number, args: string[]): Promise<string[]> {
  const { stdout, code } = await dig(port, ['+short', ...args]);
  if (code !== 0) throw new Error(`dig ${args.join(' ')} exited with ${code}:\n${stdout}`);
  return stdout.split('\n').filter((line) => line !== '');
}

/** The status dig reports (NOERROR, NXDOMAIN, ...). */
export function digStatus(stdout: string): string | undefined {
  return /status: (\w+)/.exec(stdout)?.[1];
}

/**
 * Sends datagrams from one socket and collects `expected` replies (or
 * whatever came within `ms`, if fewer). Replies to one socket arrive in the
 * order the server answered.
 */
export function udpExchange(port: number, packets: Buffer[], expected: number, ms = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.close(() => resolve(replies));
    };
    const timer = setTimeout(done, ms);
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (reply) => {
      replies.push(reply);
      if (replies.length === expected) done();
    });
    socket.bind(0, '127.0.0.1', () => {
      for (const p of packets) socket.send(p, port, '127.0.0.1');
    });
  });
}

/** A raw TCP client that splits what it receives into length-prefixed DNS messages. */
export class TcpDnsClient {
  readonly messages: Buffer[] = [];
  ended = false;
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 2 && this.pending.length >= 2 + this.pending.readUInt16BE(0)) {
        const n = this.pending.readUInt16BE(0);
        this.messages.push(this.pending.subarray(2, 2 + n));
        this.pending = this.pending.subarray(2 + n);
      }
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => this.wake());
  }

  static connect(port: number): Promise<TcpDnsClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new TcpDnsClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Waits until `count` messages arrived in all, or the server closed. */
  async waitFor(count: number, ms = 3000): Promise<Buffer[]> {
    const deadline = Date.now() + ms;
    while (this.messages.length < count && !this.ended && !this.socket.destroyed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.messages;
  }

  /** Waits for the server's FIN. */
  async waitForEnd(ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && !this.socket.destroyed && Date.now() < deadline) await this.waitFor(Infinity, deadline - Date.now());
    return this.ended;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.closed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** `payload` with its 2-byte length prefix, as DNS over TCP frames it. */
export function framed(payload: Buffer): Buffer {
  const out = Buffer.alloc(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  payload.copy(out, 2);
  return out;
}

/**
 * Node's own DNS client (c-ares) pointed at a server under test: one try, a
 * 2 s timeout, as the dig calls above. c-ares retries a truncated UDP answer
 * over TCP by itself.
 */
export function resolverFor(port: number): dns.promises.Resolver {
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return resolver;
}

/** The error code a Resolver call rejects with (ENOTFOUND, ENODATA, EREFUSED, ...), or 'resolved'. */
export async function resolveError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}
