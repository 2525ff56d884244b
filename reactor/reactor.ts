/**
 * The reactor: readiness of file descriptors as RxJS observables, from a
 * native epoll/kqueue/poll/select backend running inside Node's own loop.
 *
 * Vocabulary (mio's): a *registration* ties an fd to the reactor under a
 * *token* with an *interest* (readable, writable); each wakeup delivers a
 * batch of (token, readiness) pairs in one call from native code.
 */
import { AsyncResource } from 'node:async_hooks';
import { Observable, type Subscriber } from 'rxjs';
import type { AsyncScope } from './asyncScope';
import { native, type NativeReactor } from './binding';
import { errnoException, rxnetError, ERANGE, systemErrorName } from './errors';
import { directIo, type ReactorIo } from './io';
import { validateFd, validateInteger, validateOneOf } from './validate';

const C = native.constants;

/** What a registration asks to be told about. Hangup and error are always reported. */
export const Interest = {
  Readable: C.READABLE,
  Writable: C.WRITABLE,
  Both: C.READABLE | C.WRITABLE,
} as const;
export type Interest = number;

/** Bits of a readiness emission. */
export const Ready = {
  Readable: C.READABLE,
  Writable: C.WRITABLE,
  /** The peer closed (at least its sending side). select cannot tell and reports Readable. */
  Hangup: C.HANGUP,
  /** A pending socket error; `sys.socketError(fd)` says which. */
  Error: C.ERROR,
} as const;
export type Readiness = number;

export type BackendName = 'io_uring' | 'epoll' | 'kqueue' | 'poll' | 'select';
const ALL_BACKENDS: readonly BackendName[] = ['io_uring', 'epoll', 'kqueue', 'poll', 'select'];

export interface ReactorOptions {
  /** Which mechanism to use; defaults to the best available (see {@link Reactor.available}). */
  backend?: BackendName;
  /** Most events handed to JavaScript per wakeup (default 1024). */
  batchSize?: number;
}

export interface ReactorStats {
  /** Batches delivered to JavaScript (one call each). */
  wakeups: number;
  /** Events in those batches. */
  events: number;
  /** The largest batch so far. */
  largestBatch: number;
  /** File descriptors currently registered with the backend. */
  registrations: number;
  /** Bytes read natively for stream registrations (ciphertext, for TLS). */
  bytesRead: number;
  /** TLS sessions alive in this reactor (handshaking or connected). */
  tlsSessions: number;
}

/**
 * What a registration reports to: `onReady(events, length, offset)` once per
 * wakeup in which its fd is ready. For a registration made with `read: true`,
 * `length` is the number of bytes the reactor read for it into
 * `reactor.arena` at `offset` (0 at end of stream, a negative errno on a
 * failed read, `Reactor.NOT_READ` when nothing was read). For one made with
 * `datagrams`, `length` is the number of datagrams received and `offset` the
 * index of the first in `reactor.datagramMeta` / `reactor.datagramAddrs`.
 * Otherwise `length` is always `Reactor.NOT_READ`. Bytes in the arena are
 * valid only during the call.
 *
 * A method on an object the caller already has (a connection, a listener),
 * not a closure: no function object per registration.
 * @internal
 */
export interface ReadinessTarget {
  onReady(events: Readiness, length: number, offset: number): void;
}

/** Something to run once at the end of the current batch, in its async context. @internal */
export interface BatchEndTarget {
  onBatchEnd(): void;
  readonly asyncContext: AsyncScope | null;
}

/**
 * One fd registered with a reactor. Internal building block of `watch()`
 * and the stream layer; an fd has at most one.
 * @internal
 */
export class Registration {
  constructor(
    private readonly reactor: Reactor,
    readonly fd: number,
    readonly token: number,
    public interest: Interest,
    public target: ReadinessTarget,
    /**
     * The async context the target's onReady runs in (the listen() or
     * connect() call's, as node:net runs a socket's callbacks in its
     * creator's), so AsyncLocalStorage stores reach data$ subscribers.
     */
    readonly context: AsyncScope | null,
  ) {}

  get active(): boolean {
    return this.reactor.isRegistered(this);
  }

