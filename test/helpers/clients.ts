/**
 * Real clients for the example tests: redis-cli, redis-benchmark and
 * netcat-openbsd run as child processes, and raw node:net sockets for the
 * bytes no well-behaved client sends. Everything talks to 127.0.0.1 only.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** The Debian package that provides each tool, for the error message. */
const PACKAGES: Record<string, string> = {
  'redis-cli': 'redis-tools',
  'redis-benchmark': 'redis-tools',
  'redis-server': 'redis-server',
  python3: 'python3',
  'redis-py': 'python3-redis',
  nc: 'netcat-openbsd',
  curl: 'curl',
  dig: 'dnsutils',
  haproxy: 'haproxy',
  wrk: 'wrk',
  openssl: 'openssl',
};

/**
 * Throws a clear error if `tool` is not on PATH: a missing client must fail
 * the suite (CI installs them), never skip it quietly.
 */
export function requireTool(tool: string): void {
  if (tool === 'redis-py') {
    pythonWithRedis();
    return;
  }
  if (tool.includes('/')) {
    try {
      fs.accessSync(tool, fs.constants.X_OK);
      return;
    } catch {
      throw new Error(`${tool} is not installed or not executable`);
    }
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      fs.accessSync(path.join(dir || '.', tool), fs.constants.X_OK);
      return;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${tool} is not installed (apt-get install ${PACKAGES[tool] ?? tool}); RXNET_REQUIRE_CLIENTS=1 requires the Debian clients`);
}

/**
 * The first python3 on PATH that can `import redis` (redis-py, Debian's
 * python3-redis): not just the first python3, since a pyenv or venv one
 * earlier on PATH may lack the module the system one has. Throws saying
 * what to install if there is none.
 */
export function pythonWithRedis(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const python = path.join(dir || '.', 'python3');
    try {
      fs.accessSync(python, fs.constants.X_OK);
    } catch {
      continue;
    }
    const probe = spawnSync(python, ['-c', 'import redis'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.status === 0) return python;
  }
  throw new Error('redis-py is not installed: no python3 on PATH can import redis (apt-get install python3-redis); RXNET_REQUIRE_CLIENTS=1 requires the Debian clients');
}

/** netcat-openbsd, not the traditional netcat: the tests use its flags (-N, -q, -w). */
export function requireOpenBsdNetcat(): void {
  requireTool('nc');
  const help = spawnSync('nc', ['-h'], { encoding: 'utf8', timeout: 5000 });
  if (!`${help.stdout}${help.stderr}`.includes('OpenBSD netcat')) {
    throw new Error('nc is not netcat-openbsd (apt-get install netcat-openbsd); the example tests use its flags');
  }
}

export interface RunResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client to completion with `input` on its stdin; kills it after
 * `timeoutMs`. Rejects only if it could not be started or timed out.
 */
export function run(tool: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  requireTool(tool);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = execFile(tool, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`${tool} ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ code: e?.code ?? 0, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin!.on('error', () => {}); // the client may exit before reading all of its input
    child.stdin!.end(options.input ?? '');
  });
}

/** An interactive client process (nc) whose stdin we write and whose stdout we read as lines. */
export class LineClient {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | string>;
  private partial = '';
  private waiters: Array<() => void> = [];

