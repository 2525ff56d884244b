/**
 * The key-value store and the Redis commands it answers. Strings only, so no
 * WRONGTYPE. Keys expire lazily (a read of an expired key deletes it) and by
 * a periodic sweep over the keys that have a deadline, so keys nobody reads
 * again do not stay in memory forever.
 */
import { ErrorReply, latin1, OK, PONG, type Reply, type ReplyWriter } from './resp';

export interface Entry {
  value: Buffer;
  /** Epoch ms; 0 = never. */
  expiresAt: number;
}

/** Who is asking (HELLO reports the connection's id). */
export interface ClientInfo {
  id: number;
}

export interface StoreOptions {
  /** The clock, in epoch ms (tests pass a fake one). */
  now?: () => number;
}

type Handler = (store: Store, args: Buffer[], client: ClientInfo) => Reply;

interface Command {
  /** Redis' convention: N = exactly N arguments (the name included), -N = at least N. */
  arity: number;
  run: Handler;
}

const NOT_INTEGER = new ErrorReply('ERR value is not an integer or out of range');
const SYNTAX = new ErrorReply('ERR syntax error');
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A signed 64-bit decimal written canonically, as Redis' string2ll wants it
 * (no '+', no leading zeros, no blanks).
 * @returns the value, or null if `bytes` is not one.
 */
export function parseInt64(bytes: Buffer): bigint | null {
  if (bytes.length === 0 || bytes.length > 20) return null;
  const text = bytes.toString('latin1');
  if (!/^(0|-?[1-9][0-9]*)$/.test(text)) return null;
  const n = BigInt(text);
  return n < INT64_MIN || n > INT64_MAX ? null : n;
}

/** The in-memory keyspace plus the command table. */
export class Store {
  private readonly entries = new Map<string, Entry>();
  /** Keys with a deadline: what the sweep looks at. */
  private readonly volatile = new Set<string>();
  private sweepCursor: Iterator<string> | null = null;
  readonly now: () => number;

