/**
 * A small zone-file parser: the pragmatic subset of RFC 1035 §5 master files
 * that hand-written zones use.
 *
 * - `$ORIGIN name` and `$TTL ttl` directives (`$INCLUDE` is refused);
 * - records `name [ttl] [IN] TYPE rdata` (TTL and class in either order),
 *   with a blank owner meaning "the previous owner", `@` meaning the origin,
 *   and names without a trailing dot taken relative to the origin;
 * - TTLs in seconds or with BIND's units (`1h30m`, `2d`, `1w`);
 * - types A, AAAA, NS, CNAME, PTR, MX, TXT, SOA; TXT strings quoted or
 *   bare, with `\"`, `\\` and `\DDD` escapes;
 * - `;` comments and `( ... )` to continue a record over several lines.
 *
 * Errors name the file and line, since a zone is written by hand.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Class, Type, type RData, type ResourceRecord } from './message';
import { isSubdomain, labelsToName, nameKey, nameToLabels, parentName } from './name';

/** A zone file mistake, with where it is. */
export class ZoneError extends Error {
  readonly code = 'ERR_DNS_ZONE';
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'ZoneError';
  }
}

/**
 * The records of one zone, indexed for answering: by owner name
 * (case-insensitively) and by which names exist, empty non-terminals
 * included (RFC 8020: a name with no records but names below it exists).
 */
export class Zone {
  /** The apex, as the SOA record spells it. */
  readonly origin: string;
  readonly soa: ResourceRecord & { data: Extract<RData, { kind: 'soa' }> };
  readonly records: readonly ResourceRecord[];
  private readonly byName = new Map<string, ResourceRecord[]>();
  private readonly existing = new Set<string>();

  /**
   * @throws Error unless there is exactly one SOA, every record lies in the
   *   SOA's zone, and no name holds a CNAME beside other data.
   */
  constructor(records: readonly ResourceRecord[]) {
    const soas = records.filter((r) => r.type === Type.SOA);
    if (soas.length !== 1) throw new Error(`a zone needs exactly one SOA record, found ${soas.length}`);
    const soa = soas[0];
    if (soa.data.kind !== 'soa') throw new Error('SOA record without SOA data');
    this.soa = soa as Zone['soa'];
    this.origin = soa.name;
    this.records = records;
    for (const rr of records) {
      if (!isSubdomain(rr.name, this.origin)) throw new Error(`${rr.name} is outside the zone ${this.origin}`);
      const key = nameKey(rr.name);
      const list = this.byName.get(key) ?? [];
      list.push(rr);
      this.byName.set(key, list);
      for (let n: string | null = rr.name; n !== null && isSubdomain(n, this.origin); n = parentName(n)) this.existing.add(nameKey(n));
    }
    for (const [key, list] of this.byName) {
      // RFC 1034 §3.6.2: a CNAME is the only data at its name.
      if (list.some((r) => r.type === Type.CNAME) && list.length > 1) throw new Error(`${key} has a CNAME and other records`);
    }
  }

  /** True if `name` is the apex or below it. */
  contains(name: string): boolean {
    return isSubdomain(name, this.origin);
  }

  /** True if the name has records or names below it. */
  exists(name: string): boolean {
    return this.existing.has(nameKey(name));
  }

  /** Every record owned by `name` (none: an empty array). */
  lookup(name: string): readonly ResourceRecord[] {
    return this.byName.get(nameKey(name)) ?? [];
  }
}

export interface ParseZoneOptions {
  /** The origin before any `$ORIGIN` (default: the root). */
  origin?: string;
  /** The file name errors mention. */
  file?: string;
}

/**
 * Parses master-file text into a Zone.
 * @throws ZoneError with the file and line of the first mistake.
 *
 * @example
 * const zone = parseZone('$ORIGIN example.test.\n$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\nwww A 192.0.2.1\n');
 * zone.lookup('WWW.example.test.'); // the A record
 */
