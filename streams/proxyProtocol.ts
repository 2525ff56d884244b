/**
 * The PROXY protocol (HAProxy's doc/proxy-protocol.txt, versions 1 and 2):
 * the header a load balancer puts in front of a connection's bytes to say
 * whose connection it is. This file parses and builds headers and nothing
 * else; proxyGate.ts runs the parser on the first bytes of an accepted
 * connection, before its handler sees any.
 *
 * Parsing is a pure function of the bytes received so far: it answers
 * "incomplete", a header and its length, or throws. A header arrives whole
 * in the first segment in practice (the spec makes it fit 536 bytes and asks
 * senders to send it at once), so the common case parses the first chunk in
 * place, with no copy; a header split over reads is parsed again from the
 * joined bytes, bounded by the size limit. Garbage is refused as soon as the
 * first bytes that cannot start a header arrive, not after a deadline.
 */
import * as net from 'node:net';
import { rxnetError } from '../reactor/errors';

/** Which headers a listener accepts: `'any'` tells v1 from v2 by the first byte. */
export type ProxyProtocolVersion = 'v1' | 'v2' | 'any';

/** An address carried by a PROXY header, shaped like `conn.remote`. */
export interface ProxyAddress {
  address: string;
  family: 'IPv4' | 'IPv6' | 'unix';
  /** 0 for a Unix socket. */
  port: number;
}

/** One v2 type-length-value field, as received. */
export interface ProxyTlv {
  type: number;
  value: Buffer;
}

/** PP2_TYPE_SSL: what the proxy knows of the client's TLS session. */
export interface ProxySsl {
  /** PP2_CLIENT_* bits: 0x01 the client used TLS, 0x02 it sent a certificate on this connection, 0x04 in this session. */
  client: number;
  /** 0 when the client presented a certificate and it was verified. */
  verify: number;
  /** PP2_SUBTYPE_SSL_VERSION, e.g. 'TLSv1.3'. */
  version?: string;
  /** PP2_SUBTYPE_SSL_CN: the client certificate's common name. */
  cn?: string;
  /** PP2_SUBTYPE_SSL_CIPHER, e.g. 'TLS_AES_256_GCM_SHA384'. */
  cipher?: string;
  /** PP2_SUBTYPE_SSL_SIG_ALG, e.g. 'RSA-SHA256'. */
  sigAlg?: string;
  /** PP2_SUBTYPE_SSL_KEY_ALG, e.g. 'RSA2048'. */
  keyAlg?: string;
  /** Every sub-TLV, known or not, in order. */
  tlvs: ProxyTlv[];
}

/**
 * A parsed PROXY header: `conn.proxy` of a connection accepted with the
 * `proxyProtocol` option.
 */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * 'PROXY': the connection is relayed for `source`. 'LOCAL': the proxy
   * made it itself (a health check); the real endpoints apply.
   */
  command: 'PROXY' | 'LOCAL';
  /** 'unspec' for v1's UNKNOWN, v2's AF_UNSPEC, and LOCAL. */
  family: 'IPv4' | 'IPv6' | 'unix' | 'unspec';
  protocol: 'stream' | 'dgram' | 'unspec';
  /** The original client (null when the family is unspec). */
  source: ProxyAddress | null;
  /** The address the client connected to, on the proxy. */
  destination: ProxyAddress | null;
  /** Every v2 TLV in order, known types included, unknown ones kept raw. */
  tlvs: ProxyTlv[];
  /** PP2_TYPE_ALPN, e.g. 'h2'. */
  alpn?: string;
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI). */
  authority?: string;
  /** PP2_TYPE_UNIQUE_ID. */
  uniqueId?: Buffer;
  /** PP2_TYPE_NETNS. */
  netns?: string;
  ssl?: ProxySsl;
}

/** The outcome of {@link parseProxyHeader} on enough bytes. */
export interface ParsedProxyHeader {
  header: ProxyHeader;
  /** Bytes the header took; the connection's data starts after them. */
  length: number;
}

/** Longest v1 line, CRLF included (the spec's worst case). */
export const V1_MAX = 107;
/** The v2 fixed part: signature, version/command, family, length. */
const V2_FIXED = 16;
/** Longest v2 header the format allows. */
export const V2_MAX = V2_FIXED + 0xffff;

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  SSL_VERSION: 0x21,
  SSL_CN: 0x22,
  SSL_CIPHER: 0x23,
  SSL_SIG_ALG: 0x24,
  SSL_KEY_ALG: 0x25,
  NETNS: 0x30,
} as const;

