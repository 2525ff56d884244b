/**
 * The keyspace: string values by key, deadlines, and what Redis keeps beside
 * them (watched keys for WATCH, a cursor order for SCAN).
 *
 * Keys are latin1 strings (one char per byte of the key), so any key bytes
 * are a Map key. Keys expire lazily (a read of an expired key deletes it) and
 * by a periodic sweep over the keys that have a deadline, so keys nobody
 * reads again do not stay in memory forever.
 *
 * Values are Buffers that may be written to a connection by reference after
 * the command that read them returned (output.ts), so a value's bytes are
 * never changed once a reply may hold them: APPEND only writes past the end
 * of what was handed out, and SETRANGE/SETBIT change bytes in place only in a
 * buffer no reply has seen (`Entry.spare`), copying otherwise.
 */

export interface Entry {
  value: Buffer;
  /**
   * Epoch ms; 0 = never. A deadline past 2^53 ms (EXPIREAT in 285,000 years)
   * is approximate here and exact in {@link Store.deadline}.
   */
  expiresAt: number;
  /** The key's position in SCAN's order. */
  slot: number;
  /**
   * The value's backing buffer, owned by this entry and seen by no reply
   * (`value` is `spare.subarray(0, value.length)`): APPEND, SETRANGE and
   * SETBIT may work in place. Null once the value may be referenced elsewhere.
   */
  spare: Buffer | null;
}

/** A client's watch on one key (MULTI/EXEC's optimistic lock). */
export interface WatchedKey {
  readonly key: string;
  readonly client: Watcher;
  /** The key was already logically expired when watched: its deletion does not count as a change. */
  expired: boolean;
}

/** Whoever watches keys: told when a watched key changes. */
export interface Watcher {
  /** A watched key changed: the next EXEC must fail. */
  touched(): void;
}

export interface StoreOptions {
  /** The clock, in epoch ms (tests pass a fake one). */
  now?: () => number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The in-memory keyspace; the commands live in commands.ts. */
export class Store {
  private readonly entries = new Map<string, Entry>();
  /** Keys with a deadline: what the sweep looks at. */
  private readonly volatile = new Set<string>();
  /** Exact deadlines of keys whose deadline is past 2^53 ms. */
  private readonly farDeadlines = new Map<string, bigint>();
  private sweepCursor: Iterator<string> | null = null;
  /**
   * SCAN's order: slots[i] is a key or null. A key keeps its slot while it
   * exists, so a full SCAN returns every key present from start to end
   * (Redis' guarantee) however the keyspace changes meanwhile.
   */
  private slots: Array<string | null> = [];
  private freeSlots: number[] = [];
  private readonly watched = new Map<string, WatchedKey[]>();
  /** Keys deleted because their deadline passed (INFO's expired_keys). */
  expiredKeys = 0;
  readonly now: () => number;

