/**
 * Child processes and worker threads running the scripts in test/fixtures/
 * (compiled next to the tests, in dist/test/fixtures/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';

/** The compiled path of test/fixtures/<name>.ts. */
export function fixture(name: string): string {
  return path.join(__dirname, '..', 'fixtures', `${name}.js`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A node child process running a fixture, with its stdout split into lines. */
export interface NodeChild {
  readonly child: ChildProcess;
  /** Lines written to stdout so far. */
  readonly lines: string[];
  /** Resolves with the next stdout line not yet returned by nextLine(). */
  nextLine(ms?: number): Promise<string>;
  /** Resolves when the process has exited and its stdout is closed. */
  readonly exited: Promise<Exit>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Kills the process (if still running) and waits for it. */
  kill(): Promise<Exit>;
}

/**
 * Runs `node <fixture> ...args`. Only stdout is piped (one fd in this
 * process); stderr goes to ours so a child's crash is visible in the log.
 */
export function runFixture(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): NodeChild {
  const child = spawn(process.execPath, [fixture(name), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return linesOf(child, `fixture ${name}`);
}

/** Splits a child's stdout into lines and tracks its exit: the NodeChild of processes.ts for any spawned command. */
export function linesOf(child: ChildProcess, name: string): NodeChild {
  const lines: string[] = [];
  let partial = '';
  let consumed = 0;
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  let running = true;
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      running = false;
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    });
  });
  return {
    child,
    lines,
    exited,
    alive: () => running && child.exitCode === null && child.signalCode === null,
    async nextLine(ms = 10_000) {
      const deadline = Date.now() + ms;
      while (consumed >= lines.length) {
        if (!running) throw new Error(`${name} exited before writing line ${consumed + 1}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${name} wrote no line ${consumed + 1} within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return lines[consumed++];
    },
    async kill() {
      if (running) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** Resolves with `promise`'s value, or rejects after `ms` saying what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The worker's exit code, once it has exited. */
export function workerExit(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

/** The next message the worker posts; rejects if it errors or exits first. */
export function workerMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: T) => {
      cleanup();
      resolve(m);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`worker exited with ${code} before posting a message`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