export function parseZone(text: string, options: ParseZoneOptions = {}): Zone {
  const file = options.file ?? '<zone>';
  let origin = options.origin === undefined ? '.' : checkedName(options.origin, file, 0);
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let owner: string | undefined;
  const records: ResourceRecord[] = [];
  let lastLine = 0;
  for (const entry of entries(text, file)) {
    lastLine = entry.line;
    const fail = (message: string): never => {
      throw new ZoneError(message, file, entry.line);
    };
    const name = (token: Token) => {
      if (token.quoted) fail(`a name cannot be quoted: "${token.text}"`);
      return resolveName(token.text, origin, file, entry.line);
    };
    const tokens = entry.tokens;
    const first = tokens[0];
    if (!entry.blankOwner && !first.quoted && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      if (tokens.length !== 2) fail(`${directive} takes one argument`);
      if (directive === '$ORIGIN') origin = name(tokens[1]);
      else if (directive === '$TTL') defaultTtl = parseTtl(tokens[1].text) ?? fail(`bad TTL "${tokens[1].text}"`);
      else fail(`unsupported directive ${first.text}`);
      continue;
    }
    let at = 0;
    if (!entry.blankOwner) owner = name(tokens[at++]);
    const recordOwner = owner ?? fail('a record without an owner name, and no earlier record to take it from');
    let ttl: number | undefined;
    let sawClass = false;
    // TTL and class may come in either order (RFC 1035 §5.1), each at most once.
    for (let k = 0; k < 2 && at < tokens.length; k++) {
      const t = tokens[at].text;
      const asTtl = ttl === undefined && !tokens[at].quoted ? parseTtl(t) : undefined;
      if (asTtl !== undefined) {
        ttl = asTtl;
        at++;
      } else if (!sawClass && /^(IN|CH|HS|CS)$/i.test(t)) {
        if (t.toUpperCase() !== 'IN') fail(`class ${t} is not supported (only IN)`);
        sawClass = true;
        at++;
      } else {
        break;
      }
    }
    if (at >= tokens.length) fail('record without a type');
    const typeText = tokens[at++].text.toUpperCase();
    const type = (Type as Record<string, number>)[typeText];
    if (type === undefined || type === Type.OPT || type >= Type.IXFR) fail(`unsupported record type ${typeText}`);
    const data = rdata(type, tokens.slice(at), name, fail);
    ttl ??= defaultTtl ?? lastTtl ?? fail('no TTL: give one on the record or with $TTL');
    lastTtl = ttl;
    records.push({ name: recordOwner, type, class: Class.IN, ttl, data });
  }
  try {
    return new Zone(records);
  } catch (err) {
    throw new ZoneError((err as Error).message, file, lastLine);
  }
}

/** Reads and parses a zone file. @throws ZoneError, or the fs error. */
export function loadZone(file: string, options: Omit<ParseZoneOptions, 'file'> = {}): Zone {
  return parseZone(fs.readFileSync(file, 'utf8'), { ...options, file });
}

/** The rdata tokens of one record, checked and converted for its type. */
function rdata(type: number, tokens: Token[], name: (t: Token) => string, fail: (m: string) => never): RData {
  const count = (n: number) => {
    if (tokens.length !== n) fail(`${typeNameOf(type)} takes ${n} field${n === 1 ? '' : 's'}, found ${tokens.length}`);
  };
  const u16 = (t: Token) => (/^\d+$/.test(t.text) && Number(t.text) <= 0xffff ? Number(t.text) : fail(`bad number "${t.text}"`));
  const u32 = (t: Token) => parseTtl(t.text, 0xffffffff) ?? fail(`bad number "${t.text}"`);
  switch (type) {
    case Type.A:
      count(1);
      if (!net.isIPv4(tokens[0].text)) fail(`bad IPv4 address "${tokens[0].text}"`);
      return { kind: 'address', address: tokens[0].text };
    case Type.AAAA:
      count(1);
      if (!net.isIPv6(tokens[0].text) || tokens[0].text.includes('%')) fail(`bad IPv6 address "${tokens[0].text}"`);
      return { kind: 'address', address: tokens[0].text.toLowerCase() };
    case Type.NS:
    case Type.CNAME:
    case Type.PTR:
      count(1);
      return { kind: 'name', name: name(tokens[0]) };
    case Type.MX:
      count(2);
      return { kind: 'mx', preference: u16(tokens[0]), exchange: name(tokens[1]) };
    case Type.SOA: {
      count(7);
      const [mname, rname, ...numbers] = tokens;
      const [serial, refresh, retry, expire, minimum] = numbers.map(u32);
      return { kind: 'soa', mname: name(mname), rname: name(rname), serial, refresh, retry, expire, minimum };
    }
    case Type.TXT: {
      if (tokens.length === 0) fail('TXT needs at least one string');
      const strings = tokens.map((t) => unescapeText(t.text, fail));
      for (const s of strings) if (s.length > 255) fail(`TXT string of ${s.length} bytes (at most 255: split it into several strings)`);
      return { kind: 'txt', strings };
    }
    default:
      return fail(`unsupported record type ${type}`);
  }
}

