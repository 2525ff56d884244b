/**
 * What the benchmarks share: command-line options, child processes that are
 * always killed at the end, server CPU from /proc/<pid>/stat, medians, and
 * starting a server and waiting for its `listening on` line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');
const START_TIMEOUT_MS = 15_000;

// ---- options ------------------------------------------------------------------

export function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}
export function intOption(name: string, fallback: number): number {
  const v = option(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
}

// ---- children: every one is killed at the end, whatever happens -----------------

const children = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  // spawn() failures (ENOENT) arrive as 'error'; callers see them through 'exit'/timeouts.
  child.once('error', () => children.delete(child));
  return child;
}
/** Temp dirs (nginx's and redis-server's prefix, dnsperf's query file), removed at the end whatever happens. */
const tmpDirs = new Set<string>();
export function tmpDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(dir);
  return dir;
}
export function removeTmp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tmpDirs.delete(dir);
}
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const dir of [...tmpDirs]) {
    try {
      removeTmp(dir);
    } catch {
      // best effort
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping`);
    killAll();
    process.exit(130);
  });
}

// ---- helpers ------------------------------------------------------------------

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** What a tool prints about itself (some print their version on stderr, or exit 1 after printing it). */
export function banner(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** The path of an executable on PATH (or in the sbin folders a non-root PATH may lack), or null. */
export function findExe(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

export const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100;

export interface Cpu {
  user: number;
  sys: number;
}
/** utime and stime (fields 14 and 15 of /proc/<pid>/stat) in clock ticks, all threads. */
export function cpuTicks(pid: number): Cpu {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is parenthesised and may hold spaces: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3, so field k is rest[k - 3].
  return { user: Number(rest[14 - 3]), sys: Number(rest[15 - 3]) };
}

/** Nanoseconds the main thread waited runnable for a CPU (/proc/<pid>/schedstat, field 2); 0 if absent. */
export function runqueueWaitNs(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port free right now on 127.0.0.1 (for servers that cannot be told port 0 and report it). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Lines of a child's stdout, waited for one by one with a timeout; none is lost. */
export class LineQueue {
  private readonly queued: string[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;

  constructor(input: NodeJS.ReadableStream) {
    const rl = readline.createInterface({ input });
    rl.on('line', (line) => {
      if (this.queued.length < 1000) this.queued.push(line);
      this.wake();
    });
    rl.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next line matching `pattern` (others are skipped). */
  async match(who: string, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.queued.length > 0) {
        const m = this.queued.shift()!.match(pattern);
        if (m) return m;
      }
      if (this.ended) throw new Error(`${who}: exited before printing a line matching ${pattern}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${who}: no line matching ${pattern} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** Runs a load generator to completion (killed after `timeoutMs`); its stdout+stderr. */
export async function runTool(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await Promise.race([
    once(child, 'exit'),
    once(child, 'error').then(([err]) => {
      throw new Error(`${cmd}: ${(err as Error).message}`);
    }),
  ])) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}${signal === 'SIGKILL' ? ', timed out' : ''}):\n${out.slice(-2000)}`);
  }
  return out;
}

// ---- servers ------------------------------------------------------------------

export interface ServerSpec {
  key: string;
  label: string;
  cmd: string;
  args: string[];
  /** 'line': prints `listening on 127.0.0.1:PORT`; 'connect': listens on `port`, ready when it accepts. */
  ready: 'line' | 'connect';
  port?: number;
  /** A temp dir to remove when the server stops. */
  tmp?: string;
}

export interface Server {
  spec: ServerSpec;
  child: ChildProcess;
  pid: number;
  port: number;
  detail: string;
  stderr: () => string;
}

let stopping = false;
/** While set, server exits are expected and not reported. */
export function setStopping(flag: boolean): void {
  stopping = flag;
}

export async function start(spec: ServerSpec): Promise<Server> {
  const child = track(spawn(spec.cmd, spec.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  let spawnError: Error | null = null;
  child.once('error', (err) => (spawnError = err));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 8192) stderr = stderr.slice(-8192);
  });
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`bench: server ${spec.key} exited (${code ?? signal})${stderr ? `:\n${stderr}` : ''}`);
  });
  const lines = new LineQueue(child.stdout!);
  const fail = (why: string) => new Error(`${spec.key}: ${why}${stderr ? `\nstderr:\n${stderr}` : ''}`);
  if (spec.ready === 'line') {
    let m: RegExpMatchArray;
    try {
      m = await lines.match(spec.key, /listening on 127\.0\.0\.1:(\d+)(.*)/, START_TIMEOUT_MS);
    } catch (err) {
      // The message already names the server.
      throw new Error(`${(err as Error).message}${stderr ? `\nstderr:\n${stderr}` : ''}`);
    }
    return { spec, child, pid: child.pid!, port: Number(m[1]), detail: m[2].trim(), stderr: () => stderr };
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) throw fail((spawnError as Error).message);
    if (child.exitCode !== null || child.signalCode !== null) throw fail(`exited (${child.exitCode ?? child.signalCode}) before accepting`);
    if (await canConnect(spec.port!)) break;
    if (Date.now() > deadline) throw fail(`not accepting on port ${spec.port} within ${START_TIMEOUT_MS} ms`);
    await sleep(50);
  }
  return { spec, child, pid: child.pid!, port: spec.port!, detail: '', stderr: () => stderr };
}

/** SIGTERM, then SIGKILL after 3 s; removes the server's temp dir. */
export async function stop(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  if (server.spec.tmp) removeTmp(server.spec.tmp);
}

export function alive(server: Server): void {
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(`server ${server.spec.key} died during the run${server.stderr() ? `:\n${server.stderr()}` : ''}`);
  }
}

export const node = process.execPath;
export function nodeServer(key: string, label: string, script: string, args: string[]): ServerSpec {
  return { key, label, cmd: node, args: [path.join(DIST, script), ...args], ready: 'line' };
}

/** Starts every server, runs `body`, and always stops them (and removes their temp dirs). */
export async function withServers(specs: ServerSpec[], body: (servers: Server[]) => Promise<void>): Promise<void> {
  const servers: Server[] = [];
  try {
    for (const spec of specs) servers.push(await start(spec));
    await body(servers);
  } finally {
    setStopping(true);
    await Promise.all(servers.map(stop));
    for (const spec of specs) if (spec.tmp) removeTmp(spec.tmp);
    setStopping(false);
  }
}

/** `xs` rotated left by `shift`, so that over the rounds no server always runs first. */
export function rotated<T>(xs: T[], shift: number): T[] {
  return xs.map((_, i) => xs[(i + shift) % xs.length]);
}