  /** Changes the interest; a no-op when it is unchanged. Throws a Node-shaped error on failure. */
  update(interest: Interest): void {
    if (interest === this.interest) return;
    this.reactor.modify(this, interest);
  }

  /** Deregisters; no event reaches the target afterwards, not even one already in the current batch. */
  close(): void {
    this.reactor.deregister(this);
  }
}

/** Shares one registration among the watchers of an fd. */
class WatchGroup implements ReadinessTarget {
  registration!: Registration;
  constructor(public watchers: Watcher[]) {}

  /** Hands one event to the watchers, each filtered to its interest. */
  onReady(events: Readiness): void {
    const watchers = this.watchers;
    for (let i = 0; i < watchers.length; i++) {
      const w = watchers[i];
      const mine = events & (w.interest | ALWAYS);
      // A watcher that unsubscribed earlier in this batch is closed already.
      if (mine !== 0 && !w.subscriber.closed) w.context.runInAsyncScope(w.subscriber.next, w.subscriber, mine);
    }
  }
}

interface Watcher {
  interest: Interest;
  subscriber: Subscriber<Readiness>;
  /** The subscribe call's async context: each watcher's emissions run in its own. */
  context: AsyncResource;
}

/** Fields per datagram in `datagramMeta` (abi.h): offset, length, port, family (4/6), truncated. @internal */
export const DGRAM = {
  FIELDS: C.DGRAM_FIELDS,
  OFFSET: C.DGRAM_OFFSET,
  LENGTH: C.DGRAM_LENGTH,
  PORT: C.DGRAM_PORT,
  FAMILY: C.DGRAM_FAMILY,
  TRUNCATED: C.DGRAM_TRUNCATED,
  ADDR_SLOT: C.ADDR_SLOT,
} as const;

let defaultReactor: Reactor | undefined;

/**
 * A readiness reactor.
 *
 * @example
 * import { Reactor, Interest, Ready, sys } from 'rxnet';
 * const reactor = Reactor.default();
 * const sub = reactor.watch(fd, Interest.Readable).subscribe((ready) => {
 *   if (ready & Ready.Readable) {
 *     const n = sys.read(fd, buf);
 *     // n > 0: data; 0: end of stream; sys.EAGAIN: spurious wakeup
 *   }
 * });
 * sub.unsubscribe(); // deregisters; the script can now exit by itself
 */
export class Reactor {
  /** Value of `length` handed to a registration's target when nothing was read for it. */
  static readonly NOT_READ: number = C.NOT_READ;

  /**
   * Backends usable on this machine, best first (e.g. `['io_uring', 'epoll',
   * 'poll', 'select']` on Linux 6.0+; without `io_uring` where the kernel
   * lacks it, disables it, or a seccomp filter refuses it, as Docker's
   * default profile does).
   */
  static get available(): readonly BackendName[] {
    return available;
  }

  /**
   * The shared reactor of the current thread (each worker_thread has its own).
   * Its backend comes from the `RXNET_BACKEND` environment variable if set, else the best available.
   */
  static default(): Reactor {
    if (defaultReactor === undefined || defaultReactor.closed) {
      const fromEnv = process.env.RXNET_BACKEND;
      defaultReactor = new Reactor(fromEnv ? { backend: fromEnv as BackendName } : {});
    }
    return defaultReactor;
  }

  /** The mechanism in use. */
  readonly backend: BackendName;
  /**
   * How connections and listeners on this reactor write, close and accept:
   * the plain syscalls, or the backend's data path (io_uring). @internal
   */
  readonly io: ReactorIo;
  /** Where stream registrations' bytes arrive during a batch. @internal */
  readonly arena: Uint8Array;
  /** Per received datagram: DGRAM.FIELDS int32s. @internal */
  readonly datagramMeta: Int32Array;
  /** Per received datagram: DGRAM.ADDR_SLOT address bytes (4 used for IPv4). @internal */
  readonly datagramAddrs: Uint8Array;
  /**
   * The first fd this reactor cannot watch (select: FD_SETSIZE), or Infinity.
   */
  readonly fdLimit: number;

