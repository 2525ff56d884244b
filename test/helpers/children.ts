/**
 * Child processes for the stream suites: a fixture run through a shell (to
 * lower its descriptor limit with `ulimit -n`), with stdout split into lines
 * the way runFixture() in processes.ts does.
 */
import { spawn } from 'node:child_process';
import { fixture, linesOf, type NodeChild } from './processes';


/**
 * Runs `node <fixture> ...args` with at most `nofile` descriptors, through
 * `bash -c 'ulimit -n N && exec node ...'`: exec keeps the pid, so
 * `child.pid` is the node process itself.
 */
export function runFixtureWithFdLimit(name: string, nofile: number, args: string[] = [], env: NodeJS.ProcessEnv = {}): NodeChild {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `ulimit -n ${nofile} && exec ${[process.execPath, fixture(name), ...args].map(quote).join(' ')}`;
  const child = spawn('bash', ['-c', command], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return linesOf(child, `fixture ${name}`);
}

/** Waits for the first stdout line (read so far or still to come) that satisfies `match`. */
export async function lineMatching(child: NodeChild, match: (line: string) => boolean, what: string, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = child.lines.find(match);
    if (found !== undefined) return found;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; lines: ${child.lines.slice(-5).join(' | ')}`);
    if (!child.alive()) throw new Error(`the child exited while waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(left, 10)));
  }
}
