/**
 * The authoritative answer to one query: bytes in, bytes out, no I/O, so the
 * same function serves UDP and TCP and unit tests call it directly.
 *
 * What it answers (RFC 1034 §4.3.2, the authoritative part of the algorithm):
 * the records of the asked type, following CNAMEs inside the zone; NODATA
 * (NOERROR, no answer, the SOA in authority) for a name that exists without
 * that type; NXDOMAIN with the SOA; REFUSED for names outside the zone and
 * for zone transfers; NOTIMP for opcodes other than QUERY; FORMERR for
 * anything malformed whose header can still be read. Over UDP a reply that
 * does not fit 512 bytes, or the EDNS0 size the client offered (at most
 * ours), goes out with only the question and the TC bit, and the client
 * retries over TCP.
 */
import { Class, DnsFormatError, encode, message, Opcode, parse, Rcode, readHeader, Type, type Message, type Question, type ResourceRecord } from './message';
import { nameKey } from './name';
import type { Zone } from './zone';

/** The largest UDP reply we offer: the 2020 DNS flag day's value, which avoids IP fragmentation. */
export const UDP_PAYLOAD_SIZE = 1232;
/** The size every DNS client accepts over UDP (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
/** CNAMEs followed inside the zone at most; a longer chain (or a loop) is answered as far as it went. */
export const MAX_CNAME_CHAIN = 8;

export type Transport = 'udp' | 'tcp';

/**
 * Answers one query message.
 * @returns the reply's bytes, or null when there is nothing to answer: fewer
 *   than 12 bytes (no ID to answer to) or a message that is itself a response
 *   (answering responses lets two servers bounce packets forever).
 *
 * @example
 * socket.messages$.subscribe((m) => {
 *   const reply = respond(zone, m.data, 'udp');
 *   if (reply) socket.send(reply, m.port, m.address);
 * });
 */
export function respond(zone: Zone, query: Uint8Array, transport: Transport): Buffer | null {
  const header = readHeader(query);
  if (header === null || header.qr) return null;
  const reply = message({ id: header.id, qr: true, opcode: header.opcode, rd: header.rd, cd: header.cd });
  if (header.opcode !== Opcode.QUERY) {
    reply.rcode = Rcode.NOTIMP;
    return encode(reply);
  }
  if (header.qdcount !== 1) return formErr(reply);
  let request: Message;
  try {
    request = parse(query);
  } catch (err) {
    if (err instanceof DnsFormatError) return formErr(reply);
    throw err;
  }
  const opts = request.additionals.filter((rr) => rr.type === Type.OPT);
  // RFC 6891 §6.1.1: more than one OPT, or one not owned by the root, is FORMERR.
  if (opts.length > 1 || (opts.length === 1 && opts[0].name !== '.')) return formErr(reply);
  const opt = opts[0];
  const question = request.questions[0];
  reply.questions = [question];
  if (opt !== undefined) {
    reply.additionals.push(optRecord(0));
    // EDNS version (RFC 6891 §6.1.3): we speak version 0 only.
    if ((opt.ttl >>> 16) & 0xff) {
      reply.additionals[0] = optRecord(Rcode.BADVERS >> 4);
      reply.rcode = Rcode.BADVERS & 0xf;
      return encode(reply);
    }
  }
  answer(zone, question, reply);
  const limit = transport === 'tcp' ? Infinity : opt === undefined ? CLASSIC_UDP_SIZE : Math.min(Math.max(opt.class, CLASSIC_UDP_SIZE), UDP_PAYLOAD_SIZE);
  return fit(reply, limit);
}

