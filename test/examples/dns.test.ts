/**
 * The dns example: its codec, zone parser and responder as units, then the
 * running server against Node's own resolver (c-ares), the real `dig` over
 * UDP and TCP where installed, and garbage no real client sends.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Class, DnsFormatError, encode, message, Opcode, parse, Rcode, Type, type Message, type ResourceRecord } from '../../examples/dns/message';
import { isSubdomain, labelsToName, nameKey, nameToLabels } from '../../examples/dns/name';
import { respond, UDP_PAYLOAD_SIZE } from '../../examples/dns/responder';
import { loadZone, parseZone, ZoneError } from '../../examples/dns/zone';
import { withClient } from '../helpers/clients';
import { dig, digShort, digStatus, framed, resolveError, resolverFor, TcpDnsClient, udpExchange } from '../helpers/dig';
import { startExample, type RunningExample } from '../helpers/example';
import { assertNoFdLeak, backend, delay, openFds } from '../helpers/leaks';

const ZONE_FILE = path.resolve(__dirname, '../../../examples/dns/example.zone');
const MAIN = path.resolve(__dirname, '../../examples/dns/main.js');

/** A query as dig sends it (RD set), optionally with an EDNS0 OPT record. */
function query(id: number, name: string, type: number = Type.A, init: Partial<Message> = {}): Buffer {
  return encode(message({ id, rd: true, questions: [{ name, type, class: Class.IN }], ...init }));
}

function opt(size: number, version = 0): ResourceRecord {
  return { name: '.', type: Type.OPT, class: size, ttl: version << 16, data: { kind: 'raw', bytes: Buffer.alloc(0) } };
}

/** A raw 12-byte header. */
function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  [id, flags, qd, an, ns, ar].forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
}

/** A deterministic PRNG (mulberry32), so a fuzz failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Malformed queries whose header is readable, each with the reason it is malformed. */
function malformed(): [string, Buffer][] {
  const qtail = Buffer.from([0, 1, 0, 1]);
  const twoQuestions = Buffer.concat([query(0x1007, 'www.example.test.'), query(0, 'mail.example.test.').subarray(12)]);
  twoQuestions.writeUInt16BE(2, 4);
  const hugeArcount = Buffer.concat([query(0x1008, 'www.example.test.'), Buffer.alloc(60000, 0xff)]);
  hugeArcount.writeUInt16BE(0xffff, 10);
  return [
    ['a question cut off after the header', header(0x1001, 0x0100, 1)],
    ['a label longer than the message', Buffer.concat([header(0x1002, 0x0100, 1), Buffer.from([10, 0x61, 0x62])])],
    ['label type 0x40 (extended labels)', Buffer.concat([header(0x1003, 0x0100, 1), Buffer.from([0x41, 0x61, 0]), qtail])],
    ['a compression pointer to itself', Buffer.concat([header(0x1004, 0x0100, 1), Buffer.from([0xc0, 12]), qtail])],
    ['a compression pointer pointing forwards', Buffer.concat([header(0x1005, 0x0100, 1), Buffer.from([1, 0x61, 0xc0, 16, 1, 0x62, 0xc0, 12]), qtail])],
    ['QDCOUNT 0', header(0x1006, 0x0100, 0)],
    ['QDCOUNT 2', twoQuestions],
    ['ARCOUNT 65535 with garbage behind the question', hugeArcount],
    ['two OPT records', query(0x1009, 'www.example.test.', Type.A, { additionals: [opt(1232), opt(1232)] })],
  ];
}

// ---- the codec ----------------------------------------------------------------

const everyType: ResourceRecord[] = [
  { name: 'example.test.', type: Type.SOA, class: Class.IN, ttl: 3600, data: { kind: 'soa', mname: 'ns1.example.test.', rname: 'hostmaster.example.test.', serial: 4294967295, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300 } },
  { name: 'example.test.', type: Type.NS, class: Class.IN, ttl: 3600, data: { kind: 'name', name: 'ns1.example.test.' } },
  { name: 'example.test.', type: Type.MX, class: Class.IN, ttl: 3600, data: { kind: 'mx', preference: 10, exchange: 'mail.example.test.' } },
  { name: 'www.example.test.', type: Type.A, class: Class.IN, ttl: 0, data: { kind: 'address', address: '192.0.2.10' } },
  { name: 'www.example.test.', type: Type.AAAA, class: Class.IN, ttl: 60, data: { kind: 'address', address: '2001:db8::10' } },
  { name: 'v4.example.test.', type: Type.AAAA, class: Class.IN, ttl: 60, data: { kind: 'address', address: '::ffff:192.0.2.1' } },
  { name: 'alias.example.test.', type: Type.CNAME, class: Class.IN, ttl: 60, data: { kind: 'name', name: 'www.example.test.' } },
  { name: '10.2.0.192.in-addr.arpa.', type: Type.PTR, class: Class.IN, ttl: 60, data: { kind: 'name', name: 'www.example.test.' } },
  { name: 'txt.example.test.', type: Type.TXT, class: Class.IN, ttl: 60, data: { kind: 'txt', strings: [Buffer.from('hello world'), Buffer.from([0, 255, 0x22]), Buffer.alloc(255, 0x78)] } },
  { name: 'odd\\.label\\032x.example.test.', type: 99, class: Class.IN, ttl: 60, data: { kind: 'raw', bytes: Buffer.from([1, 2, 3]) } },
  opt(1232),
];

