/**
 * The DNS message wire format (RFC 1035 §4.1) with name compression
 * (§4.1.4) and the EDNS0 OPT pseudo-record (RFC 6891) kept as raw data.
 *
 * `parse()` reads untrusted bytes, so every step is bounded: names are at
 * most 255 bytes and 127 labels, compression pointers must point strictly
 * backwards (which makes a loop impossible) and are followed at most
 * MAX_POINTER_HOPS times, and every count is checked against the bytes that
 * are actually there. Anything malformed throws `DnsFormatError`.
 */
import * as net from 'node:net';
import { asciiLower, labelsToName, MAX_LABEL_LENGTH, MAX_NAME_LENGTH, nameToLabels } from './name';

/** Record types this codec knows (RFC 1035 §3.2.2, RFC 3596, RFC 6891). */
export const Type = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const Class = { IN: 1, ANY: 255 } as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** Response codes; BADVERS (16) only fits with the OPT record's extended bits. */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

export const HEADER_SIZE = 12;
/** Compression pointers followed per name at most; real messages need a handful. */
export const MAX_POINTER_HOPS = 32;
/** Offsets a compression pointer can hold (14 bits). */
const MAX_POINTER_OFFSET = 0x3fff;
const MAX_MESSAGE = 65535;

/** The 12-byte header's fields. `rcode` is the 4-bit header part. */
export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