/** Fills in the answer to `q` on `reply` (rcode, AA, sections). */
function answer(zone: Zone, q: Question, reply: Message): void {
  if (q.class !== Class.IN && q.class !== Class.ANY) {
    reply.rcode = Rcode.REFUSED;
    return;
  }
  if (!zone.contains(q.name) || q.type === Type.AXFR || q.type === Type.IXFR) {
    // Not our zone (we are not a resolver), or a transfer nobody is allowed.
    reply.rcode = Rcode.REFUSED;
    return;
  }
  if (q.type === Type.OPT || (q.type >= 128 && q.type !== Type.ANY)) {
    // OPT is no question; the other meta types (MAILA, MAILB, TSIG, ...) are not served here.
    reply.rcode = q.type === Type.OPT ? Rcode.FORMERR : Rcode.NOTIMP;
    return;
  }
  reply.aa = true;
  const seen = new Set<string>();
  // The first owner is spelled as the client asked (resolvers that randomize
  // the case of their queries compare it); later ones as the CNAME says.
  let name = q.name;
  for (let hop = 0; ; hop++) {
    const records = zone.lookup(name);
    const own = (rr: ResourceRecord): ResourceRecord => ({ ...rr, name });
    const cname = records.find((rr) => rr.type === Type.CNAME);
    if (cname !== undefined && q.type !== Type.CNAME && q.type !== Type.ANY) {
      reply.answers.push(own(cname));
      seen.add(nameKey(name));
      const target = cname.data.kind === 'name' ? cname.data.name : '.';
      // Outside the zone the client chases the target itself; a loop or an
      // over-long chain is answered as far as it went.
      if (!zone.contains(target) || seen.has(nameKey(target)) || hop + 1 >= MAX_CNAME_CHAIN) return;
      name = target;
      continue;
    }
    const matching = q.type === Type.ANY ? records : records.filter((rr) => rr.type === q.type);
    if (matching.length > 0) {
      reply.answers.push(...matching.map(own));
      addGlue(zone, reply);
      return;
    }
    // RFC 2308: NXDOMAIN if the name does not exist, NODATA if it exists
    // without this type; both carry the SOA so the answer can be cached.
    if (!zone.exists(name)) reply.rcode = Rcode.NXDOMAIN;
    const soa = zone.soa;
    reply.authorities.push({ ...soa, ttl: Math.min(soa.ttl, soa.data.minimum) });
    return;
  }
}

/** The in-zone addresses of MX exchanges and NS hosts, which the client would ask for next. */
function addGlue(zone: Zone, reply: Message): void {
  const seen = new Set<string>();
  for (const rr of reply.answers) {
    const target = rr.data.kind === 'mx' ? rr.data.exchange : rr.type === Type.NS && rr.data.kind === 'name' ? rr.data.name : null;
    if (target === null || !zone.contains(target) || seen.has(nameKey(target))) continue;
    seen.add(nameKey(target));
    for (const glue of zone.lookup(target)) {
      if (glue.type === Type.A || glue.type === Type.AAAA) reply.additionals.push(glue);
    }
  }
  // The OPT record goes last, after the glue, as servers usually place it.
  const opt = reply.additionals.findIndex((rr) => rr.type === Type.OPT);
  if (opt >= 0) reply.additionals.push(...reply.additionals.splice(opt, 1));
}

/**
 * Encodes within `limit` bytes. RFC 2181 §9: dropping optional additional
 * data is not truncation; only when the answer itself does not fit is the
 * reply cut to its question, with TC set.
 */
function fit(reply: Message, limit: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = encode(reply);
  } catch (err) {
    // Over 65535 bytes even for TCP: nothing smaller would be correct.
    if (!(err instanceof RangeError)) throw err;
    return encode({ ...reply, rcode: Rcode.SERVFAIL, aa: false, answers: [], authorities: [], additionals: reply.additionals.filter((rr) => rr.type === Type.OPT) });
  }
  if (bytes.length <= limit) return bytes;
  const opt = reply.additionals.filter((rr) => rr.type === Type.OPT);
  bytes = encode({ ...reply, additionals: opt });
  if (bytes.length <= limit) return bytes;
  return encode({ ...reply, tc: true, answers: [], authorities: [], additionals: opt });
}

function formErr(reply: Message): Buffer {
  return encode({ ...reply, rcode: Rcode.FORMERR, questions: [], answers: [], authorities: [], additionals: [] });
}

/** Our OPT record: the UDP size we accept and the upper 8 bits of the rcode (RFC 6891 §6.1.3). */
function optRecord(extendedRcode: number): ResourceRecord {
  return { name: '.', type: Type.OPT, class: UDP_PAYLOAD_SIZE, ttl: (extendedRcode & 0xff) << 24, data: { kind: 'raw', bytes: Buffer.alloc(0) } };
}