const CR = 0x0d;
const LF = 0x0a;

/** Why a header was refused; `code` is ERR_RXNET_PROXY_HEADER unless said otherwise. */
function invalid(message: string): Error {
  return rxnetError(Error, 'ERR_RXNET_PROXY_HEADER', `Invalid PROXY protocol header: ${message}`);
}

/** @internal */
export function tooLarge(limit: number): Error {
  return rxnetError(RangeError, 'ERR_RXNET_PROXY_HEADER_TOO_LARGE', `PROXY protocol header larger than maxProxyHeaderSize (${limit} bytes)`);
}

/**
 * Parses a PROXY header at the start of `buf`.
 *
 * @param version which formats to accept.
 * @param maxSize the largest header accepted (a v2 header announcing more
 *   is refused as soon as its length field arrives).
 * @returns the header and its length, or null when `buf` is a valid
 *   beginning of a header that is not complete yet.
 * @throws ERR_RXNET_PROXY_HEADER for bytes that are not a valid header (or
 *   its beginning), ERR_RXNET_PROXY_HEADER_TOO_LARGE past `maxSize`.
 *
 * @example
 * const parsed = parseProxyHeader(chunk, 'any', 4096);
 * if (parsed !== null) console.log(parsed.header.source, chunk.subarray(parsed.length));
 */
export function parseProxyHeader(buf: Uint8Array, version: ProxyProtocolVersion, maxSize: number): ParsedProxyHeader | null {
  if (buf.length === 0) return null;
  const first = buf[0];
  if (first === CR && version !== 'v1') return parseV2(buf, maxSize);
  if (first === 0x50 /* P */ && version !== 'v2') return parseV1(buf, maxSize);
  throw invalid(version === 'v1' ? 'expected "PROXY "' : version === 'v2' ? 'expected the v2 signature' : 'neither a v1 nor a v2 header');
}

// ---- version 1 -------------------------------------------------------------------

