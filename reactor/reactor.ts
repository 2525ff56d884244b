/**
 * The reactor: readiness of file descriptors as RxJS observables, from a
 * native epoll/kqueue/poll/select backend running inside Node's own loop.
 *
 * Vocabulary (mio's): a *registration* ties an fd to the reactor under a
 * *token* with an *interest* (readable, writable); each wakeup delivers a
 * batch of (token, readiness) pairs in one call from native code.
 */
import { Observable, type Subscriber } from 'rxjs';
import { native, type NativeReactor } from './binding';
import { errnoException, rxnetError, ERANGE } from './errors';
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

export type BackendName = 'epoll' | 'kqueue' | 'poll' | 'select';
const ALL_BACKENDS: readonly BackendName[] = ['epoll', 'kqueue', 'poll', 'select'];

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
  /** Bytes read natively for stream registrations. */
  bytesRead: number;
}

/**
 * Handler of one registration. For a registration made with `read: true`,
 * `length` is the number of bytes the reactor read for it into
 * `reactor.arena` at `offset` (0 at end of stream, a negative errno on a
 * failed read, `Reactor.NOT_READ` when nothing was read). For one made with
 * `datagrams`, `length` is the number of datagrams received and `offset` the
 * index of the first in `reactor.datagramMeta` / `reactor.datagramAddrs`.
 * Otherwise `length` is always `Reactor.NOT_READ`. Bytes in the arena are
 * valid only during the call.
 * @internal
 */
export type ReadinessHandler = (events: Readiness, length: number, offset: number) => void;

/**
 * One fd registered with a reactor. Internal building block of `watch()`
 * and the stream layer; an fd has at most one.
 * @internal
 */
export class Registration {
  /** @internal */
  constructor(
    private readonly reactor: Reactor,
    readonly fd: number,
    readonly token: number,
    public interest: Interest,
    public handler: ReadinessHandler,
  ) {}

  get active(): boolean {
    return this.reactor.isRegistered(this);
  }

  /** Changes the interest; a no-op when it is unchanged. Throws a Node-shaped error on failure. */
  update(interest: Interest): void {
    if (interest === this.interest) return;
    this.reactor.modify(this, interest);
  }

  /** Deregisters; no event reaches the handler afterwards, not even one already in the current batch. */
  close(): void {
    this.reactor.deregister(this);
  }
}

/** Shares one registration among the watchers of an fd. */
interface WatchGroup {
  registration: Registration;
  watchers: Watcher[];
}

interface Watcher {
  interest: Interest;
  subscriber: Subscriber<Readiness>;
}

