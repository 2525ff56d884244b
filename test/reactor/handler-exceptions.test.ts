import test from 'ava';
import { backend, withReactor } from '../helpers/leaks';
import { runFixture, within } from '../helpers/processes';

// In a child process: ava would count an uncaught exception in its own
// worker as a failure of whatever test is running.
for (const mode of ['watch', 'register'] as const) {
  test.serial(`an exception thrown by a ${mode}() handler reaches 'uncaughtException' and the reactor keeps going`, (t) =>
    withReactor(t, async () => {
      const child = runFixture('handler-throws', [mode], { RXNET_BACKEND: backend });
      try {
        const result = JSON.parse(await child.nextLine()) as { uncaught: string[]; calls: number; registrations: number; error?: string };
        t.is(result.error, undefined);
        t.deepEqual(result.uncaught, ['boom 1', 'boom 2'], 'each throw reached the process handler, in order');
        t.true(result.calls >= 5, 'the handler was called again after throwing');
        t.is(result.registrations, 0);
        t.deepEqual(await within(child.exited, 5000, 'the child to exit'), { code: 0, signal: null });
      } finally {
        await child.kill();
      }
    }));
}
