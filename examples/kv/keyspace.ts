/**
 * Generic key commands and expiry, with Redis 7.0's rules (db.c, expire.c).
 * One database: index 0, as a redis-server started with `databases 1`.
 */
import type { Client } from './client';
import { globMatch } from './glob';
import { exposed } from './strings';
import {
  cmd,
  cstr,
  Flag,
  INT64_MAX,
  INT64_MIN,
  invalidExpire,
  is,
  NO_SUCH_KEY,
  NOT_INTEGER,
  OUT_OF_RANGE_DB,
  parseInt32,
  parseInt64,
  SAME_OBJECT,
  str,
  SYNTAX,
  type Command,
} from './registry';
import { ErrorReply, OK, SimpleString, type Reply } from './resp';

const GROUP = 'generic';
const W = Flag.Write;
const R = Flag.ReadOnly;
const F = Flag.Fast;
const ONE_KEY = [1, 1, 1] as const;

/** Redis' selectDb with one database: index 0 only. */
/** Redis' getIntFromObjectOrReply with no message of its own: a long long first, then within C int. */
const DB_OUT_OF_INT_RANGE = new ErrorReply('ERR value is out of range, value must between -2147483648 and 2147483647');

function validDb(arg: Buffer): number | ErrorReply {
  if (parseInt64(arg) === null) return NOT_INTEGER;
  const id = parseInt32(arg);
  if (id === null) return DB_OUT_OF_INT_RANGE;
  return id === 0 ? 0 : OUT_OF_RANGE_DB;
}

// ---- EXPIRE and TTL ----------------------------------------------------------------

const enum ExpireFlag {
  NX = 1,
  XX = 2,
  GT = 4,
  LT = 8,
}

