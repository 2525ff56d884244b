/**
 * Child processes for the stream suites: a fixture run through a shell (to
 * lower its descriptor limit with `ulimit -n`), with stdout split into lines
 * the way runFixture() in processes.ts does.
 */
import { spawn } from 'node:child_process';
import { fixture, type NodeChild, type Exit } from './processes';

/** Splits a child's stdout into lines and tracks its exit: the NodeChild of processes.ts for any spawned command. */
function linesOf(child: ReturnType<typeof spawn>, name: string): NodeChild {
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
