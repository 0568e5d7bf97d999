import { expect } from 'chai';
import { Packet } from 'dns2';
import { AnswerCache } from '../../src/dns/answer-cache.ts';
import {
  assembleResponse,
  emptyQueryView,
  nameText,
  parseQuery,
  sameName,
  wireName,
  type QueryView,
} from '../../src/dns/wire.ts';
import { applyEvent, createZone, Rcode, RRType, type Zone } from '../../src/dns/zone.ts';

/** The wire bytes of a query, hand-assembled so every field is under the test's control. */
function query(
  name: string,
  type: number = RRType.A,
  options: { id?: number; flags?: number; qclass?: number; opt?: Buffer; extra?: Buffer } = {},
): Buffer {
  const labels = name
    .split('.')
    .filter(Boolean)
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(options.id ?? 0x1234, 0);
  header.writeUInt16BE(options.flags ?? 0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(options.opt ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(options.qclass ?? 1, 2);
  return Buffer.concat([
    header,
    ...labels,
    Buffer.from([0]),
    tail,
    options.opt ?? Buffer.alloc(0),
    options.extra ?? Buffer.alloc(0),
  ]);
}

/** An OPT record: payload size, version, and options bytes (e.g. a cookie, as dig sends). */
function opt(version = 0, options = Buffer.alloc(0)): Buffer {
  const rr = Buffer.alloc(11);
  rr.writeUInt16BE(41, 1);
  rr.writeUInt16BE(4096, 3);
  rr[6] = version;
  rr.writeUInt16BE(options.length, 9);
  return Buffer.concat([rr, options]);
}

const cookie = Buffer.from([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);

function testZone(): Zone {
  const z = createZone(
    {
      apex: 'gasper.test',
      ttl: 30,
      nameservers: ['ns1.gasper.test'],
      proxyAddresses: ['192.0.2.1', '2001:db8::1'],
      nsAddresses: ['192.0.2.53'],
    },
    1_700_000_000,
  );
  applyEvent(z, { type: 'app.instances', app: 'hello', release: 'r1', instances: [] }, 1_700_000_000);
  return z;
}

function parsed(msg: Buffer): QueryView {
  const view = emptyQueryView();
  expect(parseQuery(msg, view), 'parseQuery accepts it').to.equal(true);
  return view;
}

describe('parseQuery (UDP fast path)', () => {
  it('reads an ordinary query: name end, question end, type, class, no EDNS', () => {
    const msg = query('hello.gasper.test', RRType.AAAA);
    const view = parsed(msg);
    expect(view).to.include({ nameEnd: 12 + 19, questionEnd: 12 + 19 + 4, qtype: RRType.AAAA, qclass: 1, edns: false });
  });

  it('accepts one EDNS version 0 OPT record, options included', () => {
    expect(parsed(query('hello.gasper.test', RRType.A, { opt: opt(0, cookie) })).edns).to.equal(true);
  });

  it('hashes names case-insensitively, and types apart', () => {
    const a = parsed(query('hello.gasper.test')).hash;
    expect(parsed(query('HeLLo.GASPER.test')).hash).to.equal(a);
    expect(parsed(query('hello.gasper.test', RRType.AAAA)).hash).to.not.equal(a);
    expect(parsed(query('hellp.gasper.test')).hash).to.not.equal(a);
  });

  const declined: [string, Buffer][] = [
    ['a response (QR set)', query('hello.gasper.test', RRType.A, { flags: 0x8100 })],
    ['another opcode (NOTIFY)', query('hello.gasper.test', RRType.A, { flags: 0x2000 })],
    ['a truncated query (TC set)', query('hello.gasper.test', RRType.A, { flags: 0x0300 })],
    ['an EDNS version 1 query', query('hello.gasper.test', RRType.A, { opt: opt(1) })],
    ['trailing bytes', query('hello.gasper.test', RRType.A, { extra: Buffer.from([1, 2]) })],
    [
      'an OPT whose length runs past the end',
      Buffer.concat([query('hello.gasper.test', RRType.A, { opt: opt(0, cookie) }).subarray(0, -3)]),
    ],
    ['a header alone', Buffer.alloc(12)],
    ['nothing', Buffer.alloc(0)],
  ];
  for (const [what, msg] of declined) {
    it(`declines ${what}`, () => {
      expect(parseQuery(msg, emptyQueryView())).to.equal(false);
    });
  }

  it('declines two questions, a compressed name, a name running off the end, and a label over 63 bytes', () => {
    const two = query('hello.gasper.test');
    two.writeUInt16BE(2, 4);
    const pointer = Buffer.concat([query('').subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    const cut = query('hello.gasper.test').subarray(0, 20);
    const long = query(`${'a'.repeat(64)}.gasper.test`);
    for (const msg of [two, pointer, cut, long]) expect(parseQuery(msg, emptyQueryView())).to.equal(false);
  });

  it('never throws on random bytes', () => {
    let seed = 42;
    const view = emptyQueryView();
    for (let i = 0; i < 5000; i++) {
      const msg = Buffer.alloc(i % 80);
      for (let j = 0; j < msg.length; j++) msg[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16;
      if (i % 2 && msg.length >= 6) msg.writeUInt16BE(1, 4); // one question, to get past the header checks
      expect(() => parseQuery(msg, view)).to.not.throw();
    }
  });
});

describe('name helpers', () => {
  it('sameName ignores ASCII case only', () => {
    const msg = query('HeLLo.gasper.test');
    const view = parsed(msg);
    expect(sameName(msg, view.nameEnd, wireName(query('hello.gasper.test'), view.nameEnd))).to.equal(true);
    expect(sameName(msg, view.nameEnd, wireName(query('hellp.gasper.test'), view.nameEnd))).to.equal(false);
    expect(sameName(msg, view.nameEnd, Buffer.from([0]))).to.equal(false);
  });

  it('nameText lowercases and escapes bytes that could fake a dot', () => {
    expect(nameText(query('Hello.Gasper.TEST'), parsed(query('Hello.Gasper.TEST')).nameEnd)).to.equal(
      'hello.gasper.test',
    );
    // One label, a.b\c\x01d: read as text naively it would look like two labels.
    const msg = Buffer.concat([
      query('x').subarray(0, 12),
      Buffer.from([7]),
      Buffer.from('a.b\\c\x01d', 'latin1'),
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    expect(nameText(msg, parsed(msg).nameEnd)).to.equal('a\\046b\\092c\\001d');
    expect(nameText(query(''), 13)).to.equal('');
  });
});

describe('AnswerCache + assembleResponse', () => {
  function answer(msg: Buffer, zone = testZone(), cache = new AnswerCache(zone)): { packet: Packet; raw: Buffer } {
    const view = parsed(msg);
    const raw = assembleResponse(msg, view, cache.get(msg, view))!;
    expect(raw, 'fits').to.be.instanceOf(Buffer);
    return { packet: Packet.parse(raw), raw };
  }

  it('answers A with the query id, its question as sent, QR, AA and RD', () => {
    const { packet, raw } = answer(query('HeLLo.gasper.test', RRType.A, { id: 0xbeef }));
    expect(packet.header).to.include({ id: 0xbeef, qr: 1, aa: 1, rd: 1, ra: 0, tc: 0, rcode: Rcode.NOERROR });
    expect(packet.questions.map((q) => [q.name, q.type, q.class])).to.deep.equal([['HeLLo.gasper.test', RRType.A, 1]]);
    expect(packet.answers.map((r) => [r.name, r.type, r.ttl, r.address])).to.deep.equal([
      ['HeLLo.gasper.test', RRType.A, 30, '192.0.2.1'],
    ]);
    expect(raw.readUInt16BE(10), 'no OPT when the query had none').to.equal(0);
  });

  it('answers AAAA, SOA and NS, and leaves RD clear when the query did', () => {
    expect(answer(query('hello.gasper.test', RRType.AAAA)).packet.answers[0]).to.include({
      type: RRType.AAAA,
      address: '2001:db8::1',
    });
    const soa = answer(query('gasper.test', RRType.SOA, { flags: 0 })).packet;
    expect(soa.header.rd).to.equal(0);
    expect(soa.answers[0]).to.include({
      type: RRType.SOA,
      primary: 'ns1.gasper.test',
      admin: 'hostmaster.gasper.test',
      minimum: 30,
    });
    expect(answer(query('gasper.test', RRType.NS)).packet.answers[0]).to.include({
      type: RRType.NS,
      ns: 'ns1.gasper.test',
    });
  });

  it('answers NXDOMAIN with the SOA in authority, NOERROR/no data for MX, REFUSED without AA outside', () => {
    const nx = answer(query('nope.gasper.test')).packet;
    expect(nx.header).to.include({ rcode: Rcode.NXDOMAIN, aa: 1, ancount: 0, nscount: 1 });
    expect(nx.authorities[0]).to.include({ name: 'gasper.test', type: RRType.SOA });
    const nodata = answer(query('hello.gasper.test', 15)).packet;
    expect(nodata.header).to.include({ rcode: Rcode.NOERROR, aa: 1, ancount: 0, nscount: 1 });
    const refused = answer(query('example.com')).packet;
    expect(refused.header).to.include({ rcode: Rcode.REFUSED, aa: 0, ancount: 0, nscount: 0 });
  });

  it('adds an OPT record (1232 bytes, version 0) when the query carried EDNS', () => {
    const { packet } = answer(query('hello.gasper.test', RRType.A, { opt: opt(0, cookie) }));
    expect(packet.additionals).to.have.length(1);
    expect(packet.additionals[0]).to.include({ type: 41, class: 1232 });
    expect(packet.answers).to.have.length(1);
  });

  it('serves the second ask from the cache, whatever the case, and recomputes after clear()', () => {
    const zone = testZone();
    const cache = new AnswerCache(zone);
    const first = query('hello.gasper.test');
    const v1 = parsed(first);
    const entry = cache.get(first, v1);
    const upper = query('HELLO.GASPER.TEST');
    expect(cache.get(upper, parsed(upper))).to.equal(entry);
    expect(cache.size).to.equal(1);
    applyEvent(zone, { type: 'app.removed', app: 'hello' }, 1_700_000_001);
    cache.clear();
    expect(cache.get(first, v1).rcode).to.equal(Rcode.NXDOMAIN);
  });

  it('stays bounded under a flood of distinct names', () => {
    const cache = new AnswerCache(testZone(), 100);
    for (let i = 0; i < 1000; i++) {
      const msg = query(`n${i}.gasper.test`);
      cache.get(msg, parsed(msg));
      expect(cache.size).to.be.at.most(100);
    }
  });

  it('returns undefined when the response would exceed 512 bytes without EDNS', () => {
    const zone = testZone();
    const many = createZone({ ...zone, proxyAddresses: Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`) }, 1);
    applyEvent(many, { type: 'app.instances', app: 'hello', release: 'r1', instances: [] }, 1);
    const msg = query('hello.gasper.test');
    const view = parsed(msg);
    expect(assembleResponse(msg, view, new AnswerCache(many).get(msg, view))).to.equal(undefined);
  });
});