  private readonly handle: NativeReactor;
  // The handle's id, for the hot calls (binding.ts's reactor* and io*).
  private readonly id: number;
  private readonly fds: Int32Array;
  private readonly tokens: Uint32Array;
  private readonly events: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Int32Array;
  // The registration of each fd, indexed by fd number (descriptors are small
  // and dense): an event finds its registration by fd and is dropped unless
  // the token matches, with no Map per registration.
  private readonly byFd: Array<Registration | undefined> = [];
  private readonly groups = new Map<number, WatchGroup>();
  private batchEnd: BatchEndTarget[] = [];
  private nextToken = 1;
  private dispatching = false;
  // runBatchEnd is running: what is scheduled meanwhile is its next pass.
  private endingBatch = false;
  private readonly statsBuf = new Float64Array(6);

  constructor(options: ReactorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw rxnetError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object.');
    }
    const backend = options.backend ?? available[0];
    validateOneOf(backend, 'options.backend', ALL_BACKENDS);
    if (!available.includes(backend)) throw unavailableError(backend);
    const batchSize = options.batchSize ?? C.BATCH_CAPACITY;
    validateInteger(batchSize, 'options.batchSize', 1, 65536);

    this.fds = new Int32Array(batchSize);
    this.tokens = new Uint32Array(batchSize);
    this.events = new Uint32Array(batchSize);
    this.offsets = new Uint32Array(batchSize);
    this.lengths = new Int32Array(batchSize);
    this.arena = new Uint8Array(C.ARENA_BYTES);
    this.datagramMeta = new Int32Array(C.DGRAM_CAPACITY * C.DGRAM_FIELDS);
    this.datagramAddrs = new Uint8Array(C.DGRAM_CAPACITY * C.ADDR_SLOT);
    const handle = native.createReactor(
      backend,
      this.fds,
      this.tokens,
      this.events,
      this.offsets,
      this.lengths,
      this.arena,
      this.datagramMeta,
      this.datagramAddrs,
      this.dispatch,
    );
    if (typeof handle === 'number') throw errnoException(handle, `${backend}_create`);
    this.handle = handle;
    this.backend = backend;
    this.id = handle.id;
    this.io = backend === 'io_uring' ? ringIo(this.id) : directIo;
    this.fdLimit = handle.fdLimit < 0 ? Infinity : handle.fdLimit;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.handle.closed;
  }

  /** Counters since the reactor was made. */
  get stats(): ReactorStats {
    const s = this.statsBuf;
    const open = !this.handle.closed;
    if (open) this.handle.stats(s);
    return { wakeups: s[0], events: s[1], largestBatch: s[2], registrations: open ? s[3] : 0, bytesRead: s[4], tlsSessions: open ? s[5] : 0 };
  }

  /**
   * Readiness of `fd` as a cold observable. Subscribing registers the fd;
   * unsubscribing deregisters it. Each emission is one wakeup's readiness, a
   * bitmask of {@link Ready} flags filtered to this watcher's interest (plus
   * hangup and error, always). Level-triggered: while the fd stays ready, the
   * next wakeup reports it again. Several watchers of one fd share a single
   * registration with their interests merged.
   *
   * Errors (e.g. the fd is not open) reach `subscriber.error` as Node-shaped
   * errors; bad arguments throw here, synchronously. Completes when the
   * reactor closes.
   */
  watch(fd: number, interest: Interest = Interest.Readable): Observable<Readiness> {
    validateFd(fd);
    validateInteger(interest, 'interest', 0, Interest.Both);
    this.checkFdLimit(fd);
    return new Observable<Readiness>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return;
      }
      const watcher: Watcher = { interest, subscriber, context: new AsyncResource('rxnet:Watch') };
      const group = this.groups.get(fd);
      if (group === undefined) {
        const created = new WatchGroup([watcher]);
        try {
          created.registration = this.register(fd, interest, created);
        } catch (err) {
          subscriber.error(err);
          return;
        }
        this.groups.set(fd, created);
      } else {
        // Copy on write: a batch being dispatched keeps iterating the old array.
        group.watchers = [...group.watchers, watcher];
        try {
          group.registration.update(mergedInterest(group.watchers));
        } catch (err) {
          group.watchers = group.watchers.filter((w) => w !== watcher);
          subscriber.error(err);
          return;
        }
      }
      return () => this.unwatch(fd, watcher);
    });
  }

  /**
   * Registers `fd` for `target`. With `read: true` the reactor reads the fd
   * natively on readiness and hands the bytes over in the same call; with
   * `datagrams: size` it receives up to a budget of datagrams (recvmmsg) in
   * slots of `size` bytes. With `owned: true` the caller owns the fd and the
   * reactor closes it if the thread's environment tears down (worker exit)
   * while it is still registered. With `tls: true` (and `read: true`) what is
   * read is ciphertext for the fd's TLS session (reactor/tls.ts): the target
   * gets plaintext, with TLS status bits in `events`. `target.onReady` runs
   * in `context`, if given. Throws a Node-shaped error if the backend refuses.
   * @internal
   */
  register(
    fd: number,
    interest: Interest,
    target: ReadinessTarget,
    options: { read?: boolean; datagrams?: number; owned?: boolean; accept?: boolean; tls?: boolean; context?: AsyncScope | null } = {},
  ): Registration {
    this.checkFdLimit(fd);
    if (this.byFd[fd] !== undefined) {
      throw rxnetError(Error, 'ERR_RXNET_ALREADY_REGISTERED', `fd ${fd} is already registered with this reactor`);
    }
    const token =
      (this.allocateToken() |
        (options.read ? C.TOKEN_READ : 0) |
        (options.datagrams ? C.TOKEN_DGRAM : 0) |
        (options.owned ? C.TOKEN_OWNED : 0) |
        (options.accept ? C.TOKEN_ACCEPT : 0) |
        (options.tls ? C.TOKEN_TLS : 0)) >>>
      0;
    if (options.datagrams) this.handle.datagramSize(fd, options.datagrams);
    const r = native.reactorAdd(this.id, fd, token, interest, options.context?.id ?? 0);
    if (r < 0) throw this.registrationError(r, fd, 'register');
    const registration = new Registration(this, fd, token, interest, target, options.context ?? null);
    const byFd = this.byFd;
    // Grow with explicit holes-free entries: V8 keeps a dense array fast.
    while (byFd.length <= fd) byFd.push(undefined);
    byFd[fd] = registration;
    return registration;
  }

  /**
   * Calls `target.onBatchEnd()` once at the end of the current batch (e.g. to
   * flush writes coalesced during it), or on the next microtask when no batch
   * is running.
   * @internal
   */
  atBatchEnd(target: BatchEndTarget): void {
    if (this.batchEnd.push(target) === 1 && !this.dispatching && !this.endingBatch) queueMicrotask(this.runBatchEnd);
  }

  /** The native reactor's id, for reactor/tls.ts's calls (its TLS sessions live in this reactor). @internal */
  get nativeId(): number {
    return this.id;
  }

  /** @internal */
  isRegistered(registration: Registration): boolean {
    return this.byFd[registration.fd] === registration;
  }

  /** @internal */
  modify(registration: Registration, interest: Interest): void {
    if (!this.isRegistered(registration)) return;
    const r = native.reactorModify(this.id, registration.fd, registration.token, interest);
    if (r < 0) throw this.registrationError(r, registration.fd, 'modify');
    registration.interest = interest;
  }

  /** @internal */
  deregister(registration: Registration): void {
    if (!this.isRegistered(registration)) return;
    this.byFd[registration.fd] = undefined;
    native.reactorRemove(this.id, registration.fd);
  }

  /**
   * Completes every watcher, deregisters every fd and releases the backend.
   * The fds themselves are not closed: they belong to whoever opened them.
   */
  close(): void {
    if (this.handle.closed) return;
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const registration of this.byFd) if (registration !== undefined) this.deregister(registration);
    this.handle.close();
    for (const group of groups) for (const w of group.watchers) w.subscriber.complete();
    if (defaultReactor === this) defaultReactor = undefined;
  }

  /**
   * Called by native code once per wakeup with the batch's size. Events are
   * delivered in runs that share an async context, each run entered once:
   * a server's connections all share their listener's, so a batch of them
   * enters it once, not once per event. When every event of the batch
   * belongs to one scope, native code has made this call inside it
   * (`entered` is its id) and no run enters anything.
   */
  private readonly dispatch = (count: number, entered: number): void => {
    const { fds, tokens, byFd } = this;
    this.dispatching = true;
    try {
      for (let i = 0; i < count; ) {
        const registration = byFd[fds[i]];
        // A registration removed earlier in this batch, or an event for an
        // fd's earlier registration (a reused fd): dropped.
        if (registration === undefined || registration.token !== tokens[i]) {
          i++;
          continue;
        }
        const context = registration.context;
        i =
          context === null || context.id === entered
            ? this.deliverRun(i, count, context)
            : context.runInAsyncScope(this.deliverRun, this, i, count, context);
      }
    } finally {
      this.dispatching = false;
      if (this.batchEnd.length > 0) this.runBatchEnd();
    }
  };

  /** Delivers events from `start` while they belong to `context`; returns the index of the first that does not. */
  private deliverRun(start: number, count: number, context: AsyncScope | null): number {
    const { fds, tokens, events, lengths, offsets, byFd } = this;
    let i = start;
    for (; i < count; i++) {
      const registration = byFd[fds[i]];
      if (registration === undefined || registration.token !== tokens[i]) continue;
      if (registration.context !== context) break;
      try {
        registration.target.onReady(events[i], lengths[i], offsets[i]);
      } catch (err) {
        // One failing handler must not cost the rest of the batch its
        // events: report it the way Node reports a throwing callback.
        reportLater(err);
      }
    }
    // The batch's last run: its batch-end work in the same context runs now,
    // inside the scope already entered (a server's batch then enters its
    // async context once, not twice). The rest waits for dispatch's end.
    if (i === count && context !== null) this.runBatchEndIn(context);
    return i;
  }

  /** Runs the batch-end targets at the head of the list that share `context` (entered by the caller). */
  private runBatchEndIn(context: AsyncScope): void {
    const targets = this.batchEnd;
    if (targets.length === 0 || targets[0].asyncContext !== context) return;
    this.batchEnd = [];
    const done = runBatchEndTargets(targets, 0, context);
    // Targets of other contexts, then those added meanwhile: dispatch's end runs them.
    if (done < targets.length) this.batchEnd = targets.slice(done).concat(this.batchEnd);
  }

  private readonly runBatchEnd = (): void => {
    // Batch-end work may schedule more (a flush that drains, whose drain$
    // handler writes the next chunk of a pulled source): run that too, a
    // bounded number of passes, rather than a microtask hop per chunk.
    this.endingBatch = true;
    try {
      for (let pass = 0; pass < BATCH_END_PASSES && this.batchEnd.length > 0; pass++) {
        const targets = this.batchEnd;
        this.batchEnd = [];
        for (let i = 0; i < targets.length; ) {
          const context = targets[i].asyncContext;
          i = context === null ? runBatchEndTargets(targets, i, null) : context.runInAsyncScope(runBatchEndTargets, null, targets, i, context);
        }
      }
    } finally {
      this.endingBatch = false;
    }
    if (this.batchEnd.length > 0 && !this.dispatching) queueMicrotask(this.runBatchEnd);
  };

  private unwatch(fd: number, watcher: Watcher): void {
    const group = this.groups.get(fd);
    if (group === undefined) return;
    group.watchers = group.watchers.filter((w) => w !== watcher);
    if (group.watchers.length === 0) {
      this.groups.delete(fd);
      group.registration.close();
      return;
    }
    try {
      group.registration.update(mergedInterest(group.watchers));
    } catch {
      // Narrowing interest cannot fail for an fd that is still open; if it was
      // closed under us, the remaining watchers see its error/hangup instead.
    }
  }

  /** Throws ERR_RXNET_FD_SETSIZE for an fd this backend cannot watch. @internal */
  checkFdLimit(fd: number): void {
    if (fd >= this.fdLimit) throw fdSetSizeError(fd, this.fdLimit, this.backend);
  }

  private registrationError(result: number, fd: number, op: string): Error {
    if (result === ERANGE && Number.isFinite(this.fdLimit)) return fdSetSizeError(fd, this.fdLimit, this.backend);
    return errnoException(result, `${this.backend}_${op}`);
  }

  private allocateToken(): number {
    // Generations only need to differ between successive registrations of
    // one fd: a counter that wraps after 2^28 registrations does that.
    const token = this.nextToken;
    this.nextToken = token === C.TOKEN_GENERATION ? 1 : token + 1;
    return token;
  }
}