  constructor(options: StoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Keys held, expired ones not yet removed included (Redis' DBSIZE counts those too). */
  get size(): number {
    return this.entries.size;
  }

  /** Keys with a deadline. */
  get volatileCount(): number {
    return this.volatile.size;
  }

  /** The live entry for `k`, deleting it if it has expired. */
  lookup(k: string): Entry | undefined {
    const entry = this.entries.get(k);
    if (entry !== undefined && entry.expiresAt !== 0 && entry.expiresAt <= this.now()) {
      this.expire(k);
      return undefined;
    }
    return entry;
  }

  /** True if `k` is held but its deadline has passed (it is not deleted here). */
  isExpired(k: string): boolean {
    const entry = this.entries.get(k);
    return entry !== undefined && entry.expiresAt !== 0 && entry.expiresAt <= this.now();
  }

  /**
   * Stores `value` (the caller's to give away: copy request bytes first)
   * under `k`. The deadline becomes `expiresAt` (0: none) unless `keepTtl`.
   */
  set(k: string, value: Buffer, expiresAt: number | bigint = 0, keepTtl = false): Entry {
    let entry = this.entries.get(k);
    if (entry === undefined) {
      entry = { value, expiresAt: 0, slot: this.takeSlot(k), spare: null };
      this.entries.set(k, entry);
    } else {
      // Entries are never handed out past a command (replies take the value
      // Buffer, not the entry), so overwriting in place is safe.
      entry.value = value;
      entry.spare = null;
    }
    if (!keepTtl) this.setDeadlineOf(k, entry, expiresAt);
    if (this.watched.size !== 0) this.touch(k);
    return entry;
  }

  /** The fast path's SET: {@link set} without a deadline, nothing returned. */
  setPlain(k: string, value: Buffer): void {
    const entry = this.entries.get(k);
    if (entry === undefined) {
      this.entries.set(k, { value, expiresAt: 0, slot: this.takeSlot(k), spare: null });
    } else {
      entry.value = value;
      entry.spare = null;
      // `volatile` holds exactly the keys whose entry has a deadline, so a
      // key without one costs no Set operation.
      if (entry.expiresAt !== 0) this.setDeadlineOf(k, entry, 0);
    }
    if (this.watched.size !== 0) this.touch(k);
  }

  /** Marks a value changed in place (APPEND, SETRANGE, SETBIT): watchers are told. */
  modified(k: string): void {
    if (this.watched.size !== 0) this.touch(k);
  }

  /** Deletes a live key. @returns whether there was one. */
  delete(k: string): boolean {
    if (this.lookup(k) === undefined) return false;
    this.remove(k);
    return true;
  }

  /** Sets (or with 0, clears) the deadline of a live entry; watchers are told. */
  setDeadline(k: string, entry: Entry, expiresAt: number | bigint): void {
    this.setDeadlineOf(k, entry, expiresAt);
    if (this.watched.size !== 0) this.touch(k);
  }

  /** The exact deadline of an entry (epoch ms), or -1 if it has none. */
  deadline(k: string, entry: Entry): bigint {
    if (entry.expiresAt === 0) return -1n;
    if (entry.expiresAt > MAX_SAFE) return this.farDeadlines.get(k)!;
    return BigInt(entry.expiresAt);
  }

  /** Moves a live entry to another key (RENAME), replacing what was there. */
  rename(from: string, to: string): void {
    const entry = this.entries.get(from)!;
    const deadline = this.deadline(from, entry);
    this.remove(from);
    this.set(to, entry.value, deadline < 0n ? 0 : deadline);
    const moved = this.entries.get(to)!;
    moved.spare = entry.spare;
  }

  /** Every key, expired ones included (KEYS filters). */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Deletes every key; watchers of keys that existed are told (FLUSHALL, FLUSHDB). */
  clear(): void {
    if (this.watched.size !== 0) {
      for (const [k, watches] of this.watched) {
        if (!this.entries.has(k)) continue;
        for (const w of [...watches]) {
          if (w.expired) w.expired = false;
          else w.client.touched();
        }
      }
    }
    this.entries.clear();
    this.volatile.clear();
    this.farDeadlines.clear();
    this.sweepCursor = null;
    this.slots = [];
    this.freeSlots = [];
  }

  /**
   * One SCAN step from `cursor`: the keys in the next slots until `count`
   * keys or 10 × count slots were seen (Redis' bound on empty buckets).
   * @returns the next cursor (0: done) and the keys seen, expired ones included.
   */
  scan(cursor: number, count: number): [number, string[]] {
    const slots = this.slots;
    const keys: string[] = [];
    let i = cursor;
    for (let visited = 0; i < slots.length && keys.length < count && visited < count * 10; i++, visited++) {
      const k = slots[i];
      if (k !== null) keys.push(k);
    }
    return [i >= slots.length ? 0 : i, keys];
  }

  /** A random live key, or null if there is none (expired ones met on the way are deleted). */
  randomKey(random: () => number = Math.random): string | null {
    while (this.entries.size > 0) {
      let k: string | null = null;
      // Probe slots while they are dense enough; otherwise pick from the Map.
      if (this.slots.length <= 4 * this.entries.size) {
        for (let tries = 0; tries < 64 && k === null; tries++) k = this.slots[Math.floor(random() * this.slots.length)];
      }
      if (k === null) {
        let n = Math.floor(random() * this.entries.size);
        for (const key of this.entries.keys()) {
          if (n-- === 0) {
            k = key;
            break;
          }
        }
      }
      if (k === null) return null;
      if (!this.isExpired(k)) return k;
      this.expire(k);
    }
    return null;
  }

  // ---- WATCH -----------------------------------------------------------------

  /** Watches `k` for `client`; @returns the watch, to pass to {@link unwatch}. */
  watch(k: string, client: Watcher): WatchedKey {
    const w: WatchedKey = { key: k, client, expired: this.isExpired(k) };
    const list = this.watched.get(k);
    if (list === undefined) this.watched.set(k, [w]);
    else list.push(w);
    return w;
  }

  unwatch(w: WatchedKey): void {
    const list = this.watched.get(w.key);
    if (list === undefined) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.watched.delete(w.key);
  }

  /** Redis' touchWatchedKey: a watched key changed. */
  private touch(k: string): void {
    const list = this.watched.get(k);
    if (list === undefined) return;
    for (const w of [...list]) {
      if (w.expired) {
        // Watched while already expired: its deletion changes nothing the client saw.
        if (!this.entries.has(k)) {
          w.expired = false;
          continue;
        }
      }
      w.client.touched();
    }
  }

  // ---- expiry ----------------------------------------------------------------

  /**
   * Deletes expired keys among the next `budget` keys that have a deadline,
   * resuming where the last sweep stopped: each sweep is bounded however
   * many keys there are, and successive sweeps cover them all.
   * @returns how many keys were deleted.
   */
  sweep(budget = 1000): number {
    const now = this.now();
    let removed = 0;
    this.sweepCursor ??= this.volatile.values();
    for (let i = 0; i < budget; i++) {
      const step = this.sweepCursor.next();
      if (step.done) {
        this.sweepCursor = null;
        break;
      }
      const entry = this.entries.get(step.value);
      if (entry !== undefined && entry.expiresAt !== 0 && entry.expiresAt <= now) {
        this.expire(step.value);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Sweeps every `intervalMs` on an unref'd timer (it never keeps the
   * process alive). @returns a function that stops it.
   */
  startSweeper(intervalMs = 100, budget = 1000): () => void {
    const timer = setInterval(() => this.sweep(budget), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private expire(k: string): void {
    this.expiredKeys++;
    this.remove(k);
  }

  /** Deletes `k` (live or expired); watchers are told. */
  remove(k: string): void {
    const entry = this.entries.get(k);
    if (entry === undefined) return;
    this.entries.delete(k);
    if (entry.expiresAt !== 0) {
      this.volatile.delete(k);
      if (entry.expiresAt > MAX_SAFE) this.farDeadlines.delete(k);
    }
    this.freeSlot(entry.slot);
    if (this.watched.size !== 0) this.touch(k);
  }

  private setDeadlineOf(k: string, entry: Entry, expiresAt: number | bigint): void {
    const had = entry.expiresAt !== 0;
    if (entry.expiresAt > MAX_SAFE) this.farDeadlines.delete(k);
    let ms: number;
    if (typeof expiresAt === 'bigint') {
      ms = Number(expiresAt);
      if (ms > MAX_SAFE) this.farDeadlines.set(k, expiresAt);
    } else {
      ms = expiresAt;
    }
    entry.expiresAt = ms;
    if (ms !== 0) {
      if (!had) this.volatile.add(k);
    } else if (had) {
      this.volatile.delete(k);
    }
  }

  private takeSlot(k: string): number {
    const slots = this.slots;
    while (this.freeSlots.length > 0) {
      const slot = this.freeSlots.pop()!;
      if (slot < slots.length && slots[slot] === null) {
        slots[slot] = k;
        return slot;
      }
    }
    return slots.push(k) - 1;
  }

  private freeSlot(slot: number): void {
    const slots = this.slots;
    slots[slot] = null;
    if (slot === slots.length - 1) {
      while (slots.length > 0 && slots[slots.length - 1] === null) slots.pop();
    } else {
      this.freeSlots.push(slot);
      // Stale entries (slots since trimmed or reused) are skipped when popped; keep the list bounded.
      if (this.freeSlots.length > 2 * slots.length + 64) this.freeSlots = this.freeSlots.filter((s) => s < slots.length && slots[s] === null);
    }
  }
}
