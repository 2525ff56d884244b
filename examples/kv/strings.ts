/**
 * The string commands, with Redis 7.0's argument checks, option rules and
 * error texts (t_string.c, bitops.c).
 */
import type { Client } from './client';
import { addLongDouble, formatLongDouble, isSpecial, parseLongDouble } from './longdouble';
import {
  asciiLower,
  cmd,
  Flag,
  INT64_MAX,
  INT64_MIN,
  invalidExpire,
  MAX_STRING,
  NOT_FLOAT,
  NOT_INTEGER,
  parseInt64,
  str,
  STRING_TOO_LONG,
  SYNTAX,
  wrongArity,
  type Command,
} from './registry';
import { ErrorReply, OK, type Reply } from './resp';
import type { Entry, Store } from './store';

const GROUP = 'string';
const EMPTY = Buffer.alloc(0);

/** A copy of request bytes: stored values must outlive the network chunk they came in. */
export function copyOf(bytes: Buffer, from = 0, to = bytes.length): Buffer {
  const n = to - from;
  // allocUnsafe takes small sizes from Node's pool, as Buffer.from does.
  const copy = Buffer.allocUnsafe(n);
  if (n <= 32) {
    for (let i = 0; i < n; i++) copy[i] = bytes[from + i];
  } else {
    bytes.copy(copy, 0, from, to);
  }
  return copy;
}

/** An entry's value for a reply: from now on it may be referenced by queued output, so it is never changed in place. */
export function exposed(entry: Entry): Buffer {
  entry.spare = null;
  return entry.value;
}

/** Makes entry's value `length` bytes long in a buffer it owns (zero-filling growth), ready to change in place. */
function ownValue(entry: Entry, length: number): Buffer {
  const old = entry.value;
  let spare = entry.spare;
  if (spare === null || spare.length < length) {
    // Grow like Redis' sds (double up to 1 MB, then 1 MB at a time): appends cost amortized linear time.
    const capacity = length < 1024 * 1024 ? Math.max(2 * length, 16) : length + 1024 * 1024;
    spare = Buffer.allocUnsafeSlow(capacity);
    old.copy(spare, 0, 0, Math.min(old.length, length));
  }
  if (length > old.length) spare.fill(0, old.length, length);
  entry.spare = spare;
  entry.value = spare.subarray(0, length);
  return entry.value;
}

/** Redis' checkStringLength: the result of growing a string by `extra` must stay within proto-max-bulk-len. */
function tooLong(size: number, extra: number): boolean {
  return size + extra > MAX_STRING;
}

// ---- SET and its family ---------------------------------------------------------

const enum SetFlag {
  NX = 1 << 0,
  XX = 1 << 1,
  EX = 1 << 2,
  PX = 1 << 3,
  KEEPTTL = 1 << 4,
  GET = 1 << 5,
  EXAT = 1 << 6,
  PXAT = 1 << 7,
  PERSIST = 1 << 8,
}