const DEFAULT_BATCH = 1024;
// Room for a wakeup's reads: 32 streams at their 64 KiB budget, or 32
// maximum-size datagrams.
const ARENA_BYTES = 2 * 1024 * 1024;
// Datagrams per wakeup over all sockets.
const DGRAM_CAPACITY = 1024;
/** Fields per datagram in `datagramMeta`: offset, length, port, family (4/6), truncated. */
export const DGRAM_FIELDS = 5;
// Tokens are 29-bit generations; the top three bits ask for native reads
// and mark fds the registering layer owns.
const TOKEN_MASK = 0x1fffffff;
const FLAG_BITS = [0, C.READ_TOKEN, C.DGRAM_TOKEN, C.OWNED_TOKEN, C.READ_TOKEN | C.OWNED_TOKEN, C.DGRAM_TOKEN | C.OWNED_TOKEN];

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
  /** Value of `length` in a {@link ReadinessHandler} call when nothing was read. */
  static readonly NOT_READ: number = C.NOT_READ;

  /** Backends usable on this machine, best first (e.g. `['epoll', 'poll', 'select']` on Linux). */
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
  /** Where stream registrations' bytes arrive during a batch. @internal */
  readonly arena: Uint8Array;
  /** The same memory as a Buffer, for Buffer#copy. @internal */
  readonly arenaBuffer: Buffer;
  /** Per received datagram: DGRAM_FIELDS int32s. @internal */
  readonly datagramMeta: Int32Array;
  /** Per received datagram: 16 address bytes (4 used for IPv4). @internal */
  readonly datagramAddrs: Uint8Array;
  /**
   * The first fd this reactor cannot watch (select: FD_SETSIZE), or Infinity.
   */
  readonly fdLimit: number;

  private handle: NativeReactor | null;
  private readonly tokens: Uint32Array;
  private readonly events: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Int32Array;
  private readonly byToken = new Map<number, Registration>();
  private readonly byFd = new Map<number, Registration>();
  private readonly groups = new Map<number, WatchGroup>();
  private readonly batchEndHooks: Array<() => void> = [];
  private nextToken = 1;
  private readonly statsBuf = new Float64Array(5);

  constructor(options: ReactorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw rxnetError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object.');
    }
    const backend = options.backend ?? available[0];
    validateOneOf(backend, 'options.backend', ALL_BACKENDS);
    if (!available.includes(backend)) {
      throw rxnetError(
        Error,
        'ERR_RXNET_BACKEND_UNAVAILABLE',
        `The ${backend} backend is not available on ${process.platform}; available: ${available.join(', ')}`,
      );
    }
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    validateInteger(batchSize, 'options.batchSize', 1, 65536);

    this.tokens = new Uint32Array(batchSize);
    this.events = new Uint32Array(batchSize);
    this.offsets = new Uint32Array(batchSize);
    this.lengths = new Int32Array(batchSize);
    this.arena = new Uint8Array(ARENA_BYTES);
    this.arenaBuffer = Buffer.from(this.arena.buffer, this.arena.byteOffset, this.arena.byteLength);
    this.datagramMeta = new Int32Array(DGRAM_CAPACITY * DGRAM_FIELDS);
    this.datagramAddrs = new Uint8Array(DGRAM_CAPACITY * 16);
    const handle = native.createReactor(
      backend,
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
    const limit = native.reactorFdLimit(handle);
    this.fdLimit = limit < 0 ? Infinity : limit;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.handle === null;
  }

  /** Counters since the reactor was made. */
  get stats(): ReactorStats {
    const s = this.statsBuf;
    if (this.handle !== null) native.reactorStats(this.handle, s);
    return { wakeups: s[0], events: s[1], largestBatch: s[2], registrations: this.handle === null ? 0 : s[3], bytesRead: s[4] };
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
      if (this.handle === null) {
        subscriber.complete();
        return;
      }
      const watcher: Watcher = { interest, subscriber };
      let group = this.groups.get(fd);
      if (group === undefined) {
        // The handler holds its group: no lookup per event.
        const created: WatchGroup = { registration: null as unknown as Registration, watchers: [watcher] };
        try {
          created.registration = this.register(fd, interest, (events) => fanOut(created, events));
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
   * Registers `fd` with a handler. With `read: true` the reactor reads the fd
   * natively on readiness and hands the bytes over in the same call; with
   * `datagrams: size` it receives up to a budget of datagrams (recvmmsg) in
   * slots of `size` bytes. With `owned: true` the caller owns the fd and the
   * reactor closes it if the thread's environment tears down (worker exit)
   * while it is still registered. Throws a Node-shaped error if the backend refuses.
   * @internal
   */
  register(fd: number, interest: Interest, handler: ReadinessHandler, options: { read?: boolean; datagrams?: number; owned?: boolean } = {}): Registration {
    const handle = this.open();
    this.checkFdLimit(fd);
    if (this.byFd.has(fd)) {
      throw rxnetError(Error, 'ERR_RXNET_ALREADY_REGISTERED', `fd ${fd} is already registered with this reactor`);
    }
    const token =
      this.allocateToken() | (options.read ? C.READ_TOKEN : 0) | (options.datagrams ? C.DGRAM_TOKEN : 0) | (options.owned ? C.OWNED_TOKEN : 0);
    if (options.datagrams) native.reactorDatagramSize(handle, fd, options.datagrams);
    const r = native.reactorAdd(handle, fd, token >>> 0, interest);
    if (r < 0) throw this.registrationError(r, fd, 'register');
    const registration = new Registration(this, fd, token >>> 0, interest, handler);
    this.byToken.set(registration.token, registration);
    this.byFd.set(fd, registration);
    return registration;
  }

  /**
   * Runs `hook` once at the end of the current batch (e.g. to flush writes
   * coalesced during it), or on the next microtask when no batch is running.
   * @internal
   */
  atBatchEnd(hook: () => void): void {
    if (this.batchEndHooks.push(hook) === 1 && !this.dispatching) queueMicrotask(this.runBatchEnd);
  }

  /** @internal */
  isRegistered(registration: Registration): boolean {
    return this.byToken.get(registration.token) === registration;
  }

  /** @internal */
  modify(registration: Registration, interest: Interest): void {
    if (!this.isRegistered(registration)) return;
    const r = native.reactorModify(this.open(), registration.fd, registration.token, interest);
    if (r < 0) throw this.registrationError(r, registration.fd, 'modify');
    registration.interest = interest;
  }

  /** @internal */
  deregister(registration: Registration): void {
    if (!this.isRegistered(registration)) return;
    this.byToken.delete(registration.token);
    this.byFd.delete(registration.fd);
    if (this.handle !== null) native.reactorRemove(this.handle, registration.fd);
  }

  /**
   * Completes every watcher, deregisters every fd and releases the backend.
   * The fds themselves are not closed: they belong to whoever opened them.
   */
  close(): void {
    const handle = this.handle;
    if (handle === null) return;
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const registration of [...this.byToken.values()]) this.deregister(registration);
    this.handle = null;
    native.reactorClose(handle);
    for (const group of groups) for (const w of group.watchers) w.subscriber.complete();
    if (defaultReactor === this) defaultReactor = undefined;
  }

  private dispatching = false;

  /** Called by native code once per wakeup with the batch's size. */
  private readonly dispatch = (count: number): void => {
    const { tokens, events, lengths, offsets, byToken } = this;
    this.dispatching = true;
    try {
      for (let i = 0; i < count; i++) {
        // A registration removed earlier in this batch (or a reused fd's old
        // token) is simply absent: its remaining events are dropped.
        const registration = byToken.get(tokens[i]);
        if (registration === undefined) continue;
        try {
          registration.handler(events[i], lengths[i], offsets[i]);
        } catch (err) {
          // One failing handler must not cost the rest of the batch its
          // events: report it the way Node reports a throwing callback.
          reportLater(err);
        }
      }
    } finally {
      this.dispatching = false;
      if (this.batchEndHooks.length > 0) this.runBatchEnd();
    }
  };

  private readonly runBatchEnd = (): void => {
    const hooks = this.batchEndHooks.splice(0);
    for (const hook of hooks) {
      try {
        hook();
      } catch (err) {
        reportLater(err);
      }
    }
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

  private open(): NativeReactor {
    if (this.handle === null) throw rxnetError(Error, 'ERR_RXNET_REACTOR_CLOSED', 'The reactor is closed');
    return this.handle;
  }

  private checkFdLimit(fd: number): void {
    if (fd >= this.fdLimit) throw fdSetSizeError(fd, this.fdLimit, this.backend);
  }

  private registrationError(result: number, fd: number, op: string): Error {
    if (result === ERANGE && Number.isFinite(this.fdLimit)) return fdSetSizeError(fd, this.fdLimit, this.backend);
    return errnoException(result, `${this.backend}_${op}`);
  }

  private allocateToken(): number {
    // 29-bit generations: a token is not reused until 2^29 registrations
    // later, and then only if it is free.
    for (;;) {
      const token = this.nextToken;
      this.nextToken = (this.nextToken % TOKEN_MASK) + 1;
      if (FLAG_BITS.every((flags) => !this.byToken.has((token | flags) >>> 0))) return token;
    }
  }
}

const ALWAYS = C.HANGUP | C.ERROR;

/** Hands one event to the watchers of a group, each filtered to its interest. */
function fanOut(group: WatchGroup, events: Readiness): void {
  const watchers = group.watchers;
  for (let i = 0; i < watchers.length; i++) {
    const w = watchers[i];
    const mine = events & (w.interest | ALWAYS);
    // A watcher that unsubscribed earlier in this batch is closed already.
    if (mine !== 0 && !w.subscriber.closed) w.subscriber.next(mine);
  }
}

/** Rethrows outside the dispatch loop, so it reaches 'uncaughtException'. */
function reportLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/**
 * Copies bytes out of the arena into a Buffer the caller may keep. On Node 20
 * Buffer.allocUnsafe (pooled below 4 KiB) plus Buffer#copy is 3-4x faster than
 * Buffer.copyBytesFrom for the small reads a server mostly sees.
 * @internal
 */
export function copyOut(reactor: Reactor, offset: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  reactor.arenaBuffer.copy(chunk, 0, offset, offset + length);
  return chunk;
}

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

const available: readonly BackendName[] = Object.freeze(native.backends() as BackendName[]);