const ALWAYS = C.HANGUP | C.ERROR;

/** Passes of batch-end work run back to back before yielding to a microtask. */
const BATCH_END_PASSES = 16;

/** Runs targets' onBatchEnd from `start` while they share `context`; returns where it stopped. */
function runBatchEndTargets(targets: BatchEndTarget[], start: number, context: AsyncScope | null): number {
  let i = start;
  for (; i < targets.length && targets[i].asyncContext === context; i++) {
    try {
      targets[i].onBatchEnd();
    } catch (err) {
      reportLater(err);
    }
  }
  return i;
}

/** Rethrows outside the dispatch loop, so it reaches 'uncaughtException'. */
function reportLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/**
 * Copies bytes out of the arena into a Buffer the caller may keep. On Node 20
 * Buffer.allocUnsafe (pooled below 4 KiB) is 3-4x faster than
 * Buffer.copyBytesFrom for the small reads a server mostly sees. The copy is
 * TypedArray#set from a view, not Buffer#copy: Node's _copyActual is shared
 * by every Buffer#copy in the process and its property loads are megamorphic
 * (2.4% of a -P 1 echo's user time). Up to SMALL_COPY bytes (a redis command,
 * a DNS query's header) a loop beats making the view: 57 vs 96 ns for 14
 * bytes, even at 32, behind from 48 (node 20, a loop of 2M copies).
 * @internal
 */
