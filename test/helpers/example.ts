/**
 * Starts a compiled demo server (dist/examples/...) as a child process on a
 * free port with the backend under test, and stops it with SIGTERM,
 * reporting how it exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { backend } from './leaks';

export interface RunningExample {
  proc: ChildProcess;
  host: string;
  port: number;
  /** Everything the example printed so far. */
  output(): string;
  /** SIGTERM, then waits for exit: resolves with the exit code (or the signal's name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

// dist/test/helpers -> the package root
const root = path.resolve(__dirname, '..', '..', '..');

/**
 * @param script path under dist/examples, e.g. 'kv/main.js'
 * @param args extra command-line arguments
 */
export function startExample(script: string, args: string[] = [], timeoutMs = 10000): Promise<RunningExample> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(root, 'dist', 'examples', script), '--host', '127.0.0.1', '--port', '0', '--backend', backend, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let settled = false;
    const exited = new Promise<number | string>((res) => proc.once('exit', (code, signal) => res(code ?? signal ?? -1)));
    const timer = setTimeout(() => fail(new Error(`${script} did not print "listening on" within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(err);
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on \[?([^\]\s]+?)\]?:(\d+)/.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({
          proc,
          host: m[1],
          port: Number(m[2]),
          output: () => out,
          stop: (signal = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => fail(new Error(`${script} exited with ${code} before listening:\n${out}`)));
  });
}