  constructor(options: StoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Keys held, expired ones not yet removed included (Redis' DBSIZE counts those too). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs one request (`args[0]` is the command name, any case) and returns
   * its reply; errors are replies too, never exceptions.
   */
  execute(args: Buffer[], client: ClientInfo = { id: 0 }): Reply {
    if (args.length === 0) return new ErrorReply('ERR empty command');
    const name = args[0].toString('latin1').toLowerCase();
    const command = COMMANDS.get(name);
    if (command === undefined) {
      const shown = args.slice(1, 20).map((a) => `'${a.toString('latin1').slice(0, 128)}' `).join('');
      return new ErrorReply(`ERR unknown command '${args[0].toString('latin1').slice(0, 128)}', with args beginning with: ${shown}`);
    }
    const { arity } = command;
    if ((arity > 0 && args.length !== arity) || args.length < -arity) {
      return new ErrorReply(`ERR wrong number of arguments for '${name}' command`);
    }
    return command.run(this, args, client);
  }

  /**
   * Runs the request whose arguments are `data[offsets[2i], offsets[2i+1])`
   * (what {@link RespParser.nextRequest} leaves) and encodes its reply into
   * `out`. GET and plain SET, what clients mostly send, are answered straight
   * from the bytes: no Buffer per argument, no Reply object, no command
   * lookup; everything else goes through {@link execute}, which decides the
   * same way.
   */
  executeInto(data: Buffer, offsets: Int32Array, n: number, client: ClientInfo, out: ReplyWriter): void {
    const name = offsets[0];
    if (offsets[1] - name === 3 && (data[name + 1] | 0x20) === 0x65 /* e */ && (data[name + 2] | 0x20) === 0x74 /* t */) {
      // OR 0x20 lower-cases a letter and maps no other byte onto one.
      const first = data[name] | 0x20;
      if (first === 0x67 /* g */ && n === 2) {
        const entry = this.live(latin1(data, offsets[2], offsets[3]));
        if (entry === undefined) out.nil();
        else out.bulk(entry.value);
        return;
      }
      if (first === 0x73 /* s */ && n === 3) {
        this.store(latin1(data, offsets[2], offsets[3]), copyOf(data, offsets[4], offsets[5]), 0);
        out.ok();
        return;
      }
    }
    const args = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) args[i] = data.subarray(offsets[2 * i], offsets[2 * i + 1]);
    out.reply(this.execute(args, client));
  }

  /** The live entry for `key`, deleting it if it has expired. */
  get(key: Buffer): Entry | undefined {
    return this.live(key.toString('latin1'));
  }

  /** Stores a copy of `value` (request bytes are views of a network chunk). */
  set(key: Buffer, value: Buffer, expiresAt = 0): void {
    this.store(key.toString('latin1'), copyOf(value, 0, value.length), expiresAt);
  }

  /** {@link get} by the key's latin1 string. */
  private live(k: string): Entry | undefined {
    const entry = this.entries.get(k);
    if (entry !== undefined && entry.expiresAt !== 0 && entry.expiresAt <= this.now()) {
      this.remove(k);
      return undefined;
    }
    return entry;
  }

  /** {@link set} by the key's latin1 string, with `value` already copied. */
  private store(k: string, value: Buffer, expiresAt: number): void {
    const entry = this.entries.get(k);
    // `volatile` holds exactly the keys whose entry has a deadline, so a key
    // without one before or after costs no Set operation.
    if (entry === undefined) {
      this.entries.set(k, { value, expiresAt });
      if (expiresAt !== 0) this.volatile.add(k);
      return;
    }
    // Entries are never handed out past a command (replies take the value
    // Buffer, not the entry), so overwriting in place is safe.
    const had = entry.expiresAt !== 0;
    entry.value = value;
    entry.expiresAt = expiresAt;
    if (expiresAt !== 0) {
      if (!had) this.volatile.add(k);
    } else if (had) {
      this.volatile.delete(k);
    }
  }

  /** Sets or clears (0) the deadline of a live key. @returns false if there is no such key. */
  expire(key: Buffer, expiresAt: number): boolean {
    const entry = this.get(key);
    if (entry === undefined) return false;
    entry.expiresAt = expiresAt;
    const k = key.toString('latin1');
    if (expiresAt !== 0) this.volatile.add(k);
    else this.volatile.delete(k);
    return true;
  }

  /** @returns whether a live key was deleted. */
  delete(key: Buffer): boolean {
    if (this.get(key) === undefined) return false;
    this.remove(key.toString('latin1'));
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.volatile.clear();
    this.sweepCursor = null;
  }

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
        this.remove(step.value);
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

  private remove(k: string): void {
    this.entries.delete(k);
    this.volatile.delete(k);
  }
}

/** A copy of `bytes[from, to)`: stored values must outlive the network chunk they came in. */
function copyOf(bytes: Buffer, from: number, to: number): Buffer {
  const n = to - from;
  // allocUnsafe takes small sizes from Node's pool, as Buffer.from did.
  const copy = Buffer.allocUnsafe(n);
  if (n <= 32) {
    for (let i = 0; i < n; i++) copy[i] = bytes[from + i];
  } else {
    bytes.copy(copy, 0, from, to);
  }
  return copy;
}

// ---- commands ----------------------------------------------------------------

const COMMANDS = new Map<string, Command>();
function command(name: string, arity: number, run: Handler): void {
  COMMANDS.set(name, { arity, run });
}

command('ping', -1, (_s, args) => (args.length > 2 ? new ErrorReply("ERR wrong number of arguments for 'ping' command") : args.length === 2 ? args[1] : PONG));
command('echo', 2, (_s, args) => args[1]);
command('get', 2, (s, args) => s.get(args[1])?.value ?? null);
command('del', -2, (s, args) => args.slice(1).filter((k) => s.delete(k)).length);
command('exists', -2, (s, args) => args.slice(1).filter((k) => s.get(k) !== undefined).length);
command('mget', -2, (s, args) => args.slice(1).map((k) => s.get(k)?.value ?? null));
command('dbsize', 1, (s) => s.size);

command('mset', -3, (s, args) => {
  if (args.length % 2 === 0) return new ErrorReply("ERR wrong number of arguments for 'mset' command");
  for (let i = 1; i < args.length; i += 2) s.set(args[i], args[i + 1]);
  return OK;
});

// SET key value [NX | XX] [EX seconds | PX milliseconds]
command('set', -3, (s, args) => {
  let condition: 'nx' | 'xx' | null = null;
  let ttlMs = 0;
  for (let i = 3; i < args.length; i++) {
    const option = args[i].toString('latin1').toLowerCase();
    if ((option === 'nx' || option === 'xx') && condition === null) {
      condition = option;
    } else if ((option === 'ex' || option === 'px') && ttlMs === 0 && i + 1 < args.length) {
      const n = parseInt64(args[++i]);
      if (n === null) return NOT_INTEGER;
      const ms = option === 'ex' ? n * 1000n : n;
      if (ms <= 0n || ms > BigInt(Number.MAX_SAFE_INTEGER - s.now())) return new ErrorReply("ERR invalid expire time in 'set' command");
      ttlMs = Number(ms);
    } else {
      return SYNTAX;
    }
  }
  const exists = s.get(args[1]) !== undefined;
  if ((condition === 'nx' && exists) || (condition === 'xx' && !exists)) return null;
  s.set(args[1], args[2], ttlMs === 0 ? 0 : s.now() + ttlMs);
  return OK;
});

/** INCR and friends: the value must be an int64, the result must stay one; the TTL is kept. */
function incrementBy(s: Store, key: Buffer, by: bigint): Reply {
  const entry = s.get(key);
  const current = entry === undefined ? 0n : parseInt64(entry.value);
  if (current === null) return NOT_INTEGER;
  const next = current + by;
  if (next < INT64_MIN || next > INT64_MAX) return new ErrorReply('ERR increment or decrement would overflow');
  s.set(key, Buffer.from(next.toString()), entry?.expiresAt ?? 0);
  return next;
}
command('incr', 2, (s, args) => incrementBy(s, args[1], 1n));
command('decr', 2, (s, args) => incrementBy(s, args[1], -1n));
for (const [name, sign] of [['incrby', 1n], ['decrby', -1n]] as const) {
  command(name, 3, (s, args) => {
    const by = parseInt64(args[2]);
    return by === null ? NOT_INTEGER : incrementBy(s, args[1], sign * by);
  });
}

// EXPIRE key seconds: a deadline in the past deletes the key at once.
command('expire', 3, (s, args) => {
  const seconds = parseInt64(args[2]);
  if (seconds === null) return NOT_INTEGER;
  const deadline = BigInt(s.now()) + seconds * 1000n;
  if (deadline > BigInt(Number.MAX_SAFE_INTEGER)) return new ErrorReply("ERR invalid expire time in 'expire' command");
  if (deadline <= BigInt(s.now())) return s.delete(args[1]) ? 1 : 0;
  return s.expire(args[1], Number(deadline)) ? 1 : 0;
});

// TTL key: -2 no such key, -1 no deadline, else seconds left, rounded as Redis does.
command('ttl', 2, (s, args) => {
  const entry = s.get(args[1]);
  if (entry === undefined) return -2;
  if (entry.expiresAt === 0) return -1;
  return Math.floor((Math.max(0, entry.expiresAt - s.now()) + 500) / 1000);
});

for (const name of ['flushall', 'flushdb']) {
  command(name, -1, (s, args) => {
    const mode = args[1]?.toString('latin1').toLowerCase();
    if (args.length > 2 || (mode !== undefined && mode !== 'sync' && mode !== 'async')) return SYNTAX;
    s.clear();
    return OK;
  });
}

/** QUIT: the caller replies +OK (as execute() does) and then closes the connection. */
export function isQuit(args: Buffer[]): boolean {
  return args.length > 0 && args[0].length === 4 && args[0].toString('latin1').toLowerCase() === 'quit';
}
command('quit', -1, () => OK);

// ---- what clients ask on connecting ---------------------------------------------

/** The configuration redis-benchmark reads at start; every other parameter is unknown. */
const CONFIG: Record<string, string> = { save: '', appendonly: 'no' };

/** Redis' glob subset that CONFIG GET patterns need: * and ?. */
function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

command('config', -2, (_s, args) => {
  const sub = args[1].toString('latin1').toLowerCase();
  if (sub !== 'get') return new ErrorReply(`ERR CONFIG ${sub.toUpperCase()} is not supported here`);
  if (args.length < 3) return new ErrorReply("ERR wrong number of arguments for 'config|get' command");
  const reply: string[] = [];
  for (const [name, value] of Object.entries(CONFIG)) {
    if (args.slice(2).some((p) => glob(p.toString('latin1').toLowerCase()).test(name))) reply.push(name, value);
  }
  return reply;
});

// redis-cli asks COMMAND DOCS for its hints: an empty table is a valid answer.
command('command', -1, (_s, args) => {
  const sub = args[1]?.toString('latin1').toLowerCase();
  if (sub === 'count') return 0;
  if (sub === undefined || sub === 'docs' || sub === 'list') return [];
  if (sub === 'info') return args.slice(2).map(() => null);
  return new ErrorReply(`ERR unknown subcommand '${sub}'. Try COMMAND HELP.`);
});

// HELLO [protover ...]: only RESP2 here. Refusing 3 with NOPROTO is what
// makes RESP3-first clients fall back to RESP2.
command('hello', -1, (_s, args, client) => {
  if (args.length >= 2) {
    const version = parseInt64(args[1]);
    if (version === null) return new ErrorReply('ERR Protocol version is not an integer or out of range');
    if (version !== 2n) return new ErrorReply('NOPROTO unsupported protocol version');
  }
  // RESP2 has no map type: a flat array of field, value, field, value...
  return ['server', 'rxnet-kv', 'version', '7.0.0', 'proto', 2, 'id', client.id, 'mode', 'standalone', 'role', 'master', 'modules', []];
});