function typeNameOf(type: number): string {
  return Object.entries(Type).find(([, v]) => v === type)?.[0] ?? `TYPE${type}`;
}

/** Seconds, or BIND units (`1w2d3h4m5s`); undefined if `text` is neither. */
function parseTtl(text: string, max = 0x7fffffff): number | undefined {
  let seconds: number;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else if (/^(\d+[wdhms])+$/i.test(text)) {
    const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
    seconds = 0;
    for (const [, n, u] of text.matchAll(/(\d+)([wdhms])/gi)) seconds += Number(n) * unit[u.toLowerCase()];
  } else {
    return undefined;
  }
  return seconds <= max ? seconds : undefined;
}

/** `@` → origin; a name without its trailing dot is relative to the origin. */
function resolveName(text: string, origin: string, file: string, line: number): string {
  if (text === '@') return origin;
  const absolute = /(^|[^\\])(\\\\)*\.$/.test(text);
  return checkedName(absolute ? text : origin === '.' ? `${text}.` : `${text}.${origin}`, file, line);
}

function checkedName(text: string, file: string, line: number): string {
  try {
    return labelsToName(nameToLabels(text));
  } catch (err) {
    throw new ZoneError((err as Error).message, file, line);
  }
}

/** A character-string's bytes: UTF-8 text with `\X` and `\DDD` escapes undone. */
function unescapeText(text: string, fail: (m: string) => never): Buffer {
  const parts: Buffer[] = [];
  let plain = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') {
      plain += text[i];
      continue;
    }
    parts.push(Buffer.from(plain, 'utf8'));
    plain = '';
    const digits = text.slice(i + 1, i + 4);
    if (/^\d{3}$/.test(digits)) {
      if (Number(digits) > 255) fail(`bad escape \\${digits}`);
      parts.push(Buffer.of(Number(digits)));
      i += 3;
    } else if (i + 1 < text.length) {
      plain += text[++i];
    } else {
      fail('a string ends with a lone backslash');
    }
  }
  parts.push(Buffer.from(plain, 'utf8'));
  return Buffer.concat(parts);
}

interface Token {
  text: string;
  quoted: boolean;
}

interface Entry {
  line: number;
  /** The entry's first line starts with white space: the owner is the previous one. */
  blankOwner: boolean;
  tokens: Token[];
}

/**
 * Splits text into entries (one per line, or several lines joined by
 * parentheses) of tokens, dropping comments. Escapes stay in the tokens for
 * the name and string parsers to interpret.
 */
function* entries(text: string, file: string): Generator<Entry> {
  let line = 1;
  let depth = 0;
  let entry: Entry | null = null;
  let atLineStart = true;
  let i = 0;
  const push = (token: Token) => {
    entry ??= { line, blankOwner: false, tokens: [] };
    entry.tokens.push(token);
  };
  while (i < text.length) {
    const c = text[i];
    if (atLineStart) {
      // White space opening a line (outside parentheses) means "same owner as before".
      atLineStart = false;
      if (depth === 0 && (c === ' ' || c === '\t')) entry = { line, blankOwner: true, tokens: [] };
    }
    if (c === '\n') {
      if (depth === 0) {
        if (entry !== null && (entry as Entry).tokens.length > 0) yield entry;
        entry = null;
      }
      line++;
      atLineStart = true;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '(') {
      depth++;
      entry ??= { line, blankOwner: false, tokens: [] };
      i++;
    } else if (c === ')') {
      if (depth === 0) throw new ZoneError('")" without "("', file, line);
      depth--;
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"' && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length || text[j] !== '"') throw new ZoneError('unterminated quoted string', file, line);
      push({ text: text.slice(i + 1, j), quoted: true });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !' \t\r\n;()"'.includes(text[j])) j += text[j] === '\\' ? 2 : 1;
      push({ text: text.slice(i, j), quoted: false });
      i = j;
    }
  }
  if (depth !== 0) throw new ZoneError('"(" without ")" at the end of the file', file, line);
  if (entry !== null && (entry as Entry).tokens.length > 0) yield entry;
}