  constructor(tool: string, args: string[]) {
    requireTool(tool);
    this.child = spawn(tool, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdin!.on('error', () => {});
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.partial += chunk;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        this.wake();
        resolve(code ?? signal ?? -1);
      }),
    );
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Closes stdin: with nc -N that half-closes the connection. */
  end(): void {
    this.child.stdin!.end();
  }

  /** Waits for a line matching `pattern` (anywhere in what was received so far). */
  async waitFor(pattern: RegExp | string, ms = 5000): Promise<string> {
    const match = (l: string) => (typeof pattern === 'string' ? l === pattern : pattern.test(l));
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        const last = this.lines.slice(-10).map((l) => (l.length > 80 ? `${l.slice(0, 80)}...` : l));
        throw new Error(`no line matching ${String(pattern)} within ${ms} ms; ${this.lines.length} lines, the last ones: ${JSON.stringify(last)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Kills the process if it is still running, and waits for it. */
  kill(): Promise<number | string> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A raw node:net client that records everything it receives. */
export class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  /** True once the server's FIN (or a reset) arrived. */
  ended = false;
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {
      this.ended = true;
      this.wake();
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Everything received so far. */
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until what was received matches `pattern`. */
  async waitFor(pattern: RegExp, ms = 5000): Promise<string> {
    await this.until(() => pattern.test(this.text), ms, `data matching ${String(pattern)}`);
    return this.text;
  }

  /** Waits for the server's FIN or reset. */
  waitEnded(ms = 5000): Promise<void> {
    return this.until(() => this.ended, ms, 'the server to close the connection');
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private async until(done: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; received ${JSON.stringify(this.text.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

// ---- Debian clients where installed, Node's own everywhere ------------------

/**
 * Set by .ci/run (which installs the Debian clients): a test that drives a
 * command-line client then runs even if the client is missing, and fails
 * saying what to install. Without it, such a test is registered only where
 * the client is installed; scripts/test.mjs names the missing ones.
 */
export const clientsRequired = process.env.RXNET_REQUIRE_CLIENTS === '1';

const found = new Map<string, boolean>();

/**
 * Whether `tool` is on PATH (for nc: netcat-openbsd, whose flags the tests
 * use; for 'redis-py': a python3 that can import redis).
 */
export function installed(tool: string): boolean {
  let yes = found.get(tool);
  if (yes === undefined) {
    try {
      if (tool === 'nc') requireOpenBsdNetcat();
      else requireTool(tool);
      yes = true;
    } catch {
      yes = false;
    }
    found.set(tool, yes);
  }
  return yes;
}

/**
 * Whether to register a test that drives the command-line clients `tools`:
 * all are installed, or clients are required (the test then fails at
 * requireTool with what to install). The same behaviour is always tested
 * with a client from Node itself or npm.
 */
export function withClient(...tools: string[]): boolean {
  return clientsRequired || tools.every(installed);
}

/** What the line-oriented tests need of a client: nc -N, or node:net doing what nc -N does. */
export interface LineClientLike {
  readonly lines: string[];
  /** 0 once both directions closed cleanly (nc's exit code), else an error code. */
  readonly exited: Promise<number | string>;
  send(line: string): void;
  /** Half-closes (nc -N on the end of its input). */
  end(): void;
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  kill(): Promise<number | string>;
}

/**
 * A node:net client that behaves as `nc -N HOST PORT` does for the tests:
 * lines in, lines out, end() half-closes, and it is done (exit 0) once the
 * server has closed its side too.
 */
export class NetLineClient implements LineClientLike {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  readonly exited: Promise<number | string>;
  private partial = '';
  private waiters: Array<() => void> = [];
  private error: string | null = null;
  private done = false;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, allowHalfOpen: true });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.partial += chunk;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => (this.error = err.code ?? 'error'));
    // nc -N exits when the server's FIN arrives after its own; so does this.
    this.socket.on('end', () => {
      if (this.socket.writableEnded) this.socket.destroy();
    });
    this.exited = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.done = true;
        this.wake();
        resolve(this.error ?? 0);
      }),
    );
  }

  send(line: string): void {
    if (!this.socket.writableEnded) this.socket.write(`${line}\n`);
  }

  end(): void {
    this.socket.end();
    if (this.socket.readableEnded) this.socket.destroy();
  }

  async waitFor(pattern: RegExp | string, ms = 5000): Promise<string> {
    const match = (l: string) => (typeof pattern === 'string' ? l === pattern : pattern.test(l));
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(match);
      if (hit !== undefined) return hit;
      const left = deadline - Date.now();
      if (left <= 0 || this.done) {
        const last = this.lines.slice(-10).map((l) => (l.length > 80 ? `${l.slice(0, 80)}...` : l));
        throw new Error(`no line matching ${String(pattern)} within ${ms} ms; ${this.lines.length} lines, the last ones: ${JSON.stringify(last)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(): Promise<number | string> {
    this.socket.destroy();
    return this.exited;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A way to open line clients: node:net always, nc -N where installed (or required). */
export interface LineClientKind {
  readonly name: string;
  open(host: string, port: number): LineClientLike;
}

export function lineClients(): LineClientKind[] {
  const kinds: LineClientKind[] = [{ name: 'node:net', open: (host, port) => new NetLineClient(host, port) }];
  if (withClient('nc')) {
    kinds.push({
      name: 'nc',
      open: (host, port) => {
        requireOpenBsdNetcat();
        // -N: closing stdin half-closes the connection, so nc exits as soon
        // as the server has answered with its own FIN (no -q wait).
        return new LineClient('nc', ['-N', host, String(port)]);
      },
    });
  }
  return kinds;
}
