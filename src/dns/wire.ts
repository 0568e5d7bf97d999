/**
 * The UDP fast path's packet code: reads the header and the single question of an ordinary
 * query without allocating, and assembles a response from the query's own bytes and a cached,
 * pre-encoded tail (answer and authority sections). Anything unusual (several questions,
 * compression in the question, other opcodes, records besides one OPT) is left to the dns2
 * responder. Pure: unit-tested in test/dns/wire.unit.test.ts.
 */

const HEADER = 12;
const TYPE_OPT = 41;
/** The UDP payload size we advertise in our OPT record (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;
/** RFC 1035's UDP limit for a client that did not send EDNS. */
export const PLAIN_UDP_SIZE = 512;

/** What parseQuery found; one object is reused for every packet. */
export interface QueryView {
  /** Offset just past the question's name (the name spans 12..nameEnd). */
  nameEnd: number;
  /** Offset just past the question (12..questionEnd is copied into the response). */
  questionEnd: number;
  qtype: number;
  qclass: number;
  /** FNV-1a of the lowercased name bytes and the type: the answer cache's key. */
  hash: number;
  /** The query carried an EDNS OPT record (version 0). */
  edns: boolean;
}

export function emptyQueryView(): QueryView {
  return { nameEnd: 0, questionEnd: 0, qtype: 0, qclass: 0, hash: 0, edns: false };
}

function lower(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}

/**
 * Reads an ordinary query into `out`: QR=0, opcode QUERY, one question with an uncompressed
 * name, no answer or authority records, and either nothing after the question or exactly one
 * EDNS version 0 OPT record. Returns false for anything else, without throwing.
 */
export function parseQuery(msg: Buffer, out: QueryView): boolean {
  const length = msg.length;
  if (length < HEADER + 5) return false;
  // flags: QR (0x80) and opcode (0x78) of byte 2 must be zero; TC (0x02) too.
  if ((msg[2]! & 0xfa) !== 0) return false;
  if (msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0 || msg[10] !== 0)
    return false;
  const arcount = msg[11]!;
  if (arcount > 1) return false;

  let hash = 0x811c9dc5;
  let pos = HEADER;
  for (;;) {
    if (pos >= length) return false;
    const labelLength = msg[pos]!;
    hash = Math.imul(hash ^ labelLength, 0x01000193);
    pos++;
    if (labelLength === 0) break;
    if (labelLength > 63) return false; // a compression pointer or a reserved label type
    const end = pos + labelLength;
    if (end > length || end - HEADER > 255) return false;
    for (; pos < end; pos++) hash = Math.imul(hash ^ lower(msg[pos]!), 0x01000193);
  }
  const nameEnd = pos;
  if (nameEnd + 4 > length) return false;
  const qtype = (msg[nameEnd]! << 8) | msg[nameEnd + 1]!;
  const qclass = (msg[nameEnd + 2]! << 8) | msg[nameEnd + 3]!;
  hash = Math.imul(hash ^ (qtype >> 8), 0x01000193);
  hash = Math.imul(hash ^ (qtype & 0xff), 0x01000193);
  const questionEnd = nameEnd + 4;

  let edns = false;
  if (arcount === 1) {
    // OPT: root name (0), type 41, class = payload size, ttl = ext-rcode/version/flags, rdlength, options.
    const p = questionEnd;
    if (p + 11 > length || msg[p] !== 0 || ((msg[p + 1]! << 8) | msg[p + 2]!) !== TYPE_OPT) return false;
    if (msg[p + 6] !== 0) return false; // EDNS version other than 0: BADVERS, the responder's job
    const rdlength = (msg[p + 9]! << 8) | msg[p + 10]!;
    if (p + 11 + rdlength !== length) return false;
    edns = true;
  } else if (questionEnd !== length) {
    return false;
  }
  out.nameEnd = nameEnd;
  out.questionEnd = questionEnd;
  out.qtype = qtype;
  out.qclass = qclass;
  out.hash = hash >>> 0;
  out.edns = edns;
  return true;
}

/** Whether the name at msg[12..nameEnd] equals `name` (lowercase wire form), ignoring ASCII case. */
export function sameName(msg: Buffer, nameEnd: number, name: Buffer): boolean {
  if (nameEnd - HEADER !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (lower(msg[HEADER + i]!) !== name[i]) return false;
  return true;
}

/** The question's name in lowercase wire form (a copy), to key a cache entry. */
export function wireName(msg: Buffer, nameEnd: number): Buffer {
  const name = Buffer.allocUnsafe(nameEnd - HEADER);
  for (let i = 0; i < name.length; i++) name[i] = lower(msg[HEADER + i]!);
  return name;
}

/**
 * The question's name as text, lowercase, without the trailing dot. Bytes that would make the
 * text ambiguous ('.', '\', non-printable) are escaped as `\DDD`, so no such name can match a
 * record: Gasper's names are plain DNS labels.
 */
export function nameText(msg: Buffer, nameEnd: number): string {
  let text = '';
  let pos = HEADER;
  while (pos < nameEnd - 1) {
    const end = pos + 1 + msg[pos]!;
    if (text) text += '.';
    for (pos++; pos < end; pos++) {
      const c = lower(msg[pos]!);
      text +=
        c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
    }
  }
  return text;
}

/** A pre-encoded answer: everything after the question, and the header fields that go with it. */
export interface EncodedAnswer {
  rcode: number;
  authoritative: boolean;
  ancount: number;
  nscount: number;
  /** Answer and authority sections. Compression pointers may point into the question. */
  tail: Buffer;
}

const OPT_RECORD = Buffer.from([0, 0, TYPE_OPT, EDNS_UDP_SIZE >> 8, EDNS_UDP_SIZE & 0xff, 0, 0, 0, 0, 0, 0]);

/**
 * The response to the query in `msg` (read by parseQuery into `q`): its id and question copied,
 * flags QR, AA (when authoritative) and the query's RD, then the answer's sections and an OPT
 * record when the query had one. Over UDP, returns undefined when it would not fit the client's
 * limit, so the caller can answer with TC through the general path.
 */
export function assembleResponse(
  msg: Buffer,
  q: QueryView,
  answer: EncodedAnswer,
  transport: 'udp' | 'tcp' = 'udp',
): Buffer | undefined {
  const size = q.questionEnd + answer.tail.length + (q.edns ? OPT_RECORD.length : 0);
  if (transport === 'udp' && size > (q.edns ? EDNS_UDP_SIZE : PLAIN_UDP_SIZE)) return undefined;
  const out = Buffer.allocUnsafe(size);
  msg.copy(out, 0, 0, q.questionEnd);
  out[2] = 0x80 | (answer.authoritative ? 0x04 : 0) | (msg[2]! & 0x01);
  out[3] = answer.rcode;
  out[6] = answer.ancount >> 8;
  out[7] = answer.ancount & 0xff;
  out[8] = answer.nscount >> 8;
  out[9] = answer.nscount & 0xff;
  out[10] = 0;
  out[11] = q.edns ? 1 : 0;
  answer.tail.copy(out, q.questionEnd);
  if (q.edns) OPT_RECORD.copy(out, q.questionEnd + answer.tail.length);
  return out;
}
