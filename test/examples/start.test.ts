/**
 * npm start (scripts/start.mjs): every demo on ports from --base-port, and
 * Ctrl-C in a terminal, which signals the whole foreground process group,
 * ends every demo gracefully with exit code 0.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { delay } from '../helpers/leaks';

const root = path.resolve(__dirname, '..', '..', '..');
const DEMOS = ['tcp-echo', 'udp-echo', 'chat', 'multicore', 'kv', 'http', 'dns', 'proxy'];

test.serial('npm start --base-port 0: all demos listen; a SIGINT to the process group (Ctrl-C) stops them all with exit code 0', async (t) => {
  // A group of its own, as a terminal's foreground job has.
  const launcher = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs'), '--base-port', '0'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  launcher.stdout!.on('data', (d) => (out += d));
  launcher.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => launcher.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  try {
    const deadline = Date.now() + 30_000;
    // The try-it line follows each listening line (it may come in a later chunk).
    const listening = () => DEMOS.filter((d) => new RegExp(`^\\[${d}\\]\\s+listening on `, 'm').test(out) && new RegExp(`^\\[${d}\\]\\s+try: `, 'm').test(out));
    while (listening().length < DEMOS.length && Date.now() < deadline) await delay(50);
    t.deepEqual(listening(), DEMOS, out);
    // The try-it lines name the ports the demos got, and use no nc -q (macOS's nc has none).
    t.regex(out, /\[proxy\]\s+try: curl localhost:\d+\//);
    t.notRegex(out, /nc -q/);
    process.kill(-launcher.pid!, 'SIGINT');
    t.is(await exited, 0, out);
    t.regex(out, /all stopped cleanly/);
    t.notRegex(out, /exited unexpectedly|exit codes:/);
  } finally {
    try {
      process.kill(-launcher.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

test.serial('npm start with a bad --base-port is a usage error (exit code 2)', async (t) => {
  const run = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs'), '--base-port', '70000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  run.stderr!.on('data', (d) => (err += d));
  t.is(await new Promise((resolve) => run.on('exit', resolve)), 2);
  t.regex(err, /--base-port must be/);
});