function parseV1(buf: Uint8Array, maxSize: number): ParsedProxyHeader | null {
  const limit = Math.min(V1_MAX, maxSize);
  const prefix = Math.min(buf.length, V1_PREFIX.length);
  for (let i = 0; i < prefix; i++) if (buf[i] !== V1_PREFIX[i]) throw invalid('expected "PROXY "');
  // The CR is looked for natively (TypedArray#indexOf), within the limit only.
  const scan = Math.min(buf.length, limit);
  const cr = buf.length <= V1_PREFIX.length ? -1 : buf.subarray(0, scan).indexOf(CR, V1_PREFIX.length);
  if (cr < 0 || cr + 1 >= buf.length) {
    // What has arrived must still be printable: garbage is refused before the limit.
    if (!V1_PRINTABLE.test(latin1(buf, 0, cr < 0 ? scan : cr))) throw invalid('v1 line holds a control or non-ASCII byte');
    if (cr < 0 ? buf.length >= limit : cr + 2 > limit) throw limit < V1_MAX ? tooLarge(maxSize) : invalid(`no CRLF in the first ${V1_MAX} bytes of a v1 line`);
    return null;
  }
  if (buf[cr + 1] !== LF) throw invalid('v1 line ends with CR without LF');
  const line = latin1(buf, 0, cr);
  const length = cr + 2;
  // One pass: exactly single spaces, dotted quads and ports without leading
  // zeroes, which could be read as octal (spec 2.1).
  const m = V1_LINE.exec(line);
  if (m === null) throw invalid(`v1 line is not "PROXY TCP4|TCP6 SRC DST SPORT DPORT" or "PROXY UNKNOWN": ${JSON.stringify(line)}`);
  const header = emptyHeader(1, 'PROXY');
  // UNKNOWN: the receiver ignores the rest of the line (spec 2.1), printable as it must be.
  if (m[1] === undefined && m[5] === undefined) {
    if (!V1_PRINTABLE.test(line)) throw invalid('v1 line holds a control or non-ASCII byte');
    return { header, length };
  }
  header.protocol = 'stream';
  const six = m[1] === undefined;
  const sport = Number(six ? m[7] : m[3]);
  const dport = Number(six ? m[8] : m[4]);
  if (sport > 65535 || dport > 65535) throw invalid(`bad v1 port in ${JSON.stringify(line)}`);
  if (!six) {
    header.family = 'IPv4';
    header.source = { address: m[1], family: 'IPv4', port: sport };
    header.destination = { address: m[2], family: 'IPv4', port: dport };
  } else {
    const src = parseIPv6(m[5]);
    const dst = parseIPv6(m[6]);
    if (src === null || dst === null) throw invalid(`bad v1 IPv6 address in ${JSON.stringify(line)}`);
    header.family = 'IPv6';
    header.source = { address: formatIPv6(src, 0), family: 'IPv6', port: sport };
    header.destination = { address: formatIPv6(dst, 0), family: 'IPv6', port: dport };
  }
  return { header, length };
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = `(?:${OCTET}\\.){3}${OCTET}`;
const PORT = '(0|[1-9]\\d{0,4})';
const V1_IPV4 = new RegExp(`^${IPV4}$`);
const V1_LINE = new RegExp(`^PROXY (?:TCP4 (${IPV4}) (${IPV4}) ${PORT} ${PORT}|TCP6 ([0-9A-Fa-f:.]+) ([0-9A-Fa-f:.]+) ${PORT} ${PORT}|UNKNOWN(?: .*)?)$`);
const V1_PRINTABLE = /^[\x20-\x7e]*$/;

function latin1(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1');
}

// ---- version 2 -------------------------------------------------------------------

function parseV2(buf: Uint8Array, maxSize: number): ParsedProxyHeader | null {
  const sig = Math.min(buf.length, V2_SIGNATURE.length);
  for (let i = 0; i < sig; i++) if (buf[i] !== V2_SIGNATURE[i]) throw invalid('bad v2 signature');
  if (buf.length > 12 && buf[12] >> 4 !== 2) throw invalid(`v2 version nibble ${buf[12] >> 4} (must be 2)`);
  if (buf.length > 12 && (buf[12] & 0xf) > 1) throw invalid(`v2 command ${buf[12] & 0xf} (must be LOCAL or PROXY)`);
  if (buf.length > 13 && (buf[13] >> 4 > 3 || (buf[13] & 0xf) > 2)) throw invalid(`v2 family/protocol byte 0x${buf[13].toString(16)}`);
  if (buf.length < V2_FIXED) return null;
  const total = V2_FIXED + ((buf[14] << 8) | buf[15]);
  if (total > maxSize) throw tooLarge(maxSize);
  if (buf.length < total) return null;

  const command = (buf[12] & 0xf) === 1 ? 'PROXY' : 'LOCAL';
  const fam = buf[13] >> 4;
  const proto = buf[13] & 0xf;
  const addrLen = fam === 1 ? 12 : fam === 2 ? 36 : fam === 3 ? 216 : 0;
  if (total - V2_FIXED < addrLen) throw invalid(`v2 address block of ${total - V2_FIXED} bytes for a family that needs ${addrLen}`);
  const header = emptyHeader(2, command);
  // LOCAL: "the receiver ... must use the real connection endpoints and
  // discard the protocol block including the family" (spec 2.2). Its
  // address bytes are skipped, its TLVs still read.
  if (command === 'PROXY' && fam !== 0) {
    const family = fam === 1 ? 'IPv4' : fam === 2 ? 'IPv6' : 'unix';
    header.family = family;
    header.protocol = proto === 1 ? 'stream' : proto === 2 ? 'dgram' : 'unspec';
    const a = V2_FIXED;
    if (fam === 1) {
      const ports = a + 8;
      header.source = { address: `${buf[a]}.${buf[a + 1]}.${buf[a + 2]}.${buf[a + 3]}`, family, port: (buf[ports] << 8) | buf[ports + 1] };
      header.destination = { address: `${buf[a + 4]}.${buf[a + 5]}.${buf[a + 6]}.${buf[a + 7]}`, family, port: (buf[ports + 2] << 8) | buf[ports + 3] };
    } else if (fam === 2) {
      const ports = a + 32;
      header.source = { address: formatIPv6(buf, a), family, port: (buf[ports] << 8) | buf[ports + 1] };
      header.destination = { address: formatIPv6(buf, a + 16), family, port: (buf[ports + 2] << 8) | buf[ports + 3] };
    } else {
      header.source = { address: unixPath(buf, a), family, port: 0 };
      header.destination = { address: unixPath(buf, a + 108), family, port: 0 };
    }
  }
  const tlvStart = V2_FIXED + addrLen;
  if (tlvStart < total) readTlvs(buf, tlvStart, total, header);
  return { header, length: total };
}

function readTlvs(buf: Uint8Array, start: number, end: number, header: ProxyHeader): void {
  // One copy of the whole TLV region, and every value a view into it: the
  // chunk they came in is the handler's, and one allocation beats one per TLV.
  const region = Buffer.from(buf.subarray(start, end));
  const tlvs = tlvList(region, 0, region.length, 'TLV');
  header.tlvs = tlvs;
  for (const tlv of tlvs) {
    switch (tlv.type) {
      case PP2_TYPE.ALPN:
        header.alpn = tlv.value.toString('latin1');
        break;
      case PP2_TYPE.AUTHORITY:
        header.authority = tlv.value.toString('utf8');
        break;
      case PP2_TYPE.CRC32C: {
        if (tlv.value.length !== 4) throw invalid(`CRC32C TLV of ${tlv.value.length} bytes (must be 4)`);
        checkCrc(buf, end, tlv.value.readUInt32BE(0));
        break;
      }
      case PP2_TYPE.UNIQUE_ID:
        if (tlv.value.length > 128) throw invalid(`UNIQUE_ID TLV of ${tlv.value.length} bytes (at most 128)`);
        header.uniqueId = tlv.value;
        break;
      case PP2_TYPE.NETNS:
        header.netns = tlv.value.toString('latin1');
        break;
      case PP2_TYPE.SSL:
        header.ssl = sslTlv(tlv.value);
        break;
      default:
        // NOOP, custom and unknown types: kept in tlvs as they came.
        break;
    }
  }
}

/** TLVs in buf[start, end); every one must fit exactly. Values are views into buf, which is our own copy. */
function tlvList(buf: Buffer, start: number, end: number, what: string): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  let at = start;
  while (at < end) {
    if (end - at < 3) throw invalid(`${end - at} stray bytes where a ${what} needs 3`);
    const type = buf[at];
    const len = (buf[at + 1] << 8) | buf[at + 2];
    if (at + 3 + len > end) throw invalid(`${what} 0x${type.toString(16)} of ${len} bytes overruns the header`);
    tlvs.push({ type, value: buf.subarray(at + 3, at + 3 + len) });
    at += 3 + len;
  }
  return tlvs;
}