test.serial('codec: every record type survives encode → parse, compressed or not', (t) => {
  const msg = message({ id: 0xbeef, qr: true, aa: true, rd: true, rcode: Rcode.NXDOMAIN, questions: [{ name: 'www.example.test.', type: Type.ANY, class: Class.IN }], answers: everyType.slice(0, 9), authorities: [everyType[0]], additionals: everyType.slice(9) });
  t.deepEqual(parse(encode(msg)), msg);
  t.deepEqual(parse(encode(msg, { compress: false })), msg);
  for (const flags of [{ tc: true }, { ra: true, ad: true, cd: true }, { opcode: Opcode.UPDATE, rcode: Rcode.REFUSED }]) {
    const m = message({ id: 1, ...flags });
    t.deepEqual(parse(encode(m)), m);
  }
});

test.serial('codec: names are compressed with pointers to earlier suffixes, case-insensitively', (t) => {
  const msg = message({ id: 1, qr: true, questions: [{ name: 'www.example.test.', type: Type.MX, class: Class.IN }], answers: everyType.slice(0, 5) });
  const compressed = encode(msg);
  const plain = encode(msg, { compress: false });
  t.true(compressed.length < plain.length, `${compressed.length} < ${plain.length}`);
  t.log(`compressed ${compressed.length} bytes, uncompressed ${plain.length}`);
  // The first answer's owner (example.test.) is a suffix of the question's name at offset 12 + 4.
  t.deepEqual([...compressed.subarray(12 + 18 + 4, 12 + 18 + 6)], [0xc0, 16]);
  t.deepEqual(parse(compressed), parse(plain));
  // A name that differs only in case still reuses the earlier spelling's bytes.
  const upper = encode(message({ questions: [{ name: 'www.example.test.', type: 1, class: 1 }, { name: 'WWW.EXAMPLE.TEST.', type: 1, class: 1 }] }));
  t.is(upper.length, 12 + 18 + 4 + 2 + 4);
});

test.serial('codec: malformed names, pointer loops and short data throw DnsFormatError with the ID', (t) => {
  for (const [why, bytes] of malformed().slice(0, 5)) {
    const err = t.throws(() => parse(bytes), { instanceOf: DnsFormatError }, why);
    t.is(err?.id, bytes.readUInt16BE(0), why);
  }
  // A chain of 40 backward pointers, each to the one before, kept in an
  // unknown record's data; the next record's owner starts at its end.
  const chain = [1, 0x61, 0];
  for (let i = 0; i < 40; i++) chain.push(0xc0, i === 0 ? 23 : 26 + (i - 1) * 2);
  const rdata = Buffer.from(chain);
  const holder = Buffer.concat([Buffer.from([0, 0, 99, 0, 1, 0, 0, 0, 0]), Buffer.of(rdata.length >> 8, rdata.length & 0xff), rdata]);
  const hops = Buffer.concat([header(7, 0x8000, 0, 2), holder, Buffer.from([0xc0, 26 + 39 * 2, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])]);
  t.throws(() => parse(hops), { instanceOf: DnsFormatError, message: /too many compression pointers/ });
  hops.writeUInt16BE(0xc000 | (26 + 20 * 2), 12 + holder.length);
  t.is(parse(hops).answers[1].name, 'a.', '21 hops are fine');
  // A name over 255 bytes, made of 63-byte labels.
  const long = Buffer.concat([header(8, 0, 1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.of(63), Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]);
  t.throws(() => parse(long), { instanceOf: DnsFormatError, message: /longer than 255/ });
  // Record data that does not match its length.
  const a5 = Buffer.concat([header(9, 0x8000, 0, 1), Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5])]);
  t.throws(() => parse(a5), { instanceOf: DnsFormatError, message: /A record of 5 bytes/ });
  t.throws(() => parse(Buffer.alloc(11)), { instanceOf: DnsFormatError });
  t.is((t.throws(() => parse(Buffer.alloc(11))) as DnsFormatError).id, undefined);
});

