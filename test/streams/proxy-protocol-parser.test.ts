/**
 * The PROXY protocol parser on handcrafted bytes (HAProxy's
 * doc/proxy-protocol.txt): every address family, LOCAL, TLVs, garbage,
 * truncation, limits; then fuzzed. Pure functions: no socket, no fd.
 */
import test from 'ava';
import fc from 'fast-check';
import { encodeProxyHeader, parseProxyHeader, PP2_TYPE, type ProxyHeader } from '../../index';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const MAX = 4096;

/** A v2 header from its parts, as a sender lays it out (spec 2.2). */
function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(16);
  SIG.copy(fixed);
  fixed[12] = verCmd;
  fixed[13] = fam;
  fixed.writeUInt16BE(body.length, 14);
  return Buffer.concat([fixed, body]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(v.length, 1);
  return Buffer.concat([h, v]);
}

function parsed(bytes: Buffer, version: 'v1' | 'v2' | 'any' = 'any', max = MAX): { header: ProxyHeader; length: number } {
  const r = parseProxyHeader(bytes, version, max);
  if (r === null) throw new Error('expected a complete header');
  return r;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
  return undefined;
}

test('v1 TCP4: addresses, ports, and the data after the line is left alone', (t) => {
  const bytes = Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n');
  const { header, length } = parsed(bytes);
  t.is(length, 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'.length);
  t.like(header, { version: 1, command: 'PROXY', family: 'IPv4', protocol: 'stream' });
  t.deepEqual(header.source, { address: '192.168.0.1', family: 'IPv4', port: 56324 });
  t.deepEqual(header.destination, { address: '192.168.0.11', family: 'IPv4', port: 443 });
  t.is(bytes.subarray(length).toString(), 'GET / HTTP/1.1\r\n');
});

test('v1 TCP6: any valid spelling, reported in canonical form; the 104-byte worst case fits', (t) => {
  const long = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const line = `PROXY TCP6 ${long} ${long} 65535 65535\r\n`;
  t.is(line.length, 104);
  t.deepEqual(parsed(Buffer.from(line)).header.source, { address: long, family: 'IPv6', port: 65535 });
  const { header } = parsed(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:10.1.2.3 1 2\r\n'));
  t.is(header.source!.address, '2001:db8::1');
  t.is(header.destination!.address, '::ffff:10.1.2.3');
});

test('v1 UNKNOWN: short and long forms; the real endpoints apply (no source)', (t) => {
  for (const line of ['PROXY UNKNOWN\r\n', `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`]) {
    const { header, length } = parsed(Buffer.from(line));
    t.is(length, line.length);
    t.like(header, { version: 1, family: 'unspec', source: null, destination: null });
  }
});

test('v1 refuses what is not exactly the format: leading zeroes, lone LF or CR, wrong fields, family mismatch, no CRLF in 107 bytes', (t) => {
  for (const line of [
    'PROXY TCP4 192.168.0.01 192.168.0.11 1 2\r\n',
    'PROXY TCP4 192.168.0.1 192.168.0.11 01 2\r\n',
    'PROXY TCP4 192.168.0.1 192.168.0.11 1 65536\r\n',
    'PROXY TCP4 192.168.0.1 192.168.0.11 1 2\n',
    'PROXY TCP4 192.168.0.1 192.168.0.11 1 2\rX',
    'PROXY TCP4 192.168.0.1  192.168.0.11 1 2\r\n',
    'PROXY TCP4 192.168.0.1 192.168.0.11 1\r\n',
    'PROXY TCP4 ::1 ::1 1 2\r\n',
    'PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n',
    'PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n',
    'PROXY UNKNOWNX\r\n',
    'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
    'proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n',
    `PROXY UNKNOWN ${'x'.repeat(120)}\r\n`,
  ]) {
    t.is(code(() => parseProxyHeader(Buffer.from(line), 'v1', MAX)), 'ERR_RXNET_PROXY_HEADER', JSON.stringify(line));
  }
});

test('v2 INET, INET6 and UNIX with the PROXY command; addresses in network order', (t) => {
  const inet = Buffer.from([203, 0, 113, 7, 198, 51, 100, 1, 0x10, 0x92, 0x00, 0x50]);
  const four = parsed(v2(0x21, 0x11, inet)).header;
  t.like(four, { version: 2, command: 'PROXY', family: 'IPv4', protocol: 'stream' });
  t.deepEqual(four.source, { address: '203.0.113.7', family: 'IPv4', port: 4242 });
  t.deepEqual(four.destination, { address: '198.51.100.1', family: 'IPv4', port: 80 });

  const inet6 = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(inet6, 0);
  Buffer.from('00000000000000000000ffff7f000001', 'hex').copy(inet6, 16);
  inet6.writeUInt16BE(65535, 32);
  inet6.writeUInt16BE(443, 34);
  const six = parsed(v2(0x21, 0x22, inet6)).header;
  t.like(six, { family: 'IPv6', protocol: 'dgram' });
  t.deepEqual(six.source, { address: '2001:db8::1', family: 'IPv6', port: 65535 });
  t.deepEqual(six.destination, { address: '::ffff:127.0.0.1', family: 'IPv6', port: 443 });

  const unix = Buffer.alloc(216);
  unix.write('/run/client.sock', 0);
  unix.write('\0abstract', 108);
  const u = parsed(v2(0x21, 0x31, unix)).header;
  t.like(u, { family: 'unix', protocol: 'stream' });
  t.deepEqual(u.source, { address: '/run/client.sock', family: 'unix', port: 0 });
  t.deepEqual(u.destination, { address: '@abstract', family: 'unix', port: 0 });
});

test('v2 LOCAL (health checks) and AF_UNSPEC: no source, whatever address bytes follow; TLVs are still read', (t) => {
  const local = parsed(v2(0x20, 0x00, Buffer.alloc(0))).header;
  t.like(local, { command: 'LOCAL', family: 'unspec', source: null });
  // LOCAL may carry an address block: skipped by its length (spec 2.2), TLVs after it read.
  const withBlock = v2(0x20, 0x11, Buffer.concat([Buffer.alloc(12, 9), tlv(PP2_TYPE.AUTHORITY, 'example.test')]));
  const r = parsed(Buffer.concat([withBlock, Buffer.from('rest')]));
  t.like(r.header, { command: 'LOCAL', family: 'unspec', source: null, authority: 'example.test' });
  t.is(r.length, withBlock.length);
  t.like(parsed(v2(0x21, 0x00, Buffer.alloc(0))).header, { command: 'PROXY', family: 'unspec', source: null });
});

test('v2 TLVs: ALPN, authority, unique id, netns, SSL with its sub-TLVs, NOOP and unknown types kept raw', (t) => {
  const ssl = Buffer.concat([
    Buffer.from([0x07, 0, 0, 0, 0]),
    tlv(PP2_TYPE.SSL_VERSION, 'TLSv1.3'),
    tlv(PP2_TYPE.SSL_CN, 'client.example'),
    tlv(PP2_TYPE.SSL_CIPHER, 'TLS_AES_256_GCM_SHA384'),
    tlv(PP2_TYPE.SSL_SIG_ALG, 'RSA-SHA256'),
    tlv(PP2_TYPE.SSL_KEY_ALG, 'RSA2048'),
    tlv(0x28, Buffer.from([0x30, 0x82])),
  ]);
  const body = Buffer.concat([
    Buffer.from([127, 0, 0, 9, 127, 0, 0, 1, 0, 1, 0, 2]),
    tlv(PP2_TYPE.ALPN, 'h2'),
    tlv(PP2_TYPE.AUTHORITY, 'example.test'),
    tlv(PP2_TYPE.UNIQUE_ID, Buffer.from('id-1')),
    tlv(PP2_TYPE.NETNS, 'blue'),
    tlv(PP2_TYPE.SSL, ssl),
    tlv(PP2_TYPE.NOOP, Buffer.alloc(5)),
    tlv(0xe3, Buffer.from([1, 2, 3])),
    tlv(0xf0, Buffer.alloc(0)),
  ]);
  const h = parsed(v2(0x21, 0x11, body)).header;
  t.is(h.alpn, 'h2');
  t.is(h.authority, 'example.test');
  t.deepEqual(h.uniqueId, Buffer.from('id-1'));
  t.is(h.netns, 'blue');
  t.like(h.ssl, { client: 7, verify: 0, version: 'TLSv1.3', cn: 'client.example', cipher: 'TLS_AES_256_GCM_SHA384', sigAlg: 'RSA-SHA256', keyAlg: 'RSA2048' });
  t.deepEqual(
    h.ssl!.tlvs.map((x) => x.type),
    [0x21, 0x22, 0x23, 0x24, 0x25, 0x28],
  );
  t.deepEqual(
    h.tlvs.map((x) => x.type),
    [0x01, 0x02, 0x05, 0x30, 0x20, 0x04, 0xe3, 0xf0],
  );
  t.deepEqual(h.tlvs[6].value, Buffer.from([1, 2, 3]));
});

test('v2 CRC32C: a correct checksum passes, a wrong one refuses the header', (t) => {
  const good = encodeProxyHeader('v2', { source: { address: '10.0.0.1', port: 1 }, destination: { address: '10.0.0.2', port: 2 }, crc32c: true });
  t.is(parsed(good).header.source!.address, '10.0.0.1');
  // (HAProxy's own checksums are checked in test/examples/haproxy-proxy-protocol.test.ts.)
  const bad = Buffer.from(good);
  bad[16] ^= 1;
  t.is(code(() => parseProxyHeader(bad, 'v2', MAX)), 'ERR_RXNET_PROXY_HEADER');
});

test('v2 refuses bad versions, commands, families, short address blocks and TLVs that overrun', (t) => {
  const inet = Buffer.alloc(12);
  for (const bytes of [
    v2(0x11, 0x11, inet), // version 1 nibble
    v2(0x22, 0x11, inet), // command 2
    v2(0x21, 0x41, inet), // family 4
    v2(0x21, 0x13, inet), // protocol 3
    v2(0x21, 0x11, Buffer.alloc(11)), // INET needs 12
    v2(0x21, 0x21, Buffer.alloc(12)), // INET6 needs 36
    v2(0x21, 0x31, Buffer.alloc(100)), // UNIX needs 216
    v2(0x21, 0x11, Buffer.concat([inet, Buffer.from([0x01, 0x00, 0x09, 0x68])])), // TLV overruns
    v2(0x21, 0x11, Buffer.concat([inet, Buffer.from([0x01, 0x00])])), // stray bytes
    v2(0x21, 0x11, Buffer.concat([inet, tlv(PP2_TYPE.SSL, Buffer.from([1, 0, 0]))])), // SSL TLV too short
    v2(0x21, 0x11, Buffer.concat([inet, tlv(PP2_TYPE.CRC32C, Buffer.from([1, 2]))])), // CRC of 2 bytes
    v2(0x21, 0x11, Buffer.concat([inet, tlv(PP2_TYPE.UNIQUE_ID, Buffer.alloc(129))])), // unique id > 128
  ]) {
    t.is(code(() => parseProxyHeader(bytes, 'v2', MAX)), 'ERR_RXNET_PROXY_HEADER', bytes.toString('hex'));
  }
});

test('garbage is refused at its first byte; the other version is refused when one is configured', (t) => {
  for (const first of ['G', 'S', '\x16', '\0', 'p']) t.is(code(() => parseProxyHeader(Buffer.from(first), 'any', MAX)), 'ERR_RXNET_PROXY_HEADER');
  t.is(code(() => parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n'), 'v2', MAX)), 'ERR_RXNET_PROXY_HEADER');
  t.is(code(() => parseProxyHeader(v2(0x20, 0, Buffer.alloc(0)), 'v1', MAX)), 'ERR_RXNET_PROXY_HEADER');
  // The v2 signature diverging at its 6th byte is refused there, without waiting for 16.
  t.is(code(() => parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0a]), 'any', MAX)), 'ERR_RXNET_PROXY_HEADER');
  t.is(code(() => parseProxyHeader(Buffer.from('PROXX'), 'any', MAX)), 'ERR_RXNET_PROXY_HEADER');
});

test('every proper prefix of a valid header is incomplete, not an error', (t) => {
  const headers = [
    Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n'),
    Buffer.from('PROXY UNKNOWN\r\n'),
    encodeProxyHeader('v2', { source: { address: '::1', port: 1 }, destination: { address: '::2', port: 2 }, tlvs: [{ type: 1, value: 'h2' }], crc32c: true }),
    encodeProxyHeader('v2', { command: 'LOCAL' }),
  ];
  for (const h of headers) {
    for (let n = 0; n < h.length; n++) t.is(parseProxyHeader(h.subarray(0, n), 'any', MAX), null, `${n} of ${h.length}`);
    t.is(parsed(h).length, h.length);
  }
});

test('size limit: a v2 header announcing more than maxSize is refused from its 16th byte', (t) => {
  const big = encodeProxyHeader('v2', { source: { address: '1.2.3.4', port: 1 }, destination: { address: '1.2.3.4', port: 2 }, tlvs: [{ type: 0xe0, value: Buffer.alloc(200) }] });
  t.is(code(() => parseProxyHeader(big.subarray(0, 16), 'v2', 128)), 'ERR_RXNET_PROXY_HEADER_TOO_LARGE');
  t.is(parsed(big, 'v2', big.length).length, big.length);
  // v1 is at most 107 bytes: a smaller limit caps it too.
  t.is(code(() => parseProxyHeader(Buffer.from('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n'), 'v1', 40)), 'ERR_RXNET_PROXY_HEADER_TOO_LARGE');
});

test('encodeProxyHeader: v1 and v2 round-trip; LOCAL and UNKNOWN without a client; bad input throws', (t) => {
  const src = { address: '2001:db8::7', port: 1234 };
  const dst = { address: '2001:db8::8', port: 80 };
  for (const version of ['v1', 'v2'] as const) {
    const h = parsed(encodeProxyHeader(version, { source: src, destination: dst })).header;
    t.deepEqual(h.source, { ...src, family: 'IPv6' });
    t.deepEqual(h.destination, { ...dst, family: 'IPv6' });
  }
  t.deepEqual(encodeProxyHeader('v1', { command: 'LOCAL' }), Buffer.from('PROXY UNKNOWN\r\n'));
  t.like(parsed(encodeProxyHeader('v2', { command: 'LOCAL' })).header, { command: 'LOCAL' });
  const unix = parsed(encodeProxyHeader('v2', { source: { path: '/a' }, destination: { path: '/b' } })).header;
  t.deepEqual([unix.source!.address, unix.destination!.address], ['/a', '/b']);
  t.throws(() => encodeProxyHeader('v2', { source: src }), { code: 'ERR_MISSING_ARGS' });
  t.throws(() => encodeProxyHeader('v2', { source: { address: '1.2.3.4', port: 1 }, destination: dst }), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => encodeProxyHeader('v1', { source: { path: '/a' }, destination: { path: '/b' } }), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => encodeProxyHeader('v2', { source: { address: '1.2.3.4', port: 70000 }, destination: { address: '1.2.3.4', port: 1 } }), { code: 'ERR_SOCKET_BAD_PORT' });
});

// ---- fuzz ----------------------------------------------------------------------------

const codes = new Set(['ERR_RXNET_PROXY_HEADER', 'ERR_RXNET_PROXY_HEADER_TOO_LARGE']);

test('fuzz: random bytes only ever parse, wait for more, or throw a PROXY header error', (t) => {
  const starts = fc.constantFrom(Buffer.alloc(0), SIG, Buffer.from('PROXY '), Buffer.concat([SIG, Buffer.from([0x21, 0x11])]), Buffer.from('PROXY TCP4 '));
  t.notThrows(() =>
  fc.assert(
    fc.property(starts, fc.uint8Array({ maxLength: 300 }), fc.constantFrom('v1', 'v2', 'any') as fc.Arbitrary<'v1' | 'v2' | 'any'>, (start, tail, version) => {
      const bytes = Buffer.concat([start, tail]);
      try {
        const r = parseProxyHeader(bytes, version, 512);
        if (r !== null) return r.length > 0 && r.length <= bytes.length && r.length <= 512;
        return true;
      } catch (err) {
        return codes.has((err as NodeJS.ErrnoException).code ?? '');
      }
    }),
    { numRuns: 3000 },
  ),
  );
});

test('fuzz: mutated valid v2 headers never crash the parser, and any header it accepts round-trips its addresses', (t) => {
  const ip4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
  const header = fc.record({
    source: fc.record({ address: ip4, port: fc.nat(65535) }),
    destination: fc.record({ address: ip4, port: fc.nat(65535) }),
    tlvs: fc.array(fc.record({ type: fc.nat(255).filter((x) => x !== 0x03 && x !== 0x20 && x !== 0x05), value: fc.uint8Array({ maxLength: 20 }) }), { maxLength: 4 }),
  });
  t.notThrows(() =>
  fc.assert(
    fc.property(header, fc.nat(200), fc.nat(255), (init, at, byte) => {
      const bytes = encodeProxyHeader('v2', init);
      const clean = parsed(bytes).header;
      if (clean.source!.address !== init.source.address || clean.destination!.port !== init.destination.port || clean.tlvs.length !== init.tlvs.length) return false;
      const mutated = Buffer.from(bytes);
      mutated[at % mutated.length] = byte;
      try {
        parseProxyHeader(mutated, 'any', MAX);
        return true;
      } catch (err) {
        return codes.has((err as NodeJS.ErrnoException).code ?? '');
      }
    }),
    { numRuns: 2000 },
  ),
  );
});
