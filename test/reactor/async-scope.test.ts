/**
 * AsyncScope (reactor/asyncScope.ts): the async context of a listener,
 * datagram socket or outgoing connection, made natively so that a batch can
 * be called into JavaScript inside it. It must behave as an AsyncResource
 * does, and must not outlive its users.
 */
import test from 'ava';
import * as async_hooks from 'node:async_hooks';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { native } from '../../reactor/binding';
import { AsyncScope } from '../../reactor/asyncScope';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test.serial('runInAsyncScope: this, arguments, result and throws as AsyncResource; its async id and store inside, nested too', (t) => {
  const als = new AsyncLocalStorage<string>();
  const inits = new Map<number, string>();
  const hook = async_hooks.createHook({
    init(asyncId, type) {
      if (type.startsWith('test:')) inits.set(asyncId, type);
    },
  });
  hook.enable();
  const a = als.run('A', () => new AsyncScope('test:a'));
  const b = als.run('B', () => new AsyncScope('test:b'));
  hook.disable();
  const idOf = (type: string) => [...inits].find(([, ty]) => ty === type)?.[0];
  t.truthy(idOf('test:a'));
  t.truthy(idOf('test:b'));
  const self = { tag: 'self' };
  const seen: unknown[] = [];
  const result = a.runInAsyncScope(
    function (this: typeof self, x: number, y: string) {
      seen.push(this.tag, x, y, als.getStore(), async_hooks.executionAsyncId() === idOf('test:a'));
      b.runInAsyncScope(() => seen.push(als.getStore(), async_hooks.executionAsyncId() === idOf('test:b')), null);
      seen.push(als.getStore());
      return 42;
    },
    self,
    7,
    'y',
  );
  t.is(result, 42);
  t.deepEqual(seen, ['self', 7, 'y', 'A', true, 'B', true, 'A']);
  t.is(als.getStore(), undefined, 'left again');
  const err = new Error('thrown inside');
  t.is(
    t.throws(() => a.runInAsyncScope(() => { throw err; }, null)),
    err,
  );
  t.is(a.runInAsyncScope(() => als.getStore(), null), 'A', 'usable after a throw');
});

test.serial('the store survives garbage collection between entries (the native side holds the resource only weakly)', async (t) => {
  const als = new AsyncLocalStorage<string>();
  const scope = als.run('kept', () => new AsyncScope('test:gc'));
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.is(scope.runInAsyncScope(() => als.getStore(), null), 'kept');
});

test.serial('scopes nobody holds are destroyed (destroy hook, native slot released)', async (t) => {
  const destroyed = new Set<number>();
  const made = new Set<number>();
  const hook = async_hooks.createHook({
    init(asyncId, type) {
      if (type === 'test:drop') made.add(asyncId);
    },
    destroy(asyncId) {
      if (made.has(asyncId)) destroyed.add(asyncId);
    },
  });
  hook.enable();
  const before = native.asyncScopesLive();
  (() => {
    for (let i = 0; i < 1000; i++) new AsyncScope('test:drop').runInAsyncScope(() => i, null);
  })();
  const deadline = Date.now() + 10_000;
  while ((destroyed.size < 1000 || native.asyncScopesLive() > before) && Date.now() < deadline) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  hook.disable();
  // (Scopes of the tests before may go too.)
  t.true(native.asyncScopesLive() <= before, `every native scope released: ${native.asyncScopesLive()} live, ${before} before`);
  t.is(made.size, 1000);
  t.is(destroyed.size, 1000, 'a destroy hook for each');
});
