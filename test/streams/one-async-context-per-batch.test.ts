/**
 * A server's batch enters one async context, its listener's, not two. The
 * batch's call into JavaScript is a MakeCallback, which enters an async
 * context anyway; when every event of the batch belongs to one listener (or
 * datagram socket, or outgoing connection), native code makes that call in
 * the listener's context itself, and JavaScript enters none of its own.
 * Before, every batch entered the reactor's context natively and then the
 * listener's in JavaScript (runInAsyncScope): two `before` hooks per batch,
 * and leaving them cost 5% of a -P 1 echo's user time (Node truncating its
 * resource stack through a generic property set).
 *
 * What handlers see is unchanged: the listener's async id and the store of
 * the serve() call, checked here and in async-context.test.ts.
 */
import test from 'ava';
import * as async_hooks from 'node:async_hooks';
import { AsyncLocalStorage } from 'node:async_hooks';
import { tap } from 'rxjs';
import { Reactor, serve } from '../../index';
import { backend, withReactor } from '../helpers/leaks';
import { client, destroy } from '../helpers/sockets';

const als = new AsyncLocalStorage<string>();

test.serial("a serve() echo's batches run in the listener's async context only, never entering the reactor's", (t) =>
  withReactor(t, async () => {
    const types = new Map<number, string>();
    const befores: number[] = [];
    const hook = async_hooks.createHook({
      init(asyncId, type) {
        if (type.startsWith('rxnet:')) types.set(asyncId, type);
      },
      before(asyncId) {
        befores.push(asyncId);
      },
    });
    hook.enable();
    const own = new Reactor({ backend });
    try {
      const inHandler: number[] = [];
      const stores = new Set<string | undefined>();
      const server = als.run('server', () =>
        serve({ host: '127.0.0.1', port: 0, reactor: own }, (conn) =>
          conn.data$.pipe(
            tap(() => {
              inHandler.push(async_hooks.executionAsyncId());
              stores.add(als.getStore());
            }),
          ),
        ),
      );
      const { port } = await server.listening;
      const idsOf = (type: string) => [...types].filter(([, ty]) => ty === type).map(([id]) => id);
      const [reactorId] = idsOf('rxnet:Reactor');
      const [listenerId] = idsOf('rxnet:Listener');
      t.truthy(reactorId, 'the reactor made its async resource');
      t.truthy(listenerId, 'the listener made its async resource');

      const socket = await client(port);
      befores.length = 0;
      // 20 round trips: each request is a batch of its own.
      for (let i = 0; i < 20; i++) {
        const echoed = new Promise<void>((resolve) => socket.once('data', () => resolve()));
        socket.write(`ping ${i}\n`);
        await echoed;
      }
      const rxnetBefores = befores.filter((id) => types.has(id));
      t.is(rxnetBefores.filter((id) => id === reactorId).length, 0, "no batch entered the reactor's context");
      t.true(rxnetBefores.filter((id) => id === listenerId).length >= 20, `the listener's context was entered for every batch (${rxnetBefores.length} entries)`);
      t.true(inHandler.length >= 20);
      t.true(inHandler.every((id) => id === listenerId), `the handler ran in the listener's async id ${listenerId}: ${[...new Set(inHandler)].join(',')}`);
      t.deepEqual([...stores], ['server'], "and saw the serve() call's store");
      await destroy(socket);
      await server.close();
    } finally {
      hook.disable();
      own.close();
    }
  }));