/** Record data, by shape; the record's `type` says which shape is expected. */
export type RData =
  /** A, AAAA: the address as text. */
  | { kind: 'address'; address: string }
  /** NS, CNAME, PTR: one domain name. */
  | { kind: 'name'; name: string }
  | { kind: 'mx'; preference: number; exchange: string }
  /** TXT: one or more character-strings of up to 255 bytes each. */
  | { kind: 'txt'; strings: Buffer[] }
  | { kind: 'soa'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  /** OPT and types this codec does not interpret (RFC 3597): the bytes as they are. */
  | { kind: 'raw'; bytes: Buffer };

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

export interface Message extends Header {
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** Malformed wire data. `id` is the message ID when the header could be read. */
export class DnsFormatError extends Error {
  readonly code = 'ERR_DNS_FORMAT';
  constructor(
    message: string,
    readonly id?: number,
  ) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

/** A message with every flag off and every section empty, then `init` on top. */
export function message(init: Partial<Message> = {}): Message {
  return {
    id: 0,
    qr: false,
    opcode: Opcode.QUERY,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    ad: false,
    cd: false,
    rcode: Rcode.NOERROR,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    ...init,
  };
}

/** The header and section counts, or null if fewer than 12 bytes are there. */
export function readHeader(buf: Uint8Array): (Header & { qdcount: number; ancount: number; nscount: number; arcount: number }) | null {
  if (buf.length < HEADER_SIZE) return null;
  const flags = (buf[2] << 8) | buf[3];
  return {
    id: (buf[0] << 8) | buf[1],
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: (buf[4] << 8) | buf[5],
    ancount: (buf[6] << 8) | buf[7],
    nscount: (buf[8] << 8) | buf[9],
    arcount: (buf[10] << 8) | buf[11],
  };
}

/**
 * Parses a whole message.
 * @throws DnsFormatError (with `id` when the header was readable).
 *
 * @example
 * const query = parse(datagram);
 * console.log(query.id, query.questions[0]?.name);
 */
export function parse(bytes: Uint8Array): Message {
  const header = readHeader(bytes);
  if (header === null) throw new DnsFormatError(`message of ${bytes.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const { qdcount, ancount, nscount, arcount, ...flags } = header;
  const reader = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), header.id);
  const questions: Question[] = [];
  for (let i = 0; i < qdcount; i++) questions.push({ name: reader.name(), type: reader.u16(), class: reader.u16() });
  const records = (count: number) => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) out.push(reader.record());
    return out;
  };
  const answers = records(ancount);
  const authorities = records(nscount);
  const additionals = records(arcount);
  return { ...flags, questions, answers, authorities, additionals };
}

/** Reads names, integers and records from a message, bounds-checked. */
class Reader {
  private pos = HEADER_SIZE;

  constructor(
    private readonly buf: Buffer,
    private readonly id: number,
  ) {}

  private fail(what: string): never {
    throw new DnsFormatError(`${what} at offset ${this.pos}`, this.id);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail(`message truncated: ${n} more bytes needed`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /**
   * A possibly compressed name. A pointer must point before the start of the
   * run of labels that contains it: the runs then move strictly backwards,
   * so even a crafted message cannot make this loop.
   */
  name(): string {
    const buf = this.buf;
    const labels: Buffer[] = [];
    let at = this.pos;
    let runStart = at;
    let wire = 1;
    let hops = 0;
    let resume = -1;
    for (;;) {
      if (at >= buf.length) this.fail('name runs past the end of the message');
      const len = buf[at];
      if (len === 0) {
        at += 1;
        break;
      }
      const kind = len & 0xc0;
      if (kind === 0xc0) {
        if (at + 1 >= buf.length) this.fail('compression pointer cut short');
        const target = ((len & 0x3f) << 8) | buf[at + 1];
        if (resume < 0) resume = at + 2;
        if (++hops > MAX_POINTER_HOPS) this.fail('too many compression pointers');
        if (target >= runStart) this.fail(`compression pointer to ${target} does not point backwards (a loop)`);
        at = runStart = target;
        continue;
      }
      // 0x40 (extended label types, RFC 6891 §5) and 0x80 are not in use.
      if (kind !== 0) this.fail(`unsupported label type 0x${len.toString(16)}`);
      if (at + 1 + len > buf.length) this.fail('label runs past the end of the message');
      wire += len + 1;
      if (wire > MAX_NAME_LENGTH) this.fail(`name longer than ${MAX_NAME_LENGTH} bytes`);
      labels.push(buf.subarray(at + 1, at + 1 + len));
      at += len + 1;
    }
    this.pos = resume >= 0 ? resume : at;
    return labelsToName(labels);
  }

  record(): ResourceRecord {
    const name = this.name();
    const type = this.u16();
    const klass = this.u16();
    const ttl = this.u32();
    const length = this.u16();
    this.need(length);
    const end = this.pos + length;
    const data = this.rdata(type, length);
    if (this.pos !== end) this.fail(`record data of type ${type} does not fill its ${length} bytes`);
    return { name, type, class: klass, ttl, data };
  }

  private rdata(type: number, length: number): RData {
    switch (type) {
      case Type.A:
        if (length !== 4) this.fail(`A record of ${length} bytes`);
        return { kind: 'address', address: Array.from(this.bytes(4)).join('.') };
      case Type.AAAA:
        if (length !== 16) this.fail(`AAAA record of ${length} bytes`);
        return { kind: 'address', address: formatIPv6(this.bytes(16)) };
      case Type.NS:
      case Type.CNAME:
      case Type.PTR:
        return { kind: 'name', name: this.name() };
      case Type.MX:
        return { kind: 'mx', preference: this.u16(), exchange: this.name() };
      case Type.SOA:
        return { kind: 'soa', mname: this.name(), rname: this.name(), serial: this.u32(), refresh: this.u32(), retry: this.u32(), expire: this.u32(), minimum: this.u32() };
      case Type.TXT: {
        const end = this.pos + length;
        const strings: Buffer[] = [];
        while (this.pos < end) strings.push(this.bytes(this.u8()));
        if (strings.length === 0) this.fail('TXT record without strings');
        return { kind: 'txt', strings };
      }
      default:
        return { kind: 'raw', bytes: this.bytes(length) };
    }
  }
}

export interface EncodeOptions {
  /** Compress names (default true); false exists to measure what compression saves. */
  compress?: boolean;
}

/**
 * Encodes a message. Owner names and the names inside NS, CNAME, PTR, MX and
 * SOA data are compressed (RFC 3597 §4 allows it for exactly these types);
 * names are matched case-insensitively but written with their own case.
 * @throws RangeError if the message exceeds 65535 bytes or a name is invalid,
 *   TypeError if a record's data does not fit its type.
 *
 * @example
 * const reply = encode(message({ id: 7, qr: true, aa: true, questions, answers }));
 */
export function encode(msg: Message, options: EncodeOptions = {}): Buffer {
  const w = new Writer(options.compress ?? true);
  w.u16(msg.id);
  w.u16(
    (msg.qr ? 0x8000 : 0) |
      ((msg.opcode & 0xf) << 11) |
      (msg.aa ? 0x0400 : 0) |
      (msg.tc ? 0x0200 : 0) |
      (msg.rd ? 0x0100 : 0) |
      (msg.ra ? 0x0080 : 0) |
      (msg.ad ? 0x0020 : 0) |
      (msg.cd ? 0x0010 : 0) |
      (msg.rcode & 0xf),
  );
  for (const n of [msg.questions.length, msg.answers.length, msg.authorities.length, msg.additionals.length]) {
    if (n > 0xffff) throw new RangeError(`a section of ${n} entries does not fit a DNS message`);
    w.u16(n);
  }
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of msg.answers) w.record(rr);
  for (const rr of msg.authorities) w.record(rr);
  for (const rr of msg.additionals) w.record(rr);
  return w.finish();
}

/** A growing buffer with the compression dictionary of names written so far. */
class Writer {
  private buf = Buffer.allocUnsafe(512);
  private len = 0;
  /** Lower-cased wire suffix → offset of its first occurrence. */
  private readonly names: Map<string, number> | null;

  constructor(compress: boolean) {
    this.names = compress ? new Map() : null;
  }

  private reserve(n: number): void {
    if (this.len + n > MAX_MESSAGE) throw new RangeError(`DNS message longer than ${MAX_MESSAGE} bytes`);
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.min(MAX_MESSAGE, Math.max(this.buf.length * 2, this.len + n)));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }

  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Writes a name, ending in a pointer to the longest suffix already written. */
  name(name: string, compress = true): void {
    const labels = nameToLabels(name);
    const dict = compress ? this.names : null;
    for (let i = 0; i < labels.length; i++) {
      if (dict !== null) {
        const key = suffixKey(labels, i);
        const earlier = dict.get(key);
        if (earlier !== undefined) {
          this.u16(0xc000 | earlier);
          return;
        }
        if (this.len <= MAX_POINTER_OFFSET) dict.set(key, this.len);
      }
      const label = labels[i];
      if (label.length > MAX_LABEL_LENGTH) throw new RangeError(`label longer than ${MAX_LABEL_LENGTH} bytes in "${name}"`);
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  record(rr: ResourceRecord): void {
    this.name(rr.name);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(rr.ttl);
    const lengthAt = this.len;
    this.u16(0);
    this.rdata(rr);
    const length = this.len - lengthAt - 2;
    this.buf.writeUInt16BE(length, lengthAt);
  }

  private rdata(rr: ResourceRecord): void {
    const { type, data } = rr;
    const mismatch = () => new TypeError(`${data.kind} data does not fit a record of type ${type} (${rr.name})`);
    switch (type) {
      case Type.A:
        if (data.kind !== 'address' || !net.isIPv4(data.address)) throw mismatch();
        this.bytes(Uint8Array.from(data.address.split('.').map(Number)));
        return;
      case Type.AAAA:
        if (data.kind !== 'address' || !net.isIPv6(data.address)) throw mismatch();
        this.bytes(parseIPv6(data.address));
        return;
      case Type.NS:
      case Type.CNAME:
      case Type.PTR:
        if (data.kind !== 'name') throw mismatch();
        this.name(data.name);
        return;
      case Type.MX:
        if (data.kind !== 'mx') throw mismatch();
        this.u16(data.preference);
        this.name(data.exchange);
        return;
      case Type.SOA:
        if (data.kind !== 'soa') throw mismatch();
        this.name(data.mname);
        this.name(data.rname);
        for (const v of [data.serial, data.refresh, data.retry, data.expire, data.minimum]) this.u32(v);
        return;
      case Type.TXT:
        if (data.kind !== 'txt' || data.strings.length === 0) throw mismatch();
        for (const s of data.strings) {
          if (s.length > 255) throw new RangeError(`TXT string of ${s.length} bytes (at most 255) in ${rr.name}`);
          this.u8(s.length);
          this.bytes(s);
        }
        return;
      default:
        if (data.kind !== 'raw') throw mismatch();
        this.bytes(data.bytes);
    }
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/** The dictionary key of labels[from..]: lower-cased wire form, as a string. */
function suffixKey(labels: Buffer[], from: number): string {
  let key = '';
  for (let i = from; i < labels.length; i++) key += String.fromCharCode(labels[i].length) + asciiLower(labels[i]).toString('latin1');
  return key;
}

/** 16 bytes as RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 §5: IPv4-mapped addresses end in dotted decimal.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** IPv6 text (already checked with net.isIPv6) to 16 bytes; handles "::" and a dotted IPv4 tail. */
function parseIPv6(text: string): Buffer {
  let s = text;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = dotted[2].split('.').map(Number);
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    s = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
  }
  const groupsOf = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [head, rest] = s.split('::');
  const left = groupsOf(head);
  const right = [...groupsOf(rest), ...tail];
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<number>(zeros).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
