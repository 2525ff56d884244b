import * as async_hooks from 'node:async_hooks';
import test from 'ava';
import { Interest, Reactor, sys } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { record, until } from '../helpers/readiness';
import { socketPair } from '../helpers/sockets';

test.serial('microtasks queued by a handler run before the next wakeup (MakeCallback semantics)', (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const pairs: Array<[number, number]> = [];
    const rec = record(reactor.watch(b, Interest.Writable), () => {
      const at = reactor.stats.wakeups;
      queueMicrotask(() => pairs.push([at, reactor.stats.wakeups]));
      void Promise.resolve().then(() => pairs.push([at, reactor.stats.wakeups]));
    });
    await until(() => rec.values.length >= 5, 'five wakeups');
    rec.stop();
    await new Promise((resolve) => setImmediate(resolve));
    t.true(pairs.length >= 10);
    for (const [queuedAt, ranAt] of pairs) t.is(ranAt, queuedAt, 'ran in the same wakeup it was queued in');
    sys.close(a);
    sys.close(b);
  }));

test.serial("handlers run under rxnet's async resources (one per reactor, one per watcher's subscription), so async_hooks see the activity", (t) =>
  withReactor(t, async (reactor) => {
    const [a, b] = await socketPair((fd) => reactor.watch(fd));
    const resources = new Map<number, string>();
    const hook = async_hooks.createHook({
      init(asyncId, type) {
        if (type.startsWith('rxnet')) resources.set(asyncId, type);
      },
    });
    hook.enable();
    const own = new Reactor({ backend });
    t.deepEqual([...resources.values()], ['rxnet:Reactor'], 'one async resource per reactor');
    try {
      const ids: number[] = [];
      // The batch runs under the reactor's resource; each watcher's emissions
      // under the one made when it subscribed (its AsyncLocalStorage context).
      const rec = record(own.watch(b, Interest.Writable), () => ids.push(async_hooks.executionAsyncId()));
      hook.disable();
      const watchers = [...resources].filter(([, type]) => type === 'rxnet:Watch').map(([id]) => id);
      t.is(watchers.length, 1, 'one async resource per watch() subscription');
      await until(() => rec.values.length >= 3, 'three wakeups');
      rec.stop();
      t.true(ids.every((x) => x === watchers[0]), `handlers ran in async id ${watchers[0]}: ${ids.join(',')}`);
    } finally {
      own.close();
    }
    sys.close(a);
    sys.close(b);
  }));
