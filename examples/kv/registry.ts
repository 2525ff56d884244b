/**
 * What every command file shares: the shape of a command, the argument
 * parsers Redis uses (string2ll and friends, byte for byte), and the error
 * replies Redis words.
 */
import type { Client } from './client';
import { ErrorReply, type Reply } from './resp';

/** Command flags (a subset of Redis'). */
export const enum Flag {
  None = 0,
  Write = 1 << 0,
  ReadOnly = 1 << 1,
  /** Allowed while subscribed (RESP2): PING, (P)SUBSCRIBE, (P)UNSUBSCRIBE, QUIT, RESET. */
  PubSubOk = 1 << 2,
  /** Runs at once inside MULTI instead of being queued: EXEC, DISCARD, MULTI, WATCH, QUIT, RESET. */
  NoQueue = 1 << 3,
  Fast = 1 << 4,
  Admin = 1 << 5,
  PubSub = 1 << 6,
  Loading = 1 << 7,
  Stale = 1 << 8,
  NoScript = 1 << 9,
}

export type Handler = (client: Client, args: Buffer[]) => Reply;

/** One command, or one subcommand of a container command (CLIENT, CONFIG...). */
export interface Command {
  /** Lower case; a subcommand's is `container|sub`. */
  readonly name: string;
  /** Redis' convention: N = exactly N arguments (the name included), -N = at least N. */
  readonly arity: number;
  readonly flags: number;
  /** First key argument, last (-1: the last argument), step; 0 0 0 for none (COMMAND INFO). */
  readonly keys: readonly [number, number, number];
  /** COMMAND DOCS: what it does and its group. */
  readonly summary: string;
  readonly group: string;
  readonly run: Handler;
  /** A container's subcommands, by lower-case name. */
  readonly subcommands?: ReadonlyMap<string, Command>;
}

export interface CommandSpec {
  arity: number;
  flags?: number;
  keys?: readonly [number, number, number];
  summary: string;
  group: string;
  run: Handler;
}

/** Builds a command table entry. */
export function cmd(name: string, spec: CommandSpec): Command {
  return { name, arity: spec.arity, flags: spec.flags ?? 0, keys: spec.keys ?? [0, 0, 0], summary: spec.summary, group: spec.group, run: spec.run };
}

/** A container command (CLIENT, CONFIG...): arity -2, runs one of its subcommands. */
export function container(name: string, group: string, summary: string, subs: Array<[string, CommandSpec]>, flags = 0): Command {
  const subcommands = new Map<string, Command>();
  for (const [sub, spec] of subs) subcommands.set(sub, cmd(`${name}|${sub}`, { ...spec, group }));
  return {
    name,
    arity: -2,
    flags,
    keys: [0, 0, 0],
    summary,
    group,
    subcommands,
    // Never reached: the dispatcher runs the subcommand, or refuses.
    run: () => new ErrorReply('ERR unknown subcommand'),
  };
}

// ---- errors Redis sends, byte for byte ----------------------------------------

export const NOT_INTEGER = new ErrorReply('ERR value is not an integer or out of range');
export const NOT_FLOAT = new ErrorReply('ERR value is not a valid float');
export const SYNTAX = new ErrorReply('ERR syntax error');
export const NO_SUCH_KEY = new ErrorReply('ERR no such key');
export const SAME_OBJECT = new ErrorReply('ERR source and destination objects are the same');
export const WRONG_TYPE = new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value');
export const OUT_OF_RANGE_DB = new ErrorReply('ERR DB index is out of range');
export const STRING_TOO_LONG = new ErrorReply('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
export const EXEC_ABORT = new ErrorReply('EXECABORT Transaction discarded because of previous errors.');

export function wrongArity(fullname: string): ErrorReply {
  return new ErrorReply(`ERR wrong number of arguments for '${fullname}' command`);
}

export function invalidExpire(fullname: string): ErrorReply {
  return new ErrorReply(`ERR invalid expire time in '${fullname}' command`);
}

/** Redis' proto-max-bulk-len: the longest string APPEND, SETRANGE and SETBIT may make. */
export const MAX_STRING = 512 * 1024 * 1024;

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

// ---- arguments ----------------------------------------------------------------

/** An argument as a key or name: latin1, one char per byte. */
export function str(arg: Buffer): string {
  return arg.toString('latin1');
}

/**
 * strcasecmp(arg, word) == 0, with `word` lower-case ASCII: letters match
 * in either case, and as in C a NUL byte ends the argument.
 */
export function is(arg: Buffer, word: string): boolean {
  const n = word.length;
  if (arg.length < n) return false;
  for (let i = 0; i < n; i++) {
    const c = arg[i];
    const w = word.charCodeAt(i);
    if (c !== w && !(c >= 0x41 && c <= 0x5a && c + 0x20 === w)) return false;
  }
  return arg.length === n || arg[n] === 0;
}

/**
 * Redis' string2ll: an optional '-', digits with no leading zero ("0" alone
 * is fine), no '+', no blanks, within int64, fewer than 21 bytes.
 * @returns the value, or null if `bytes` is not one.
 */
export function parseInt64(bytes: Uint8Array): bigint | null {
  const n = bytes.length;
  if (n === 0 || n >= 21) return null;
  if (n === 1 && bytes[0] === 0x30) return 0n;
  let i = 0;
  const negative = bytes[0] === 0x2d;
  if (negative) i++;
  if (i === n || bytes[i] < 0x31 || bytes[i] > 0x39) return null;
  let small = 0;
  for (let j = i; j < n; j++) {
    const d = bytes[j] - 0x30;
    if (d < 0 || d > 9) return null;
    small = small * 10 + d;
  }
  if (n - i <= 15) return BigInt(negative ? -small : small);
  let text = '';
  for (let j = 0; j < n; j++) text += String.fromCharCode(bytes[j]);
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

/** {@link parseInt64} as a number when it is a safe integer (counts, offsets), else null. */
export function parseSmallInt(bytes: Uint8Array): number | null {
  const v = parseInt64(bytes);
  if (v === null || v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return null;
  return Number(v);
}

/** Redis' getIntFromObject: a string2ll within C int. */
export function parseInt32(bytes: Uint8Array): number | null {
  const v = parseInt64(bytes);
  if (v === null || v > 2147483647n || v < -2147483648n) return null;
  return Number(v);
}

/** An argument as C's printf("%.*s") shows it: latin1, up to its first NUL, at most `max` bytes. */
export function cstr(arg: Buffer, max = Infinity): string {
  const nul = arg.indexOf(0);
  const end = Math.min(nul < 0 ? arg.length : nul, max);
  return arg.toString('latin1', 0, end);
}

/** The whole argument as one lower-case string (subcommand and option names). */
export function lower(arg: Buffer): string {
  return asciiLower(arg.toString('latin1'));
}

/** tolower() in the C locale: only A-Z change (JavaScript's toLowerCase also maps latin1 letters). */
export function asciiLower(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : text;
}

/** toupper() in the C locale: only a-z change. */
export function asciiUpper(text: string): string {
  return /[a-z]/.test(text) ? text.replace(/[a-z]+/g, (m) => m.toUpperCase()) : text;
}