/** Redis' expireGenericCommand: `base` is now for relative forms, 0 for the *AT forms. */
function expireGeneric(c: Client, args: Buffer[], base: bigint, seconds: boolean, fullname: string): Reply {
  let flags = 0;
  for (let j = 3; j < args.length; j++) {
    const a = args[j];
    if (is(a, 'nx')) flags |= ExpireFlag.NX;
    else if (is(a, 'xx')) flags |= ExpireFlag.XX;
    else if (is(a, 'gt')) flags |= ExpireFlag.GT;
    else if (is(a, 'lt')) flags |= ExpireFlag.LT;
    // addReplyErrorFormat trims CR and LF off the message's ends.
    else return new ErrorReply(`ERR Unsupported option ${cstr(a).replace(/[\r\n]+$/, '')}`);
  }
  if (flags & ExpireFlag.NX && flags & (ExpireFlag.XX | ExpireFlag.GT | ExpireFlag.LT)) {
    return new ErrorReply('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags & ExpireFlag.GT && flags & ExpireFlag.LT) return new ErrorReply('ERR GT and LT options at the same time are not compatible');
  let when = parseInt64(args[2]);
  if (when === null) return NOT_INTEGER;
  if (seconds) {
    // C's integer division truncates toward zero: LLONG_MIN / 1000 is -9223372036854775.
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpire(fullname);
    when *= 1000n;
  }
  if (when > INT64_MAX - base) return invalidExpire(fullname);
  when += base;
  const store = c.server.store;
  const k = str(args[1]);
  const entry = store.lookup(k);
  if (entry === undefined) return 0;
  if (flags !== 0) {
    const current = store.deadline(k, entry);
    if (flags & ExpireFlag.NX && current !== -1n) return 0;
    if (flags & ExpireFlag.XX && current === -1n) return 0;
    if (flags & ExpireFlag.GT && (when <= current || current === -1n)) return 0;
    if (flags & ExpireFlag.LT && current !== -1n && when >= current) return 0;
  }
  if (when <= BigInt(store.now())) {
    store.remove(k);
    return 1;
  }
  store.setDeadline(k, entry, when);
  return 1;
}

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 no key, -1 no deadline. */
function ttlGeneric(c: Client, key: Buffer, ms: boolean, absolute: boolean): Reply {
  const store = c.server.store;
  const k = str(key);
  const entry = store.lookup(k);
  if (entry === undefined) return -2;
  const deadline = store.deadline(k, entry);
  if (deadline === -1n) return -1;
  let ttl = absolute ? deadline : deadline - BigInt(store.now());
  if (ttl < 0n) ttl = 0n;
  if (ms) return ttl;
  // (ttl + 500) / 1000: overflows int64 near its top in C, yet redis-server
  // (gcc, -O2) replies the exact quotient there, as BigInt computes it.
  return (ttl + 500n) / 1000n;
}

// ---- SCAN ------------------------------------------------------------------------

/**
 * Redis' parseScanCursorOrReply (strtoul, base 10): optional sign, digits,
 * nothing else; a leading blank or overflow is refused, '-' wraps as in C.
 */
function parseCursor(arg: Buffer): bigint | null {
  // strtoul reads the argument as a C string: up to its first NUL.
  const text = cstr(arg);
  if (/^[ \t\n\v\f\r]/.test(text)) return null;
  const m = /^([+-]?)([0-9]*)$/.exec(text);
  if (m === null) return null;
  if (m[2] === '') return m[1] === '' ? 0n : null;
  let v = BigInt(m[2]);
  if (v > 2n ** 64n - 1n) return null;
  if (m[1] === '-') v = (2n ** 64n - v) % 2n ** 64n;
  return v;
}

function scan(c: Client, args: Buffer[]): Reply {
  const cursorArg = parseCursor(args[1]);
  if (cursorArg === null) return new ErrorReply('ERR invalid cursor');
  let count = 10;
  let pattern: Buffer | null = null;
  let type: Buffer | null = null;
  for (let i = 2; i < args.length; ) {
    const left = args.length - i;
    if (is(args[i], 'count') && left >= 2) {
      const n = parseInt64(args[i + 1]);
      if (n === null) return NOT_INTEGER;
      if (n < 1n) return SYNTAX;
      count = n > 1_000_000n ? 1_000_000 : Number(n);
      i += 2;
    } else if (is(args[i], 'match') && left >= 2) {
      pattern = args[i + 1].length === 1 && args[i + 1][0] === 0x2a ? null : args[i + 1];
      i += 2;
    } else if (is(args[i], 'type') && left >= 2) {
      type = args[i + 1];
      i += 2;
    } else {
      return SYNTAX;
    }
  }
  const store = c.server.store;
  const start = cursorArg > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(cursorArg);
  const [next, keys] = store.scan(start, count);
  const found: string[] = [];
  for (const k of keys) {
    if (pattern !== null && !globMatch(pattern, Buffer.from(k, 'latin1'))) continue;
    if (type !== null && !is(type, 'string')) continue;
    // Redis' expireIfNeeded: an expired key met by SCAN is deleted and not returned.
    if (store.isExpired(k)) {
      store.lookup(k);
      continue;
    }
    found.push(k);
  }
  return [String(next), found];
}

// ---- the table -----------------------------------------------------------------

export const KEYSPACE_COMMANDS: Command[] = [
  cmd('del', {
    arity: -2,
    flags: W,
    keys: [1, -1, 1],
    group: GROUP,
    summary: 'Deletes keys.',
    run: (c, args) => {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (c.server.store.delete(str(args[i]))) n++;
      return n;
    },
  }),
  cmd('unlink', {
    arity: -2,
    flags: W | F,
    keys: [1, -1, 1],
    group: GROUP,
    summary: 'Deletes keys (the memory is freed by the garbage collector anyway).',
    run: (c, args) => {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (c.server.store.delete(str(args[i]))) n++;
      return n;
    },
  }),
  cmd('exists', {
    arity: -2,
    flags: R | F,
    keys: [1, -1, 1],
    group: GROUP,
    summary: 'Counts the given keys that exist (repeats count again).',
    run: (c, args) => {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (c.server.store.lookup(str(args[i])) !== undefined) n++;
      return n;
    },
  }),
  cmd('touch', {
    arity: -2,
    flags: R | F,
    keys: [1, -1, 1],
    group: GROUP,
    summary: 'Counts the given keys that exist (there is no LRU clock to update here).',
    run: (c, args) => {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (c.server.store.lookup(str(args[i])) !== undefined) n++;
      return n;
    },
  }),
  cmd('type', {
    arity: 2,
    flags: R | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Returns the type of a key: string or none.',
    run: (c, args) => new SimpleString(c.server.store.lookup(str(args[1])) === undefined ? 'none' : 'string'),
  }),
  cmd('keys', {
    arity: 2,
    flags: R,
    group: GROUP,
    summary: 'Returns the keys matching a glob pattern.',
    run: (c, args) => {
      const store = c.server.store;
      const pattern = args[1];
      const all = pattern.length === 1 && pattern[0] === 0x2a;
      const found: string[] = [];
      for (const k of store.keys()) {
        if (!all && !globMatch(pattern, Buffer.from(k, 'latin1'))) continue;
        if (!store.isExpired(k)) found.push(k);
      }
      return found;
    },
  }),
  cmd('scan', { arity: -2, flags: R, group: GROUP, summary: 'Iterates over the keys with a cursor (MATCH, COUNT, TYPE).', run: scan }),
  cmd('randomkey', {
    arity: 1,
    flags: R,
    group: GROUP,
    summary: 'Returns a random key.',
    run: (c) => c.server.store.randomKey(),
  }),
  cmd('rename', {
    arity: 3,
    flags: W,
    keys: [1, 2, 1],
    group: GROUP,
    summary: 'Renames a key, replacing the target.',
    run: (c, args) => rename(c, args, false),
  }),
  cmd('renamenx', {
    arity: 3,
    flags: W | F,
    keys: [1, 2, 1],
    group: GROUP,
    summary: 'Renames a key if the target does not exist.',
    run: (c, args) => rename(c, args, true),
  }),
  cmd('copy', {
    arity: -3,
    flags: W,
    keys: [1, 2, 1],
    group: GROUP,
    summary: 'Copies a key (DB 0 only; REPLACE).',
    run: (c, args) => {
      let replace = false;
      for (let j = 3; j < args.length; j++) {
        if (is(args[j], 'replace')) {
          replace = true;
        } else if (is(args[j], 'db') && args.length - j - 1 >= 1) {
          const db = validDb(args[j + 1]);
          if (db instanceof ErrorReply) return db;
          j++;
        } else {
          return SYNTAX;
        }
      }
      if (args[1].equals(args[2])) return SAME_OBJECT;
      const store = c.server.store;
      const from = str(args[1]);
      const to = str(args[2]);
      const entry = store.lookup(from);
      if (entry === undefined) return 0;
      const deadline = store.deadline(from, entry);
      if (store.lookup(to) !== undefined && !replace) return 0;
      // Both keys now share the bytes: neither may change them in place.
      const value = exposed(entry);
      store.set(to, value, deadline === -1n ? 0 : deadline);
      return 1;
    },
  }),
  cmd('move', {
    arity: 3,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Moves a key to another database (there is only DB 0).',
    run: (_c, args) => {
      const db = validDb(args[2]);
      return db instanceof ErrorReply ? db : SAME_OBJECT;
    },
  }),
  cmd('expire', { arity: -3, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Sets a time to live in seconds (NX, XX, GT, LT).', run: (c, args) => expireGeneric(c, args, BigInt(c.server.store.now()), true, 'expire') }),
  cmd('pexpire', { arity: -3, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Sets a time to live in milliseconds (NX, XX, GT, LT).', run: (c, args) => expireGeneric(c, args, BigInt(c.server.store.now()), false, 'pexpire') }),
  cmd('expireat', { arity: -3, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Sets a deadline as a Unix time in seconds (NX, XX, GT, LT).', run: (c, args) => expireGeneric(c, args, 0n, true, 'expireat') }),
  cmd('pexpireat', { arity: -3, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Sets a deadline as a Unix time in milliseconds (NX, XX, GT, LT).', run: (c, args) => expireGeneric(c, args, 0n, false, 'pexpireat') }),
  cmd('ttl', { arity: 2, flags: R | F, keys: ONE_KEY, group: GROUP, summary: 'Seconds left to live (-1: none, -2: no key).', run: (c, args) => ttlGeneric(c, args[1], false, false) }),
  cmd('pttl', { arity: 2, flags: R | F, keys: ONE_KEY, group: GROUP, summary: 'Milliseconds left to live (-1: none, -2: no key).', run: (c, args) => ttlGeneric(c, args[1], true, false) }),
  cmd('expiretime', { arity: 2, flags: R | F, keys: ONE_KEY, group: GROUP, summary: 'The deadline as a Unix time in seconds.', run: (c, args) => ttlGeneric(c, args[1], false, true) }),
  cmd('pexpiretime', { arity: 2, flags: R | F, keys: ONE_KEY, group: GROUP, summary: 'The deadline as a Unix time in milliseconds.', run: (c, args) => ttlGeneric(c, args[1], true, true) }),
  cmd('persist', {
    arity: 2,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Removes the deadline of a key.',
    run: (c, args) => {
      const store = c.server.store;
      const k = str(args[1]);
      const entry = store.lookup(k);
      if (entry === undefined || entry.expiresAt === 0) return 0;
      store.setDeadline(k, entry, 0);
      return 1;
    },
  }),
  cmd('dbsize', { arity: 1, flags: R | F, group: 'server', summary: 'Number of keys (expired ones not yet deleted included).', run: (c) => c.server.store.size }),
  ...['flushdb', 'flushall'].map((name) =>
    cmd(name, {
      arity: -1,
      flags: W,
      group: 'server',
      summary: name === 'flushdb' ? 'Deletes every key of the database.' : 'Deletes every key.',
      run: (c, args) => {
        if (!(args.length === 1 || (args.length === 2 && (is(args[1], 'sync') || is(args[1], 'async'))))) return SYNTAX;
        c.server.store.clear();
        return OK;
      },
    }),
  ),
  cmd('select', {
    arity: 2,
    flags: Flag.Loading | Flag.Stale | F,
    group: 'connection',
    summary: 'Selects the database: only 0 exists.',
    run: (_c, args) => {
      const db = validDb(args[1]);
      return db instanceof ErrorReply ? db : OK;
    },
  }),
  cmd('swapdb', {
    arity: 3,
    flags: W | F,
    group: 'server',
    summary: 'Swaps two databases: only 0 exists.',
    run: (_c, args) => {
      const a = parseInt32(args[1]);
      if (a === null) return new ErrorReply('ERR invalid first DB index');
      const b = parseInt32(args[2]);
      if (b === null) return new ErrorReply('ERR invalid second DB index');
      return a === 0 && b === 0 ? OK : OUT_OF_RANGE_DB;
    },
  }),
];

/** Redis' renameGenericCommand. */
function rename(c: Client, args: Buffer[], nx: boolean): Reply {
  const store = c.server.store;
  const from = str(args[1]);
  const to = str(args[2]);
  if (store.lookup(from) === undefined) return NO_SUCH_KEY;
  if (from === to) return nx ? 0 : OK;
  if (store.lookup(to) !== undefined && nx) return 0;
  store.rename(from, to);
  return nx ? 1 : OK;
}