function sslTlv(value: Buffer): ProxySsl {
  if (value.length < 5) throw invalid(`SSL TLV of ${value.length} bytes (at least 5)`);
  const ssl: ProxySsl = { client: value[0], verify: value.readUInt32BE(1), tlvs: tlvList(value, 5, value.length, 'SSL sub-TLV') };
  for (const sub of ssl.tlvs) {
    const text = sub.value.toString('utf8');
    if (sub.type === PP2_TYPE.SSL_VERSION) ssl.version = text;
    else if (sub.type === PP2_TYPE.SSL_CN) ssl.cn = text;
    else if (sub.type === PP2_TYPE.SSL_CIPHER) ssl.cipher = text;
    else if (sub.type === PP2_TYPE.SSL_SIG_ALG) ssl.sigAlg = text;
    else if (sub.type === PP2_TYPE.SSL_KEY_ALG) ssl.keyAlg = text;
  }
  return ssl;
}

/** A path from a 108-byte sun_path field; an abstract one (leading NUL) is shown as '@name', as ss(8) does. */
function unixPath(buf: Uint8Array, at: number): string {
  const abstract = buf[at] === 0;
  const from = abstract ? at + 1 : at;
  let end = from;
  while (end < at + 108 && buf[end] !== 0) end++;
  const path = Buffer.from(buf.buffer, buf.byteOffset + from, end - from).toString('utf8');
  return abstract && path.length > 0 ? `@${path}` : path;
}

function emptyHeader(version: 1 | 2, command: 'PROXY' | 'LOCAL'): ProxyHeader {
  return { version, command, family: 'unspec', protocol: 'unspec', source: null, destination: null, tlvs: [] };
}

// ---- CRC32C (Castagnoli, RFC 4960 appendix B) -------------------------------------

let crcTable: Uint32Array | null = null;

