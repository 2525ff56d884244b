import test from 'ava';
import { Worker } from 'node:worker_threads';
import { sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { fixture, within, workerExit, workerMessage } from '../helpers/processes';

interface EchoResult {
  type: 'result';
  id: number;
  threadId: number;
  backend: string;
  registeredWhileReady: number;
  echoed: string;
  sent: string;
  registrationsAfter: number;
}

test.serial('two workers each run a reactor of their own at the same time', (t) =>
  withReactor(t, async (reactor) => {
    const workers = [1, 2].map((id) => new Worker(fixture('echo-worker'), { workerData: { backend, id } }));
    const exits = workers.map((w) => workerExit(w));
    try {
      // Both workers have a live registration before either starts its echo.
      const ready = await within(Promise.all(workers.map((w) => workerMessage<{ type: string }>(w))), 10_000, 'both workers ready');
      t.deepEqual(ready.map((m) => m.type), ['ready', 'ready']);
      const results = workers.map((w) => workerMessage<EchoResult | { type: 'error'; error: string }>(w));
      for (const w of workers) w.postMessage('go');
      const [one, two] = await within(Promise.all(results), 10_000, 'both echo results');
      for (const [result, id] of [[one, 1], [two, 2]] as const) {
        if (result.type === 'error') {
          t.fail(`worker ${id}: ${result.error}`);
          continue;
        }
        t.is(result.id, id);
        t.is(result.backend, backend);
        t.is(result.registeredWhileReady, 1);
        t.is(result.echoed, result.sent);
        t.is(result.registrationsAfter, 0);
      }
      t.not((one as EchoResult).threadId, (two as EchoResult).threadId);
      t.deepEqual(await within(Promise.all(exits), 10_000, 'both workers to exit by themselves'), [0, 0]);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    // The main thread's reactor was never involved.
    t.is(reactor.stats.wakeups, 0);
  }));

for (const [mode, expectedCode] of [
  ['exit', 3],
  ['exit-in-dispatch', 4],
  ['terminate', 1],
  ['terminate-in-dispatch', 1],
] as const) {
  test.serial(`a worker with live registrations that ends by ${mode} exits cleanly with code ${expectedCode}`, (t) =>
    withReactor(t, async () => {
      const worker = new Worker(fixture('exit-worker'), { workerData: { backend, mode } });
      const exit = workerExit(worker);
      const errors: Error[] = [];
      worker.on('error', (err) => errors.push(err));
      const { fds } = await within(workerMessage<{ type: 'fds'; fds: number[] }>(worker), 10_000, 'the fds message');
      try {
        if (mode === 'terminate' || mode === 'terminate-in-dispatch') {
          const next = workerMessage<{ type: string; registrations: number }>(worker);
          worker.postMessage('go');
          const m = await within(next, 10_000, 'the worker to register');
          t.is(m.type, mode === 'terminate' ? 'registered' : 'spinning');
          t.is(m.registrations, 2, 'the worker is terminated with two registrations');
          t.is(await within(worker.terminate(), 10_000, 'terminate()'), expectedCode);
        } else {
          worker.postMessage('go');
        }
        t.is(await within(exit, 10_000, 'the worker to exit'), expectedCode);
        t.deepEqual(errors, []);
      } finally {
        await worker.terminate();
        // The worker's sockets are the process's: still open, ours to close.
        // Its reactor's own descriptors must be gone (withReactor checks).
        for (const fd of fds) sys.close(fd);
      }
    }));
}
