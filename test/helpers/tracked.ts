/**
 * startExample() for tests that can fail midway: whatever a test started and
 * did not stop is killed after it, so one failure does not leave a server
 * running and the test process unable to exit.
 */
import type { TestFn } from 'ava';
import { startExample, type RunningExample } from './example';

/**
 * Registers an afterEach hook on `test` and returns a startExample that the
 * hook cleans up after.
 */
export function trackedExamples(test: TestFn): (script: string, args?: string[]) => Promise<RunningExample> {
  const running: RunningExample[] = [];
  test.afterEach.always(async () => {
    for (const ex of running.splice(0)) {
      if (ex.proc.exitCode === null && ex.proc.signalCode === null) await ex.stop('SIGKILL');
    }
  });
  return async (script, args = []) => {
    const ex = await startExample(script, args);
    running.push(ex);
    return ex;
  };
}