/** An option word compared as Redis does it: case-insensitive, and as in C a NUL ends it. */
function option(arg: Buffer): string {
  const nul = arg.indexOf(0);
  return asciiLower((nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1'));
}

/**
 * Redis' parseExtendedStringArgumentsOrReply: SET's and GETEX's options,
 * each allowed only if no conflicting one came before (so `NX NX` is fine,
 * `EX 1 EX 2` too, but `EX EX 10` is a syntax error).
 * @returns the flags and the expire argument, or an error.
 */
function parseStringOptions(args: Buffer[], isSet: boolean): { flags: number; expire: Buffer | null } | ErrorReply {
  let flags = 0;
  let expire: Buffer | null = null;
  for (let j = isSet ? 3 : 2; j < args.length; j++) {
    const opt = option(args[j]);
    const next = j === args.length - 1 ? null : args[j + 1];
    const timed = SetFlag.EX | SetFlag.PX | SetFlag.EXAT | SetFlag.PXAT;
    if (opt === 'nx' && !(flags & SetFlag.XX) && isSet) {
      flags |= SetFlag.NX;
    } else if (opt === 'xx' && !(flags & SetFlag.NX) && isSet) {
      flags |= SetFlag.XX;
    } else if (opt === 'get' && isSet) {
      flags |= SetFlag.GET;
    } else if (opt === 'keepttl' && !(flags & (SetFlag.PERSIST | timed)) && isSet) {
      flags |= SetFlag.KEEPTTL;
    } else if (opt === 'persist' && !isSet && !(flags & (timed | SetFlag.KEEPTTL))) {
      flags |= SetFlag.PERSIST;
    } else if (next !== null && !(flags & (SetFlag.KEEPTTL | SetFlag.PERSIST)) && ['ex', 'px', 'exat', 'pxat'].includes(opt)) {
      const own = opt === 'ex' ? SetFlag.EX : opt === 'px' ? SetFlag.PX : opt === 'exat' ? SetFlag.EXAT : SetFlag.PXAT;
      if (flags & (timed & ~own)) return SYNTAX;
      flags |= own;
      expire = next;
      j++;
    } else {
      return SYNTAX;
    }
  }
  return { flags, expire };
}

/**
 * Redis' getExpireMillisecondsOrReply: the deadline (epoch ms) an expire
 * argument means, exactly in int64 arithmetic: a positive number, seconds
 * that fit when multiplied by 1000, relative ones that do not overflow when
 * the clock is added.
 */
function deadlineFrom(store: Store, arg: Buffer, flags: number, fullname: string): bigint | ErrorReply {
  const value = parseInt64(arg);
  if (value === null) return NOT_INTEGER;
  const seconds = (flags & (SetFlag.EX | SetFlag.EXAT)) !== 0;
  if (value <= 0n || (seconds && value > INT64_MAX / 1000n)) return invalidExpire(fullname);
  let ms = seconds ? value * 1000n : value;
  if (flags & (SetFlag.EX | SetFlag.PX)) ms += BigInt(store.now());
  // In C the addition wraps negative past int64: Redis then refuses it.
  if (ms > INT64_MAX) return invalidExpire(fullname);
  return ms;
}

/** Redis' setGenericCommand, for SET, SETNX, SETEX and PSETEX. */
function setGeneric(c: Client, fullname: string, flags: number, key: Buffer, value: Buffer, expireArg: Buffer | null, okReply: Reply, abortReply: Reply): Reply {
  const store = c.server.store;
  let deadline: bigint | 0 = 0;
  if (expireArg !== null) {
    const d = deadlineFrom(store, expireArg, flags, fullname);
    if (d instanceof ErrorReply) return d;
    deadline = d;
  }
  const k = str(key);
  const entry = store.lookup(k);
  const old = flags & SetFlag.GET ? (entry === undefined ? null : exposed(entry)) : undefined;
  if ((flags & SetFlag.NX && entry !== undefined) || (flags & SetFlag.XX && entry === undefined)) {
    return old !== undefined ? old : abortReply;
  }
  store.set(k, copyOf(value), deadline, (flags & SetFlag.KEEPTTL) !== 0);
  return old !== undefined ? old : okReply;
}

function set(c: Client, args: Buffer[]): Reply {
  const parsed = parseStringOptions(args, true);
  if (parsed instanceof ErrorReply) return parsed;
  return setGeneric(c, 'set', parsed.flags, args[1], args[2], parsed.expire, OK, null);
}

function getex(c: Client, args: Buffer[]): Reply {
  const parsed = parseStringOptions(args, false);
  if (parsed instanceof ErrorReply) return parsed;
  const store = c.server.store;
  const k = str(args[1]);
  const entry = store.lookup(k);
  if (entry === undefined) return null;
  let deadline: bigint | null = null;
  if (parsed.expire !== null) {
    const d = deadlineFrom(store, parsed.expire, parsed.flags, 'getex');
    if (d instanceof ErrorReply) return d;
    deadline = d;
  }
  const value = exposed(entry);
  if (parsed.flags & (SetFlag.EXAT | SetFlag.PXAT) && deadline !== null && deadline <= BigInt(store.now())) {
    store.remove(k);
  } else if (deadline !== null) {
    store.setDeadline(k, entry, deadline);
  } else if (parsed.flags & SetFlag.PERSIST && entry.expiresAt !== 0) {
    store.setDeadline(k, entry, 0);
  }
  return value;
}

// ---- numbers ---------------------------------------------------------------------

/** Redis' incrDecrCommand: the value must be an int64 and stay one; the TTL is kept. */
function incrementBy(c: Client, key: Buffer, by: bigint): Reply {
  const store = c.server.store;
  const k = str(key);
  const entry = store.lookup(k);
  const current = entry === undefined ? 0n : parseInt64(entry.value);
  if (current === null) return NOT_INTEGER;
  const next = current + by;
  if (next < INT64_MIN || next > INT64_MAX) return new ErrorReply('ERR increment or decrement would overflow');
  store.set(k, Buffer.from(next.toString(), 'latin1'), 0, true);
  return next;
}

function incrbyfloat(c: Client, args: Buffer[]): Reply {
  const store = c.server.store;
  const k = str(args[1]);
  const entry = store.lookup(k);
  const value = entry === undefined ? parseLongDouble(Buffer.from('0')) : parseLongDouble(entry.value);
  if (value === null) return NOT_FLOAT;
  const increment = parseLongDouble(args[2]);
  if (increment === null) return NOT_FLOAT;
  const sum = addLongDouble(value, increment);
  if (isSpecial(sum)) return new ErrorReply('ERR increment would produce NaN or Infinity');
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  store.set(k, text, 0, true);
  return text;
}

// ---- ranges and bits ----------------------------------------------------------

function getrange(c: Client, args: Buffer[]): Reply {
  let start = parseInt64(args[2]);
  if (start === null) return NOT_INTEGER;
  let end = parseInt64(args[3]);
  if (end === null) return NOT_INTEGER;
  const entry = c.server.store.lookup(str(args[1]));
  if (entry === undefined) return EMPTY;
  const value = entry.value;
  const length = BigInt(value.length);
  if (start < 0n && end < 0n && start > end) return EMPTY;
  if (start < 0n) start = length + start;
  if (end < 0n) end = length + end;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return EMPTY;
  // A copy: the range is a reply, and the value may change in place later.
  return Buffer.from(value.subarray(Number(start), Number(end) + 1));
}

function setrange(c: Client, args: Buffer[]): Reply {
  const store = c.server.store;
  const offset = parseInt64(args[2]);
  if (offset === null) return NOT_INTEGER;
  if (offset < 0n) return new ErrorReply('ERR offset is out of range');
  const patch = args[3];
  const k = str(args[1]);
  let entry = store.lookup(k);
  if (entry === undefined) {
    if (patch.length === 0) return 0;
    if (offset + BigInt(patch.length) > BigInt(MAX_STRING)) return STRING_TOO_LONG;
    entry = store.set(k, EMPTY);
  } else {
    if (patch.length === 0) return entry.value.length;
    if (offset + BigInt(patch.length) > BigInt(MAX_STRING)) return STRING_TOO_LONG;
  }
  const at = Number(offset);
  const value = ownValue(entry, Math.max(entry.value.length, at + patch.length));
  patch.copy(value, at);
  store.modified(k);
  return value.length;
}

function append(c: Client, args: Buffer[]): Reply {
  const store = c.server.store;
  const k = str(args[1]);
  const entry = store.lookup(k);
  const tail = args[2];
  if (entry === undefined) {
    store.set(k, copyOf(tail));
    return tail.length;
  }
  if (tooLong(entry.value.length, tail.length)) return STRING_TOO_LONG;
  const at = entry.value.length;
  // Writes only past what any reply may hold: safe even for an exposed value once copied.
  const value = ownValue(entry, at + tail.length);
  tail.copy(value, at);
  store.modified(k);
  return value.length;
}

const BIT_OFFSET = new ErrorReply('ERR bit offset is not an integer or out of range');

/** Redis' getBitOffsetFromArgument (plain form): a bit offset within proto-max-bulk-len bytes. */
function bitOffset(arg: Buffer): number | null {
  const v = parseInt64(arg);
  if (v === null || v < 0n || v >> 3n >= BigInt(MAX_STRING)) return null;
  return Number(v);
}

function setbit(c: Client, args: Buffer[]): Reply {
  const offset = bitOffset(args[2]);
  if (offset === null) return BIT_OFFSET;
  const bit = parseInt64(args[3]);
  if (bit === null || (bit & ~1n) !== 0n) return new ErrorReply('ERR bit is not an integer or out of range');
  const store = c.server.store;
  const k = str(args[1]);
  // Offsets reach 2^32 - 1: arithmetic, not a 32-bit shift, finds the byte.
  const byte = Math.floor(offset / 8);
  let entry = store.lookup(k);
  let dirty = false;
  if (entry === undefined) {
    entry = store.set(k, EMPTY);
    dirty = true;
  }
  const oldLength = entry.value.length;
  if (byte >= oldLength) dirty = true;
  const mask = 1 << (7 - (offset % 8));
  const before = byte < oldLength ? entry.value[byte] & mask : 0;
  if (dirty || (before !== 0) !== (bit === 1n)) {
    const value = ownValue(entry, Math.max(oldLength, byte + 1));
    value[byte] = bit === 1n ? value[byte] | mask : value[byte] & ~mask;
    store.modified(k);
  }
  return before !== 0 ? 1 : 0;
}

function getbit(c: Client, args: Buffer[]): Reply {
  const offset = bitOffset(args[2]);
  if (offset === null) return BIT_OFFSET;
  const entry = c.server.store.lookup(str(args[1]));
  if (entry === undefined) return 0;
  const byte = Math.floor(offset / 8);
  return byte < entry.value.length && entry.value[byte] & (1 << (7 - (offset % 8))) ? 1 : 0;
}

// ---- LCS -----------------------------------------------------------------------------

/** Redis' lcsCommand: the longest common subsequence of two values, by dynamic programming. */
function lcs(c: Client, args: Buffer[]): Reply {
  const store = c.server.store;
  const a = store.lookup(str(args[1]))?.value ?? EMPTY;
  const b = store.lookup(str(args[2]))?.value ?? EMPTY;
  let getlen = false;
  let getidx = false;
  let withmatchlen = false;
  let minmatchlen = 0n;
  for (let j = 3; j < args.length; j++) {
    const opt = option(args[j]);
    const more = args.length - 1 - j;
    if (opt === 'idx') getidx = true;
    else if (opt === 'len') getlen = true;
    else if (opt === 'withmatchlen') withmatchlen = true;
    else if (opt === 'minmatchlen' && more > 0) {
      const n = parseInt64(args[++j]);
      if (n === null) return NOT_INTEGER;
      minmatchlen = n < 0n ? 0n : n;
    } else return SYNTAX;
  }
  if (getlen && getidx) return new ErrorReply('ERR If you want both the length and indexes, please just use IDX.');
  const alen = a.length;
  const blen = b.length;
  if ((alen + 1) * (blen + 1) * 4 > MAX_STRING) return new ErrorReply('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
  const table = new Uint32Array((alen + 1) * (blen + 1));
  const at = (i: number, j: number) => j + i * (blen + 1);
  for (let i = 1; i <= alen; i++) {
    for (let j = 1; j <= blen; j++) {
      table[at(i, j)] = a[i - 1] === b[j - 1] ? table[at(i - 1, j - 1)] + 1 : Math.max(table[at(i - 1, j)], table[at(i, j - 1)]);
    }
  }
  let idx = table[at(alen, blen)];
  const length = idx;
  const result = Buffer.alloc(idx);
  const matches: Reply[] = [];
  let aStart = alen;
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  let i = alen;
  let j = blen;
  while ((getidx || !getlen) && i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1];
      if (aStart === alen) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (table[at(i - 1, j)] > table[at(i, j - 1)]) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    if (emit) {
      const matchLen = aEnd - aStart + 1;
      if (getidx && (minmatchlen === 0n || BigInt(matchLen) >= minmatchlen)) {
        const range: Reply[] = [[aStart, aEnd], [bStart, bEnd]];
        if (withmatchlen) range.push(matchLen);
        matches.push(range);
      }
      aStart = alen;
    }
  }
  if (getidx) return ['matches', matches, 'len', length];
  if (getlen) return length;
  return result;
}

// ---- the table -------------------------------------------------------------------

const W = Flag.Write;
const R = Flag.ReadOnly;
const F = Flag.Fast;
const ONE_KEY = [1, 1, 1] as const;

export const STRING_COMMANDS: Command[] = [
  cmd('get', {
    arity: 2,
    flags: R | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Returns the value of a key.',
    run: (c, args) => {
      const entry = c.server.store.lookup(str(args[1]));
      return entry === undefined ? null : exposed(entry);
    },
  }),
  cmd('set', { arity: -3, flags: W, keys: ONE_KEY, group: GROUP, summary: 'Sets a key, with NX/XX, GET, EX/PX/EXAT/PXAT or KEEPTTL.', run: set }),
  cmd('setnx', {
    arity: 3,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Sets a key only if it does not exist.',
    run: (c, args) => setGeneric(c, 'setnx', SetFlag.NX, args[1], args[2], null, 1, 0),
  }),
  cmd('setex', {
    arity: 4,
    flags: W,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Sets a key with a time to live in seconds.',
    run: (c, args) => setGeneric(c, 'setex', SetFlag.EX, args[1], args[3], args[2], OK, null),
  }),
  cmd('psetex', {
    arity: 4,
    flags: W,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Sets a key with a time to live in milliseconds.',
    run: (c, args) => setGeneric(c, 'psetex', SetFlag.PX, args[1], args[3], args[2], OK, null),
  }),
  cmd('getset', {
    arity: 3,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Sets a key and returns its old value.',
    run: (c, args) => {
      const store = c.server.store;
      const k = str(args[1]);
      const entry = store.lookup(k);
      const old = entry === undefined ? null : exposed(entry);
      store.set(k, copyOf(args[2]));
      return old;
    },
  }),
  cmd('getdel', {
    arity: 2,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Returns the value of a key and deletes it.',
    run: (c, args) => {
      const store = c.server.store;
      const k = str(args[1]);
      const entry = store.lookup(k);
      if (entry === undefined) return null;
      store.remove(k);
      return exposed(entry);
    },
  }),
  cmd('getex', { arity: -2, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Returns the value of a key and sets or clears its expiry.', run: getex }),
  cmd('mget', {
    arity: -2,
    flags: R | F,
    keys: [1, -1, 1],
    group: GROUP,
    summary: 'Returns the values of several keys.',
    run: (c, args) => {
      const store = c.server.store;
      const values = new Array<Reply>(args.length - 1);
      for (let i = 1; i < args.length; i++) {
        const entry = store.lookup(str(args[i]));
        values[i - 1] = entry === undefined ? null : exposed(entry);
      }
      return values;
    },
  }),
  cmd('mset', {
    arity: -3,
    flags: W,
    keys: [1, -1, 2],
    group: GROUP,
    summary: 'Sets several keys.',
    run: (c, args) => {
      if (args.length % 2 === 0) return wrongArity('mset');
      for (let i = 1; i < args.length; i += 2) c.server.store.set(str(args[i]), copyOf(args[i + 1]));
      return OK;
    },
  }),
  cmd('msetnx', {
    arity: -3,
    flags: W,
    keys: [1, -1, 2],
    group: GROUP,
    summary: 'Sets several keys only if none of them exists.',
    run: (c, args) => {
      if (args.length % 2 === 0) return wrongArity('msetnx');
      const store = c.server.store;
      for (let i = 1; i < args.length; i += 2) if (store.lookup(str(args[i])) !== undefined) return 0;
      for (let i = 1; i < args.length; i += 2) store.set(str(args[i]), copyOf(args[i + 1]));
      return 1;
    },
  }),
  cmd('append', { arity: 3, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Appends to the value of a key.', run: append }),
  cmd('strlen', {
    arity: 2,
    flags: R | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Returns the length of a value.',
    run: (c, args) => c.server.store.lookup(str(args[1]))?.value.length ?? 0,
  }),
  cmd('getrange', { arity: 4, flags: R, keys: ONE_KEY, group: GROUP, summary: 'Returns a substring of a value.', run: getrange }),
  cmd('substr', { arity: 4, flags: R, keys: ONE_KEY, group: GROUP, summary: 'Returns a substring of a value (GETRANGE).', run: getrange }),
  cmd('setrange', { arity: 4, flags: W, keys: ONE_KEY, group: GROUP, summary: 'Overwrites part of a value from an offset.', run: setrange }),
  cmd('incr', { arity: 2, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Increments an integer value by one.', run: (c, args) => incrementBy(c, args[1], 1n) }),
  cmd('decr', { arity: 2, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Decrements an integer value by one.', run: (c, args) => incrementBy(c, args[1], -1n) }),
  cmd('incrby', {
    arity: 3,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Increments an integer value.',
    run: (c, args) => {
      const by = parseInt64(args[2]);
      return by === null ? NOT_INTEGER : incrementBy(c, args[1], by);
    },
  }),
  cmd('decrby', {
    arity: 3,
    flags: W | F,
    keys: ONE_KEY,
    group: GROUP,
    summary: 'Decrements an integer value.',
    run: (c, args) => {
      const by = parseInt64(args[2]);
      if (by === null) return NOT_INTEGER;
      if (by === INT64_MIN) return new ErrorReply('ERR decrement would overflow');
      return incrementBy(c, args[1], -by);
    },
  }),
  cmd('incrbyfloat', { arity: 3, flags: W | F, keys: ONE_KEY, group: GROUP, summary: 'Increments a floating point value (long double arithmetic, as Redis).', run: incrbyfloat }),
  cmd('lcs', { arity: -3, flags: R, keys: [1, 2, 1], group: GROUP, summary: 'The longest common subsequence of two values (LEN, IDX, MINMATCHLEN, WITHMATCHLEN).', run: lcs }),
  cmd('setbit', { arity: 4, flags: W, keys: ONE_KEY, group: 'bitmap', summary: 'Sets or clears one bit of a value.', run: setbit }),
  cmd('getbit', { arity: 3, flags: R | F, keys: ONE_KEY, group: 'bitmap', summary: 'Returns one bit of a value.', run: getbit }),
];
