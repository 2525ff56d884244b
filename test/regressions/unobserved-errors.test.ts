/**
 * Silence: a bind failure nobody observed printed nothing and the process
 * exited 0; handler errors vanished when nobody watched events$. Now an
 * unobserved fatal server error surfaces as node:net's unhandled 'error'
 * does (an uncaught exception with the Node-shaped error), and an unobserved
 * per-connection error becomes one process warning per kind of error:
 * a peer's garbage must cost only that peer its connection, never the
 * process, but it must not go unseen either.
 */
import { spawn } from 'node:child_process';
import test from 'ava';
import { backend } from '../helpers/leaks';
import { fixture } from '../helpers/processes';

function run(mode: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fixture('unobserved-errors'), mode], {
      env: { ...process.env, RXNET_BACKEND: backend },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('a bind failure nobody observes crashes the process with the Node-shaped error', async (t) => {
  const { code, stderr } = await run('bind');
  t.not(code, 0, 'the process must not exit 0 as if all went well');
  t.regex(stderr, /EADDRINUSE/);
  t.regex(stderr, /code: 'EADDRINUSE'/);
  t.regex(stderr, /syscall: 'bind'/);
});

test('a bind failure that is observed (listening awaited with a catch) does not crash', async (t) => {
  const { code, stdout, stderr } = await run('bind-observed');
  t.is(code, 0, stderr);
  t.is(stdout.trim(), 'observed EADDRINUSE');
});

test('handler errors nobody observes become one warning per kind; the server keeps serving', async (t) => {
  const { code, stdout, stderr } = await run('handler');
  t.is(code, 0, stderr);
  t.is(stdout.trim(), 'served still serving');
  const warnings = stderr.split('\n').filter((l) => l.includes('handler boom'));
  t.is(warnings.length, 1, stderr);
  t.regex(stderr, /Warning/);
});

test('subscribing data$ twice is not silent either', async (t) => {
  const { code, stderr } = await run('double-data');
  t.is(code, 0, stderr);
  t.regex(stderr, /ERR_RXNET_ALREADY_SUBSCRIBED/);
});
