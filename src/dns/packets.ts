import { Packet, type Question as DnsQuestion, type Resource as DnsResource } from 'dns2';
import { EDNS_UDP_SIZE, PLAIN_UDP_SIZE, type EncodedAnswer } from './wire.ts';
import { answerQuery, Rcode, RRType, type QueryAnswer, type ResourceRecord, type Zone } from './zone.ts';

/**
 * dns2's side of the server: the general responder for whatever the UDP fast path leaves
 * (several questions, other opcodes, EDNS versions, compressed names) and for TCP, and the
 * encoder of the answers the fast path caches. Slow (dns2 encodes bit by bit) but complete.
 */

const BADVERS = 16;

/** Our resource records have dns2's field names; dns2's own type lists every field as optional. */
function asResources(records: ResourceRecord[]): DnsResource[] {
  return records as unknown as DnsResource[];
}

/** The wire length of a plain name's encoding (labels, no compression). */
function nameLength(name: string): number {
  return name
    .split('.')
    .filter(Boolean)
    .reduce((sum, label) => sum + label.length + 1, 1);
}

/**
 * Encodes an answer for the fast path's cache. A positive answer is encoded with the question
 * it answers (lowercase) and cut after it: its compression pointers then point into a question
 * that the fast path copies byte for byte from the query (same length, only the case may
 * differ). Negative answers are encoded record by record without compression, since the name
 * asked may not be one dns2 can write back (escaped bytes).
 */
export function encodeAnswer(name: string, qtype: number, qclass: number, answer: QueryAnswer): EncodedAnswer {
  const base = {
    rcode: answer.rcode,
    authoritative: answer.authoritative,
    ancount: answer.answers.length,
    nscount: answer.authority.length,
  };
  if (answer.answers.length === 0) {
    const tail = Buffer.concat(asResources(answer.authority).map((record) => Packet.Resource.encode(record)));
    return { ...base, tail };
  }
  const packet = new Packet();
  packet.questions = [{ name, type: qtype, class: qclass } as DnsQuestion];
  packet.answers = asResources(answer.answers);
  packet.authorities = asResources(answer.authority);
  const encoded = packet.toBuffer();
  return { ...base, tail: Buffer.from(encoded.subarray(12 + nameLength(name) + 4)) };
}

type EdnsRecord = DnsResource & { version?: number };

/**
 * The response to a parsed request, or undefined when it must not be answered (it is itself a
 * response: answering those would let two servers bounce packets forever).
 */
export function respond(request: Packet, zone: Zone): Packet | undefined {
  if (request.header.qr) return undefined;
  const response = Packet.createResponseFromRequest(request);
  const opt = (request.additionals ?? []).find((r) => r?.type === RRType.OPT) as EdnsRecord | undefined;
  if (opt) response.additionals = [Packet.Resource.EDNS([])];
  if (opt) response.additionals[0]!.class = EDNS_UDP_SIZE;
  const questions = request.questions ?? [];
  if (request.header.opcode !== 0) {
    response.header.rcode = Rcode.NOTIMP;
  } else if (questions.length !== 1 || typeof questions[0]?.name !== 'string') {
    response.header.rcode = Rcode.FORMERR;
    response.questions = [];
  } else if (opt && (opt.version ?? 0) !== 0) {
    response.header.rcode = BADVERS;
  } else {
    const question = questions[0];
    const answer = answerQuery({ name: question.name, type: question.type, class: question.class }, zone);
    response.header.rcode = answer.rcode;
    response.header.aa = answer.authoritative ? 1 : 0;
    response.answers = asResources(answer.answers);
    response.authorities = asResources(answer.authority);
  }
  return response;
}

/**
 * Encodes a response for UDP: when it does not fit the client's limit (512 bytes, or what its
 * EDNS record offers, at most ours), only the header and question go, with TC set, so the
 * client retries over TCP.
 */
export function encodeForUdp(response: Packet, request: Packet): Buffer {
  const opt = (request.additionals ?? []).find((r) => r?.type === RRType.OPT);
  const limit = opt ? Math.min(Math.max(opt.class, PLAIN_UDP_SIZE), EDNS_UDP_SIZE) : PLAIN_UDP_SIZE;
  const buffer = response.toBuffer();
  if (buffer.length <= limit) return buffer;
  response.header.tc = 1;
  response.answers = [];
  response.authorities = [];
  return response.toBuffer();
}

/**
 * Whether the header's record counts could fit in the message (a question takes at least 5
 * bytes, a record 11). dns2's parser tries every counted record, throwing and catching for
 * each, so a 12-byte packet claiming 65535 of each kept it busy for seconds: such packets
 * never reach it.
 */
export function plausibleCounts(message: Buffer): boolean {
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  return message.readUInt16BE(4) * 5 + records * 11 <= message.length - 12;
}

/**
 * Parses and answers one message the fast path declined; undefined means drop it (too short
 * for a header, a response, counts that cannot fit, or bytes dns2 cannot parse).
 */
export function respondToMessage(message: Buffer, zone: Zone, transport: 'udp' | 'tcp' = 'udp'): Buffer | undefined {
  if (message.length < 12 || message[2]! & 0x80 || !plausibleCounts(message)) return undefined;
  let request: Packet;
  try {
    request = Packet.parse(message);
  } catch {
    return undefined;
  }
  const response = respond(request, zone);
  if (!response) return undefined;
  return transport === 'udp' ? encodeForUdp(response, request) : response.toBuffer();
}