export function copyOut(reactor: Reactor, offset: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  const arena = reactor.arena;
  if (length <= SMALL_COPY) {
    for (let i = 0; i < length; i++) chunk[i] = arena[offset + i];
  } else {
    chunk.set(arena.subarray(offset, offset + length));
  }
  return chunk;
}

const SMALL_COPY = 32;

function mergedInterest(watchers: readonly Watcher[]): Interest {
  let interest = 0;
  for (const w of watchers) interest |= w.interest;
  return interest;
}

function fdSetSizeError(fd: number, limit: number, backend: string): RangeError {
  return rxnetError(
    RangeError,
    'ERR_RXNET_FD_SETSIZE',
    `fd ${fd} cannot be watched by the ${backend} backend: it is at or above FD_SETSIZE (${limit}); use epoll, kqueue or poll for descriptors this high`,
  );
}

/** The stream layer's syscalls through a native reactor's own data path. */
function ringIo(id: number): ReactorIo {
  return {
    write: (fd, buf) => native.ioWrite(id, fd, buf),
    writev: (fd, chunks) => native.ioWritev(id, fd, chunks),
    sendfile: (outFd, inFd, offset, count) => native.ioSendfile(id, outFd, inFd, offset, count),
    shutdownWrite: (fd) => native.ioShutdownWrite(id, fd),
    close: (fd) => native.ioClose(id, fd),
    accept: (fd) => native.ioAccept(id, fd),
    connect: (fd, family, host, port) => native.ioConnect(id, fd, family, host, port),
    connectError: (fd) => native.ioConnectError(id, fd),
  };
}

/** ERR_RXNET_BACKEND_UNAVAILABLE, saying why where the OS said why. */
function unavailableError(backend: BackendName): Error {
  const why = native.backendError(backend);
  let reason = '';
  if (why < 0) {
    const code = systemErrorName(why);
    if (backend === 'io_uring') {
      reason =
        code === 'EPERM'
          ? ' (io_uring_setup: EPERM: refused by a seccomp filter, such as Docker\'s default profile, or by kernel.io_uring_disabled)'
          : code === 'ENOSYS'
            ? ' (io_uring_setup: ENOSYS: this kernel has no io_uring, or a seccomp filter hides it)'
            : code === 'EOPNOTSUPP' || code === 'ENOTSUP'
              ? ' (the kernel lacks an io_uring operation this backend needs: Linux 6.0 or later has them all)'
              : ` (io_uring_setup: ${code})`;
    } else if (code !== 'ENOSYS') {
      reason = ` (${code})`;
    }
  }
  return rxnetError(
    Error,
    'ERR_RXNET_BACKEND_UNAVAILABLE',
    `The ${backend} backend is not available on ${process.platform}${reason}; available: ${available.join(', ')}`,
  );
}

const available: readonly BackendName[] = Object.freeze(native.backends() as BackendName[]);
