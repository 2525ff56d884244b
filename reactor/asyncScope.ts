/**
 * The async context a listener, a datagram socket or an outgoing connection
 * runs its callbacks in (the listen()/udp()/connect() call's, as node:net
 * runs a socket's callbacks in its creator's): what AsyncResource is, made
 * natively, so that native code can enter it too.
 *
 * Why not AsyncResource: a batch enters JavaScript through a MakeCallback,
 * which pushes an async context anyway. With an AsyncResource the batch then
 * entered a second one in JavaScript (runInAsyncScope), and the pair cost
 * more than either alone: Node keeps the resources of native pushes apart
 * from those of JavaScript ones, the inner push lands past a hole in the
 * JavaScript array, and leaving the outer MakeCallback truncates that array
 * through a generic property set (node::AsyncHooks::pop_async_context, 5% of
 * a `-P 1` echo's user time). With an AsyncScope the native side makes the
 * batch's MakeCallback in the scope itself when every event of the batch
 * belongs to it (a server's usual batch), and JavaScript enters nothing.
 *
 * Semantics are AsyncResource's: an `init` hook with the type given when
 * made, `before`/`after` around every entry, `executionAsyncId()` inside is
 * the scope's id, `executionAsyncResource()` its resource object (where
 * AsyncLocalStorage keeps the store current when the scope was made), and a
 * `destroy` hook once the scope is garbage (a FinalizationRegistry: its users
 * (registrations, connections, batch-end targets) hold it, so nothing can
 * still enter it then).
 * @internal
 */
import { native } from './binding';

const finalizer = new FinalizationRegistry<number>((id) => native.asyncScopeDestroy(id));

export class AsyncScope {
  /** The native scope's id; never 0 (0 stands for "no scope" in the batch). */
  readonly id: number;
  /**
   * What executionAsyncResource() returns inside, where AsyncLocalStorage
   * keeps its stores. Held here: napi_async_init holds it only weakly (Node's
   * docs say so), and once collected Node would enter a fresh object without
   * the stores (AsyncLocalStorage saw `undefined` in a test when it was not
   * held).
   */
  private readonly resource: object = {};

  constructor(type: string) {
    this.id = native.asyncScopeCreate(this.resource, type);
    finalizer.register(this, this.id);
  }

  /** Calls `fn` with `thisArg` and up to 4 arguments inside this scope; a throw propagates. */
  runInAsyncScope<This extends object | null, A extends unknown[], R>(fn: (this: This, ...args: A) => R, thisArg: This, ...args: A): R {
    return native.asyncScopeRun(this.id, fn, thisArg ?? globalThis, ...args) as R;
  }
}