function crc32c(parts: Iterable<Uint8Array>): number {
  const table = (crcTable ??= makeCrcTable());
  let crc = 0xffffffff;
  for (const part of parts) for (let i = 0; i < part.length; i++) crc = table[(crc ^ part[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The checksum covers the whole header with its own field zeroed (spec 2.2.3). */
function checkCrc(buf: Uint8Array, end: number, expected: number): void {
  const copy = Buffer.from(buf.subarray(0, end));
  zeroCrcField(copy);
  if (crc32c([copy]) !== expected) throw invalid('CRC32C checksum mismatch');
}

/** Finds the CRC32C TLV of a complete v2 header and zeroes its value; returns its offset or -1. */
function zeroCrcField(header: Uint8Array): number {
  const fam = header[13] >> 4;
  let at = V2_FIXED + (fam === 1 ? 12 : fam === 2 ? 36 : fam === 3 ? 216 : 0);
  while (at + 3 <= header.length) {
    const len = (header[at + 1] << 8) | header[at + 2];
    if (header[at] === PP2_TYPE.CRC32C && len === 4) {
      header.fill(0, at + 3, at + 7);
      return at + 3;
    }
    at += 3 + len;
  }
  return -1;
}

// ---- IPv6 text -------------------------------------------------------------------

/** RFC 5952 text of 16 bytes at buf[at], as inet_ntop writes it (IPv4-mapped as ::ffff:a.b.c.d). */
function formatIPv6(buf: Uint8Array, at: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((buf[at + 2 * i] << 8) | buf[at + 2 * i + 1]);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `::ffff:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  }
  // The longest run of two or more zero words becomes '::' (the first, on a tie).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestAt < 0) return words.map((w) => w.toString(16)).join(':');
  const head = words.slice(0, bestAt).map((w) => w.toString(16)).join(':');
  const tail = words.slice(bestAt + bestLen).map((w) => w.toString(16)).join(':');
  return `${head}::${tail}`;
}

/** 16 bytes from IPv6 text (hex groups, at most one '::', an optional dotted IPv4 tail), or null. */
function parseIPv6(text: string): Uint8Array | null {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text) || net.isIPv6(text) === false) return null;
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  const push = (list: string[], into: number[]): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (g.includes('.')) {
        if (i !== list.length - 1 || !V1_IPV4.test(g)) return false;
        const [a, b, c, d] = g.split('.').map(Number);
        into.push((a << 8) | b, (c << 8) | d);
      } else {
        if (g.length === 0 || g.length > 4) return false;
        into.push(parseInt(g, 16));
      }
    }
    return true;
  };
  const tailWords: number[] = [];
  if (!push(head, words) || !push(tail, tailWords)) return null;
  if (halves.length === 1 ? words.length !== 8 : words.length + tailWords.length > 7) return null;
  const all = [...words, ...new Array<number>(8 - words.length - tailWords.length).fill(0), ...tailWords];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

// ---- building headers ------------------------------------------------------------

/** What {@link encodeProxyHeader} (and `connect({ proxyHeader })`) sends. */
export interface ProxyHeaderInit {
  /** Default 'PROXY'; 'LOCAL' (v2) or UNKNOWN (v1) says "no client to speak for". */
  command?: 'PROXY' | 'LOCAL';
  /** The original client. Required for 'PROXY'. */
  source?: { address: string; port: number } | { path: string };
  /** The address the client connected to. Required for 'PROXY'. */
  destination?: { address: string; port: number } | { path: string };
  /** v2 only: TLVs to append, in order. */
  tlvs?: readonly { type: number; value: Uint8Array | string }[];
  /** v2 only: append a CRC32C TLV over the whole header. */
  crc32c?: boolean;
}

/**
 * Builds a PROXY header to send before a connection's first byte.
 *
 * @example
 * conn.write(encodeProxyHeader('v2', {
 *   source: { address: client.remote.address, port: client.remote.port },
 *   destination: { address: client.local.address, port: client.local.port },
 * }));
 */
export function encodeProxyHeader(version: 'v1' | 'v2', init: ProxyHeaderInit = {}): Buffer {
  const command = init.command ?? 'PROXY';
  if (command !== 'PROXY' && command !== 'LOCAL') throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `proxyHeader.command must be 'PROXY' or 'LOCAL'`);
  const src = init.source;
  const dst = init.destination;
  if (command === 'PROXY' && (src === undefined || dst === undefined)) {
    throw rxnetError(TypeError, 'ERR_MISSING_ARGS', 'proxyHeader.source and proxyHeader.destination are required for the PROXY command');
  }
  if (version === 'v1') {
    if (command === 'LOCAL' || src === undefined || dst === undefined) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
    if ('path' in src || 'path' in dst) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', 'PROXY v1 carries no Unix socket addresses; use v2');
    const fam = net.isIP(src.address);
    if (fam === 0 || fam !== net.isIP(dst.address)) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', 'proxyHeader.source and destination must be IP addresses of one family');
    checkPort(src.port, 'source');
    checkPort(dst.port, 'destination');
    return Buffer.from(`PROXY TCP${fam} ${src.address} ${dst.address} ${src.port} ${dst.port}\r\n`, 'latin1');
  }
  if (version !== 'v2') throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', `PROXY protocol version must be 'v1' or 'v2'`);
  let famByte = 0x00;
  let addr: Buffer = Buffer.alloc(0);
  if (command === 'PROXY' && src !== undefined && dst !== undefined) {
    if ('path' in src || 'path' in dst) {
      if (!('path' in src) || !('path' in dst)) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', 'proxyHeader.source and destination must be of one family');
      famByte = 0x31;
      addr = Buffer.alloc(216);
      if (Buffer.byteLength(src.path) > 107 || Buffer.byteLength(dst.path) > 107) throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', 'Unix socket paths in a PROXY header are at most 107 bytes');
      addr.write(src.path, 0, 'utf8');
      addr.write(dst.path, 108, 'utf8');
    } else {
      const fam = net.isIP(src.address);
      if (fam === 0 || fam !== net.isIP(dst.address)) throw rxnetError(TypeError, 'ERR_INVALID_ARG_VALUE', 'proxyHeader.source and destination must be IP addresses of one family');
      checkPort(src.port, 'source');
      checkPort(dst.port, 'destination');
      const size = fam === 4 ? 4 : 16;
      famByte = fam === 4 ? 0x11 : 0x21;
      addr = Buffer.alloc(2 * size + 4);
      writeIp(addr, 0, src.address, fam);
      writeIp(addr, size, dst.address, fam);
      addr.writeUInt16BE(src.port, 2 * size);
      addr.writeUInt16BE(dst.port, 2 * size + 2);
    }
  }
  const tlvParts: Buffer[] = [];
  for (const tlv of init.tlvs ?? []) {
    const value = typeof tlv.value === 'string' ? Buffer.from(tlv.value, 'utf8') : Buffer.from(tlv.value);
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 255) throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', 'A TLV type is a byte');
    const head = Buffer.alloc(3);
    head[0] = tlv.type;
    head.writeUInt16BE(value.length, 1);
    tlvParts.push(head, value);
  }
  if (init.crc32c) tlvParts.push(Buffer.from([PP2_TYPE.CRC32C, 0, 4, 0, 0, 0, 0]));
  const body = Buffer.concat([addr, ...tlvParts]);
  if (body.length > 0xffff) throw rxnetError(RangeError, 'ERR_OUT_OF_RANGE', 'A PROXY v2 header is at most 65551 bytes');
  const fixed = Buffer.alloc(V2_FIXED);
  V2_SIGNATURE.copy(fixed, 0);
  fixed[12] = command === 'PROXY' ? 0x21 : 0x20;
  fixed[13] = famByte;
  fixed.writeUInt16BE(body.length, 14);
  const out = Buffer.concat([fixed, body]);
  if (init.crc32c) out.writeUInt32BE(crc32c([out]), out.length - 4);
  return out;
}

function checkPort(port: unknown, name: string): void {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw rxnetError(RangeError, 'ERR_SOCKET_BAD_PORT', `proxyHeader.${name}.port should be >= 0 and < 65536. Received ${String(port)}.`);
  }
}

function writeIp(out: Buffer, at: number, address: string, fam: number): void {
  if (fam === 4) {
    const parts = address.split('.').map(Number);
    for (let i = 0; i < 4; i++) out[at + i] = parts[i];
    return;
  }
  const bytes = parseIPv6(address.toLowerCase());
  if (bytes === null) throw rxnetError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${address}`);
  out.set(bytes, at);
}
