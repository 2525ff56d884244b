/**
 * examples/tcp-echo with nc (netcat-openbsd): bytes come back unchanged,
 * for several clients at once and for more data than any buffer holds; and
 * the server stops gracefully.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { RawClient, requireOpenBsdNetcat, run } from '../helpers/clients';
import { trackedExamples } from '../helpers/tracked';

const start = trackedExamples(test);

/** nc -N: half-closes after its input, then prints what came back until the server's FIN. */
function nc(port: number, input: string) {
  return run('nc', ['-N', '127.0.0.1', String(port)], { input, timeoutMs: 10_000 });
}

test.serial('nc gets its lines back, and -q 1 (no half-close) works too', async (t) => {
  requireOpenBsdNetcat();
  const ex = await start('tcp-echo/main.js');
  const r = await nc(ex.port, 'hello\nworld\n');
  t.is(r.code, 0);
  t.is(r.stdout, 'hello\nworld\n');
  // -q 1: nc never half-closes; it quits a second after its input ends.
  const q = await run('nc', ['-q', '1', '127.0.0.1', String(ex.port)], { input: 'once more\n' });
  t.is(q.stdout, 'once more\n');
  t.is(await ex.stop(), 0, ex.output());
  t.is(ex.output().match(/listening on /g)?.length, 1, 'exactly one listening line');
});

test.serial('8 nc clients at once, 1.3 MB each, each gets exactly its own bytes back', async (t) => {
  requireOpenBsdNetcat();
  const ex = await start('tcp-echo/main.js');
  const inputs = Array.from({ length: 8 }, () => randomBytes(1024 * 1024).toString('base64'));
  const results = await Promise.all(inputs.map((input) => nc(ex.port, input)));
  results.forEach((r, i) => {
    t.is(r.code, 0);
    t.true(r.stdout === inputs[i], `client ${i}: ${r.stdout.length} of ${inputs[i].length} bytes, equal: ${r.stdout === inputs[i]}`);
  });
  t.is(await ex.stop(), 0, ex.output());
});

test.serial('SIGTERM: an idle client gets a FIN; bytes it sends after that do not crash the server; exit code 0', async (t) => {
  const ex = await start('tcp-echo/main.js');
  const c = await RawClient.connect(ex.port);
  try {
    c.write('before\n');
    await c.waitFor(/before\n/);
    const exit = ex.stop('SIGTERM');
    await c.waitEnded();
    c.write('after the FIN\n');
    c.socket.end();
    t.is(await exit, 0, ex.output());
    t.is(c.text, 'before\n');
  } finally {
    await c.destroy();
  }
});

test.serial('SIGINT exits with 0 too', async (t) => {
  const ex = await start('tcp-echo/main.js');
  t.is(await ex.stop('SIGINT'), 0, ex.output());
});