test.serial('codec: random and mutated bytes only ever parse or throw DnsFormatError, and respond() never throws', (t) => {
  const zone = loadZone(ZONE_FILE);
  const random = prng(0x5eed);
  const valid = query(42, 'alias.example.test.', Type.A, { additionals: [opt(4096)] });
  let answered = 0;
  let dropped = 0;
  for (let i = 0; i < 1000; i++) {
    let bytes: Buffer;
    if (i % 2 === 0) {
      bytes = Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
    } else {
      bytes = Buffer.from(valid);
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    try {
      parse(bytes);
    } catch (err) {
      if (!(err instanceof DnsFormatError)) return t.fail(`parse threw ${String(err)} for ${bytes.toString('hex')}`);
    }
    const reply = respond(zone, bytes, i % 3 === 0 ? 'tcp' : 'udp');
    if (reply === null) {
      if (!(bytes.length < 12 || bytes[2] & 0x80)) return t.fail(`no reply to ${bytes.toString('hex')}`);
      dropped++;
    } else {
      const r = parse(reply);
      if (!r.qr || r.id !== bytes.readUInt16BE(0)) return t.fail(`bad reply to ${bytes.toString('hex')}`);
      answered++;
    }
  }
  // Every packet was checked one way or the other, and both kinds occurred.
  t.is(answered + dropped, 1000);
  t.true(answered > 0 && dropped > 0, `answered ${answered}, dropped ${dropped}`);
});

test.serial('names: escapes round-trip, keys fold ASCII case only, subdomains compare by label', (t) => {
  t.deepEqual(nameToLabels('a\\.b.Example.'), [Buffer.from('a.b'), Buffer.from('Example')]);
  t.is(labelsToName([Buffer.from('a.b'), Buffer.from([0x20, 0xc9, 0x5c])]), 'a\\.b.\\032\\201\\\\.');
  t.is(nameKey('WWW.Example.TEST'), 'www.example.test.');
  t.is(nameKey('\\065bc.'), 'abc.');
  t.true(isSubdomain('A.B.example.test.', 'EXAMPLE.test.'));
  t.true(isSubdomain('example.test.', 'example.test.'));
  t.false(isSubdomain('a\\.example.test.', 'example.test.'), 'one label "a.example", then "test"');
  t.false(isSubdomain('notexample.test.', 'example.test.'));
  t.throws(() => nameToLabels('a..b.'), { instanceOf: RangeError });
  t.throws(() => nameToLabels(`${'x'.repeat(64)}.test.`), { instanceOf: RangeError });
  t.throws(() => nameToLabels('caf\u00e9.test.'), { instanceOf: RangeError });
});

// ---- the zone parser ----------------------------------------------------------

test.serial('zone: the example zone parses with its SOA, relative names, TTLs and quoted TXT', (t) => {
  const zone = loadZone(ZONE_FILE);
  t.is(zone.origin, 'example.test.');
  t.deepEqual(zone.soa.data, { kind: 'soa', mname: 'ns1.example.test.', rname: 'hostmaster.example.test.', serial: 2026110101, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300 });
  const www = zone.lookup('WWW.example.test.');
  t.deepEqual(www.map((r) => [r.name, r.type, r.ttl]), [['www.example.test.', Type.A, 300], ['www.example.test.', Type.AAAA, 3600]], 'a blank owner is the previous one; $TTL is the default TTL');
  t.deepEqual(zone.lookup('mail.example.test.').map((r) => r.ttl), [3600, 3600], '$TTL');
  const apex = zone.lookup('example.test.');
  t.deepEqual(apex.map((r) => r.type), [Type.SOA, Type.NS, Type.NS, Type.MX, Type.MX, Type.TXT, Type.A]);
  t.deepEqual(apex.filter((r) => r.type === Type.NS).map((r) => r.data), [{ kind: 'name', name: 'ns1.example.test.' }, { kind: 'name', name: 'ns2.example.test.' }]);
  const txt = zone.lookup('txt.example.test.').map((r) => (r.data.kind === 'txt' ? r.data.strings.map(String) : []));
  t.deepEqual(txt, [['hello world', 'a second string'], ['quotes "inside"; and a semicolon']]);
  t.true(zone.exists('deep.example.test.'), 'an empty non-terminal exists');
  t.false(zone.exists('nope.example.test.'));
});

test.serial('zone: directives, class/TTL order, escapes, parentheses and comments', (t) => {
  const zone = parseZone(
    [
      '$TTL 1h ; one hour',
      '$ORIGIN Other.Test.',
      '@ IN 60 SOA ns.other.test. admin\\.x ( 1 ; serial',
      '   2 3 4 5 )',
      'www 120 IN A 192.0.2.1',
      '    IN 30 AAAA 2001:DB8:0:0::1 ; comment',
      '$ORIGIN sub.other.test.',
      'deep  TXT bare "quoted ; not a comment" "\\065\\\\" ',
      '@ CNAME www.other.test.',
    ].join('\n'),
    { file: 'other.zone' },
  );
  t.is(zone.origin, 'Other.Test.');
  t.is(zone.soa.ttl, 60);
  t.is(zone.soa.data.rname, 'admin\\.x.Other.Test.');
  t.deepEqual(zone.lookup('www.other.test.').map((r) => [r.ttl, r.data]), [
    [120, { kind: 'address', address: '192.0.2.1' }],
    [30, { kind: 'address', address: '2001:db8:0:0::1' }],
  ]);
  const deep = zone.lookup('deep.sub.other.test.')[0];
  t.is(deep.ttl, 3600);
  t.deepEqual(deep.data.kind === 'txt' && deep.data.strings.map(String), ['bare', 'quoted ; not a comment', 'A\\']);
  t.deepEqual(zone.lookup('sub.other.test.')[0].data, { kind: 'name', name: 'www.other.test.' });
});

test.serial('zone: mistakes are reported with the file and line', (t) => {
  const soa = '$ORIGIN z.test.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\n';
  const cases: [string, RegExp][] = [
    [`${soa}www A 300.1.1.1\n`, /z\.zone:4: bad IPv4 address/],
    [`${soa}www AAAA 192.0.2.1\n`, /z\.zone:4: bad IPv6 address/],
    [`${soa}\nwww SRV 0 0 1 x\n`, /z\.zone:5: unsupported record type SRV/],
    [`${soa}www MX mail\n`, /z\.zone:4: MX takes 2 fields/],
    [`${soa}www TXT "${'x'.repeat(256)}"\n`, /z\.zone:4: TXT string of 256 bytes/],
    [`${soa}www TXT "open\n`, /z\.zone:4: unterminated quoted string/],
    [`${soa}www A ( 192.0.2.1\n`, /z\.zone:5: "\(" without "\)"/],
    [`${soa}$INCLUDE other.zone\n`, /z\.zone:4: unsupported directive \$INCLUDE/],
    [`${soa}www CH A 192.0.2.1\n`, /z\.zone:4: class CH is not supported/],
    [`${soa}www.elsewhere. A 192.0.2.1\n`, /outside the zone z\.test\./],
    [`${soa}www CNAME a\nwww A 192.0.2.1\n`, /has a CNAME and other records/],
    [`${soa}@ SOA ns admin 1 2 3 4 5\n`, /exactly one SOA record, found 2/],
    ['$ORIGIN z.test.\nwww 60 A 192.0.2.1\n', /exactly one SOA record, found 0/],
    ['$ORIGIN z.test.\n@ SOA ns admin 1 2 3 4 5\n', /z\.zone:2: no TTL/],
    ['  A 192.0.2.1\n', /z\.zone:1: a record without an owner/],
  ];
  for (const [text, message] of cases) t.throws(() => parseZone(text, { file: 'z.zone' }), { instanceOf: ZoneError, message }, text);
});

// ---- the responder, in process -----------------------------------------------

test.serial('responder: EDNS0 sizes decide truncation; BADVERS; CNAME loops end; transfers and other classes are refused', (t) => {
  const zone = loadZone(ZONE_FILE);
  const ask = (bytes: Buffer, transport: 'udp' | 'tcp' = 'udp') => parse(respond(zone, bytes, transport)!);
  const mid = (init: Partial<Message> = {}) => query(1, 'mid.example.test.', Type.TXT, init);
  t.true(ask(mid()).tc, 'over 512 bytes without EDNS0');
  t.false(ask(mid({ additionals: [opt(1232)] })).tc, 'within the offered 1232');
  t.true(ask(mid({ additionals: [opt(100)] })).tc, 'an offer below 512 counts as 512');
  const big = ask(query(2, 'big.example.test.', Type.TXT, { additionals: [opt(65000)] }));
  t.true(big.tc, 'our own limit caps a larger offer');
  t.is(big.answers.length, 0);
  t.deepEqual(big.additionals.map((r) => [r.type, r.class]), [[Type.OPT, UDP_PAYLOAD_SIZE]]);
  t.is(ask(query(2, 'big.example.test.', Type.TXT), 'tcp').answers.length, 12, 'TCP has no limit');
  const badvers = ask(query(3, 'www.example.test.', Type.A, { additionals: [opt(1232, 1)] }));
  t.is(badvers.rcode, Rcode.BADVERS & 0xf);
  t.is(badvers.additionals[0].ttl >>> 24, Rcode.BADVERS >> 4);

  const loop = parseZone('$ORIGIN l.test.\n$TTL 5\n@ SOA ns admin 1 2 3 4 5\na CNAME b\nb CNAME a\n');
  const looped = parse(respond(loop, query(4, 'a.l.test.'), 'udp')!);
  t.deepEqual(looped.answers.map((r) => r.name), ['a.l.test.', 'b.l.test.']);
  t.is(parse(respond(zone, query(5, 'example.test.', Type.AXFR), 'tcp')!).rcode, Rcode.REFUSED);
  t.is(parse(respond(zone, encode(message({ id: 6, questions: [{ name: 'version.bind.', type: Type.TXT, class: 3 }] })), 'udp')!).rcode, Rcode.REFUSED);
  t.is(respond(zone, encode(message({ id: 7, qr: true })), 'udp'), null, 'a response is never answered');
});

// ---- the server, with dig -----------------------------------------------------

/** The script for startExample(), under dist/examples. */
const DNS_MAIN = 'dns/main.js';

let ex: RunningExample | undefined;
let fdsBefore: Map<number, string>;

/** The example the next tests talk to, or a clear error if it did not start. */
function running(): RunningExample {
  if (ex === undefined) throw new Error('the dns example is not running: see why "the example starts with one listening line" failed');
  return ex;
}

const port = () => running().port;

test.serial('the example starts with one listening line', async (t) => {
  fdsBefore = openFds();
  ex = await startExample(DNS_MAIN);
  t.regex(ex.output(), /^listening on 127\.0\.0\.1:\d+\n/);
});

// ---- with Node's resolver (c-ares) ------------------------------------------

test.serial('dns.Resolver: A and AAAA with their TTLs, case-insensitively; CNAMEs followed inside the zone', async (t) => {
  const r = resolverFor(port());
  t.deepEqual(await r.resolve4('www.example.test', { ttl: true }), [{ address: '192.0.2.10', ttl: 300 }]);
  t.deepEqual(await r.resolve4('WwW.ExAmPlE.tEsT'), ['192.0.2.10']);
  t.deepEqual(await r.resolve6('www.example.test'), ['2001:db8::10']);
  t.deepEqual(await r.resolve4('alias.example.test'), ['192.0.2.10']);
  t.deepEqual(await r.resolveCname('alias.example.test'), ['www.example.test']);
  t.deepEqual(await r.resolve6('ftp.example.test'), ['2001:db8::10']);
  t.is(await resolveError(r.resolve4('dangling.example.test')), 'ENOTFOUND');
});

test.serial('dns.Resolver: MX, TXT, SOA and NS', async (t) => {
  const r = resolverFor(port());
  t.deepEqual(await r.resolveMx('example.test'), [
    { exchange: 'mail.example.test', priority: 10 },
    { exchange: 'mail.example.net', priority: 20 },
  ]);
  t.deepEqual(await r.resolveTxt('txt.example.test'), [['hello world', 'a second string'], ['quotes "inside"; and a semicolon']]);
  t.deepEqual(await r.resolveSoa('example.test'), {
    nsname: 'ns1.example.test',
    hostmaster: 'hostmaster.example.test',
    serial: 2026110101,
    refresh: 7200,
    retry: 3600,
    expire: 1209600,
    minttl: 300,
  });
  t.deepEqual(await r.resolveNs('example.test'), ['ns1.example.test', 'ns2.example.test']);
});

test.serial('dns.Resolver: NXDOMAIN is ENOTFOUND, NODATA is ENODATA, a name outside the zone is EREFUSED', async (t) => {
  const r = resolverFor(port());
  t.is(await resolveError(r.resolve4('nope.example.test')), 'ENOTFOUND');
  t.is(await resolveError(r.resolveTxt('mail.example.test')), 'ENODATA');
  t.is(await resolveError(r.resolve4('deep.example.test')), 'ENODATA');
  t.is(await resolveError(r.resolve4('www.other.test')), 'EREFUSED');
});

test.serial('dns.Resolver: an answer too big for UDP comes truncated, and c-ares gets it whole over TCP', async (t) => {
  const r = resolverFor(port());
  const big = await r.resolveTxt('big.example.test');
  t.is(big.length, 12);
  t.true(big.every((strings) => /^big \d\d: lorem/.test(strings.join(''))));
  t.is((await r.resolveTxt('mid.example.test')).length, 4);
});

// ---- with dig, where installed ----------------------------------------------

if (withClient('dig')) test.serial('dig: A and AAAA, case-insensitively, with the question spelled as asked', async (t) => {
  t.deepEqual(await digShort(port(), ['www.example.test', 'A']), ['192.0.2.10']);
  t.deepEqual(await digShort(port(), ['www.example.test', 'AAAA']), ['2001:db8::10']);
  const { stdout } = await dig(port(), ['WwW.ExAmPlE.tEsT', 'A', '+noall', '+comments', '+answer']);
  t.regex(stdout, /flags: qr aa rd;/);
  t.regex(stdout, /^WwW\.ExAmPlE\.tEsT\.\s+300\s+IN\s+A\s+192\.0\.2\.10$/m);
});

if (withClient('dig')) test.serial('dig: CNAME: followed inside the zone, left to the client outside it, NXDOMAIN when dangling', async (t) => {
  t.deepEqual(await digShort(port(), ['alias.example.test', 'A']), ['www.example.test.', '192.0.2.10']);
  t.deepEqual(await digShort(port(), ['alias.example.test', 'CNAME']), ['www.example.test.']);
  t.deepEqual(await digShort(port(), ['ftp.example.test', 'AAAA']), ['www.example.test.', '2001:db8::10']);
  t.deepEqual(await digShort(port(), ['external.example.test', 'A']), ['www.example.net.']);
  const { stdout } = await dig(port(), ['dangling.example.test', 'A', '+noall', '+comments', '+answer', '+authority']);
  t.is(digStatus(stdout), 'NXDOMAIN');
  t.regex(stdout, /^dangling\.example\.test\.\s+3600\s+IN\s+CNAME\s+nowhere\.example\.test\.$/m);
  t.regex(stdout, /^example\.test\.\s+300\s+IN\s+SOA\s/m);
});

if (withClient('dig')) test.serial('dig: MX (with in-zone addresses as additional data), TXT, SOA and NS', async (t) => {
  t.deepEqual(await digShort(port(), ['example.test', 'MX']), ['10 mail.example.test.', '20 mail.example.net.']);
  const { stdout } = await dig(port(), ['example.test', 'MX', '+noall', '+additional']);
  t.regex(stdout, /^mail\.example\.test\.\s+3600\s+IN\s+A\s+192\.0\.2\.25$/m);
  t.regex(stdout, /^mail\.example\.test\.\s+3600\s+IN\s+AAAA\s+2001:db8::25$/m);
  t.deepEqual(await digShort(port(), ['txt.example.test', 'TXT']), ['"hello world" "a second string"', '"quotes \\"inside\\"; and a semicolon"']);
  t.deepEqual(await digShort(port(), ['example.test', 'SOA']), ['ns1.example.test. hostmaster.example.test. 2026110101 7200 3600 1209600 300']);
  t.deepEqual(await digShort(port(), ['example.test', 'NS']), ['ns1.example.test.', 'ns2.example.test.']);
});

if (withClient('dig')) test.serial('dig: NXDOMAIN and NODATA carry the SOA in authority, with the negative TTL', async (t) => {
  const nx = await dig(port(), ['nope.example.test', 'A', '+noall', '+comments', '+authority']);
  t.is(digStatus(nx.stdout), 'NXDOMAIN');
  t.regex(nx.stdout, /flags: qr aa rd;.*ANSWER: 0, AUTHORITY: 1/);
  t.regex(nx.stdout, /^example\.test\.\s+300\s+IN\s+SOA\s+ns1\.example\.test\. hostmaster\.example\.test\. 2026110101/m);
  for (const args of [['mail.example.test', 'TXT'], ['deep.example.test', 'A']]) {
    const nodata = await dig(port(), [...args, '+noall', '+comments', '+authority']);
    t.is(digStatus(nodata.stdout), 'NOERROR', args.join(' '));
    t.regex(nodata.stdout, /ANSWER: 0, AUTHORITY: 1/);
    t.regex(nodata.stdout, /^example\.test\.\s+300\s+IN\s+SOA\s/m);
  }
});

if (withClient('dig')) test.serial('dig: a name outside the zone is REFUSED, without AA', async (t) => {
  const { stdout } = await dig(port(), ['www.other.test', 'A']);
  t.is(digStatus(stdout), 'REFUSED');
  t.regex(stdout, /flags: qr rd;/);
});

if (withClient('dig')) test.serial('dig: TCP: dig +tcp, and several queries on one kept-open connection', async (t) => {
  const { stdout } = await dig(port(), ['+tcp', 'www.example.test', 'A']);
  t.regex(stdout, /SERVER: 127\.0\.0\.1#\d+\(127\.0\.0\.1\) \(TCP\)/);
  t.regex(stdout, /^www\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10$/m);
  const many = await digShort(port(), ['+tcp', '+keepopen', 'www.example.test', 'A', 'mail.example.test', 'AAAA', 'example.test', 'NS']);
  t.deepEqual(many, ['192.0.2.10', '2001:db8::25', 'ns1.example.test.', 'ns2.example.test.']);
});

if (withClient('dig')) test.serial('dig: truncation: TC over UDP beyond 512 bytes (or the EDNS0 size), and dig falls back to TCP for the whole answer', async (t) => {
  const big = await dig(port(), ['big.example.test', 'TXT']);
  t.regex(big.stdout, /;; Truncated, retrying in TCP mode\./);
  t.regex(big.stdout, /ANSWER: 12,/);
  t.regex(big.stdout, /\(TCP\)/);
  t.is(big.stdout.match(/^big\.example\.test\.\s+3600\s+IN\s+TXT\s+"big \d\d: lorem/gm)?.length, 12);
  const ignored = await dig(port(), ['+noedns', '+ignore', 'mid.example.test', 'TXT']);
  t.regex(ignored.stdout, /flags: qr aa tc rd;.*ANSWER: 0,/);
  const mid = await dig(port(), ['+noedns', 'mid.example.test', 'TXT']);
  t.regex(mid.stdout, /Truncated, retrying in TCP mode[\s\S]*ANSWER: 4,/);
  const edns = await dig(port(), ['mid.example.test', 'TXT']);
  t.notRegex(edns.stdout, /Truncated/);
  t.regex(edns.stdout, /ANSWER: 4,[\s\S]*udp: 1232[\s\S]*\(UDP\)/);
});

test.serial('UDP garbage: FORMERR when the header is readable, silence otherwise, and queries are still answered', async (t) => {
  const cases = malformed();
  const silent = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(11, 0xff), encode(message({ id: 0x2001, qr: true, questions: [{ name: 'www.example.test.', type: 1, class: 1 }] }))];
  const notimp = [header(0x3002, Opcode.STATUS << 11, 0), query(0x3005, 'example.test.', Type.SOA, { opcode: Opcode.UPDATE })];
  const last = query(0x4000, 'www.example.test.');
  // One socket, in order: the server answers in order, so the valid query
  // last proves the silent ones got no reply rather than a late one.
  const packets = [...silent.slice(0, 2), ...cases.map(([, b]) => b), ...silent.slice(2), ...notimp, last];
  const replies = (await udpExchange(port(), packets, cases.length + notimp.length + 1)).map((r) => parse(r));
  t.deepEqual(
    replies.map((r) => [r.id, r.rcode, r.qr]),
    [...cases.map(([, b]) => [b.readUInt16BE(0), Rcode.FORMERR, true]), [0x3002, Rcode.NOTIMP, true], [0x3005, Rcode.NOTIMP, true], [0x4000, Rcode.NOERROR, true]],
  );
  const oversized = Buffer.concat([header(0x5000, 0x0100, 1), Buffer.alloc(65507 - 12, 0x3f)]);
  t.deepEqual((await udpExchange(port(), [oversized], 1)).map((r) => [parse(r).id, parse(r).rcode]), [[0x5000, Rcode.FORMERR]]);
  t.deepEqual(await resolverFor(port()).resolve4('www.example.test'), ['192.0.2.10']);
});

test.serial('UDP fuzz: random and mutated datagrams get well-formed replies or none, and the server keeps answering', async (t) => {
  const random = prng(0xd15);
  const valid = query(9, 'alias.example.test.', Type.A, { additionals: [opt(1232)] });
  const packets: Buffer[] = [];
  for (let i = 0; i < 400; i++) {
    if (i % 2 === 0) {
      packets.push(Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256))));
    } else {
      const b = Buffer.from(valid);
      for (let k = 0; k < 3; k++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      packets.push(b);
    }
  }
  const replies = await udpExchange(port(), packets, Infinity, 300);
  t.true(replies.length > 100, `${replies.length} replies`);
  for (const r of replies) t.true(parse(r).qr);
  t.deepEqual(await resolverFor(port()).resolve4('alias.example.test'), ['192.0.2.10']);
});

/** Sockets the example process holds open (Linux /proc, as leaks.ts reads). */
function childSockets(): number {
  return fs.readdirSync(`/proc/${running().proc.pid}/fd`).filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/${running().proc.pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

/** Waits up to `ms` for the example to hold `count` sockets again. */
async function childSocketsBackTo(count: number, ms = 2000): Promise<number> {
  const deadline = Date.now() + ms;
  while (childSockets() !== count && Date.now() < deadline) await delay(10);
  return childSockets();
}

test.serial('TCP: pipelined queries in one write, a frame dribbled byte by byte, FORMERR keeps the connection, a headerless frame closes it', async (t) => {
  const sockets = childSockets();
  const c = await TcpDnsClient.connect(port());
  try {
    c.socket.write(Buffer.concat([framed(query(1, 'www.example.test.')), framed(query(2, 'mail.example.test.', Type.AAAA)), framed(query(3, 'nope.example.test.'))]));
    const three = (await c.waitFor(3)).map((m) => parse(m));
    t.deepEqual(three.map((m) => [m.id, m.rcode, m.answers.length]), [[1, Rcode.NOERROR, 1], [2, Rcode.NOERROR, 1], [3, Rcode.NXDOMAIN, 0]]);
    // Compression on the wire: the answer's owner points at the question name (offset 12).
    t.true(c.messages[0].includes(Buffer.from([0xc0, 0x0c])));
    for (const byte of framed(query(4, 'example.test.', Type.MX))) {
      c.socket.write(Buffer.of(byte));
      await delay(1);
    }
    t.is(parse((await c.waitFor(4))[3]).answers.length, 2);
    const [, loop] = malformed()[3];
    c.socket.write(Buffer.concat([framed(loop), framed(Buffer.concat([header(6, 0x0100, 1), Buffer.alloc(65535 - 12, 0xff)])), framed(query(5, 'www.example.test.'))]));
    t.deepEqual((await c.waitFor(7)).slice(4).map((m) => [parse(m).id, parse(m).rcode]), [[0x1004, Rcode.FORMERR], [6, Rcode.FORMERR], [5, Rcode.NOERROR]]);
    c.socket.write(Buffer.concat([framed(Buffer.from('short')), framed(query(8, 'www.example.test.'))]));
    t.true(await c.waitForEnd(), 'the server half-closed');
    t.is(c.messages.length, 7, 'nothing answered after the headerless frame');
  } finally {
    await c.close();
  }
  // A peer that stops in the middle of a frame is closed without fuss.
  const partial = await TcpDnsClient.connect(port());
  partial.socket.end(framed(query(9, 'www.example.test.')).subarray(0, 10));
  t.true(await partial.waitForEnd());
  await partial.close();
  const after = await TcpDnsClient.connect(port());
  after.socket.write(framed(query(10, 'www.example.test.')));
  t.deepEqual((await after.waitFor(1)).map((m) => parse(m).answers.map((a) => a.data)), [[{ kind: 'address', address: '192.0.2.10' }]]);
  await after.close();
  t.is(await childSocketsBackTo(sockets), sockets, 'the server closed every connection once its peer had');
});

test.serial('SIGTERM: an idle TCP client gets FIN, the process exits 0 by itself, nothing failed inside', async (t) => {
  const idle = await TcpDnsClient.connect(port());
  await delay(50);
  const started = Date.now();
  t.is(await running().stop(), 0, running().output());
  t.true(Date.now() - started < 1500, `no connection waited for the 2 s shutdown deadline (${Date.now() - started} ms)`);
  t.true(await idle.waitForEnd(), 'idle connection half-closed by the shutdown');
  await idle.close();
  t.notRegex(running().output(), /failed to answer/);
  t.regex(running().output(), /SIGTERM: shutting down/);
  await assertNoFdLeak(t, fdsBefore);
});

// ---- --zone -------------------------------------------------------------------

test.serial('--zone FILE serves that zone; a broken zone file stops the start with its file:line and exit code 1', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxnet-dns-'));
  try {
    const good = path.join(dir, 'other.zone');
    fs.writeFileSync(good, '$ORIGIN other.test.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\nwww A 198.51.100.7\n');
    const other = await startExample(DNS_MAIN, ['--zone', good]);
    try {
      const r = resolverFor(other.port);
      t.deepEqual(await r.resolve4('www.other.test'), ['198.51.100.7']);
      t.is(await resolveError(r.resolve4('www.example.test')), 'EREFUSED');
      t.deepEqual(await r.resolveSoa('other.test'), { nsname: 'ns.other.test', hostmaster: 'admin.other.test', serial: 1, refresh: 2, retry: 3, expire: 4, minttl: 5 });
      if (withClient('dig')) t.deepEqual(await digShort(other.port, ['+tcp', 'other.test', 'SOA']), ['ns.other.test. admin.other.test. 1 2 3 4 5']);
    } finally {
      t.is(await other.stop(), 0);
    }
    const bad = path.join(dir, 'bad.zone');
    fs.writeFileSync(bad, '$ORIGIN bad.test.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\nwww A not-an-address\n');
    const run = spawnSync(process.execPath, [MAIN, '--port', '0', '--backend', backend, '--zone', bad], { encoding: 'utf8', timeout: 10000 });
    t.is(run.status, 1);
    t.regex(run.stderr, /^dns: cannot load zone: .*bad\.zone:4: bad IPv4 address "not-an-address"$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
