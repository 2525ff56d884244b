import test from 'ava';
import { backend, delay, withReactor } from '../helpers/leaks';
import { runFixture, within } from '../helpers/processes';
import { client, destroy } from '../helpers/sockets';

test.serial('a script stays alive while registered and exits by itself once its last watcher is gone', (t) =>
  withReactor(t, async () => {
    const child = runFixture('exits-by-itself', [], { RXNET_BACKEND: backend });
    try {
      const hello = JSON.parse(await child.nextLine()) as { port: number; registrations: number };
      t.is(hello.registrations, 1);
      // Nothing but the registration keeps the child's loop alive now.
      await delay(300);
      t.true(child.alive(), 'the child is still running 300 ms later');
      const peer = await client(hello.port);
      const done = JSON.parse(await child.nextLine()) as { accepted: boolean; backend: string; aliveMs: number; registrations: number };
      t.true(done.accepted, 'the child accepted our connection, so it was alive and listening');
      t.is(done.backend, backend);
      t.true(done.aliveMs >= 300);
      t.is(done.registrations, 0);
      const exit = await within(child.exited, 5000, 'the child to exit by itself');
      t.deepEqual(exit, { code: 0, signal: null });
      await destroy(peer);
    } finally {
      await child.kill();
    }
  }));
