import { expect } from 'chai';
import { Packet } from 'dns2';
import { plausibleCounts, respondToMessage } from '../../src/dns/packets.ts';
import { applyEvent, createZone, Rcode, RRType, type Zone } from '../../src/dns/zone.ts';

function testZone(): Zone {
  const z = createZone(
    {
      apex: 'gasper.test',
      ttl: 30,
      nameservers: ['ns1.gasper.test'],
      proxyAddresses: ['192.0.2.1'],
      nsAddresses: ['192.0.2.1'],
    },
    1,
  );
  applyEvent(z, { type: 'app.instances', app: 'hello', release: 'r1', instances: [] }, 1);
  return z;
}

/** A request as dns2 encodes it, with the given questions, opcode and OPT record. */
function request(names: string[], options: { opcode?: number; qr?: 0 | 1; ednsVersion?: number } = {}): Buffer {
  const packet = new Packet();
  packet.header.id = 7;
  packet.header.opcode = options.opcode ?? 0;
  packet.header.qr = options.qr ?? 0;
  packet.questions = names.map((name) => ({ name, type: RRType.A, class: 1 }) as Packet['questions'][number]);
  if (options.ednsVersion !== undefined) {
    const opt = Packet.Resource.EDNS([]);
    opt.ttl = options.ednsVersion << 16;
    packet.additionals = [opt];
  }
  return packet.toBuffer();
}

function respond(msg: Buffer): Packet {
  const out = respondToMessage(msg, testZone());
  expect(out, 'a response').to.be.instanceOf(Buffer);
  return Packet.parse(out!);
}

describe('respondToMessage (dns2, the general path)', () => {
  it('answers a query the fast path would also answer, the same way', () => {
    const res = respond(request(['hello.gasper.test']));
    expect(res.header).to.include({ id: 7, qr: 1, aa: 1, rcode: Rcode.NOERROR });
    expect(res.answers.map((a) => a.address)).to.deep.equal(['192.0.2.1']);
  });

  it('answers FORMERR to two questions and to none', () => {
    expect(respond(request(['hello.gasper.test', 'gasper.test'])).header.rcode).to.equal(Rcode.FORMERR);
    expect(respond(request([])).header.rcode).to.equal(Rcode.FORMERR);
  });

  it('answers NOTIMP to other opcodes (NOTIFY, UPDATE)', () => {
    expect(respond(request(['gasper.test'], { opcode: 4 })).header.rcode).to.equal(Rcode.NOTIMP);
    expect(respond(request(['gasper.test'], { opcode: 5 })).header.rcode).to.equal(Rcode.NOTIMP);
  });

  it('answers BADVERS (16, through the OPT record) to EDNS versions other than 0', () => {
    const res = respond(request(['hello.gasper.test'], { ednsVersion: 1 }));
    expect(res.header.rcode).to.equal(16);
    expect(res.answers).to.have.length(0);
  });

  it('drops a header claiming more records than its bytes can hold, before dns2 parses it', () => {
    // dns2 alone spends seconds on this 12-byte packet (it tries and fails 4 × 65535 records);
    // the test's 2 s timeout would catch that.
    const flood = Buffer.alloc(12, 0xff);
    flood[2] = 0;
    expect(plausibleCounts(flood)).to.equal(false);
    expect(respondToMessage(flood, testZone())).to.equal(undefined);
    expect(plausibleCounts(request(['hello.gasper.test']))).to.equal(true);
  });

  it('drops responses, short packets and garbage without throwing', () => {
    expect(respondToMessage(request(['hello.gasper.test'], { qr: 1 }), testZone())).to.equal(undefined);
    expect(respondToMessage(Buffer.from([1, 2, 3]), testZone())).to.equal(undefined);
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const msg = Buffer.alloc(12 + (i % 60));
      for (let j = 0; j < msg.length; j++) msg[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16;
      expect(() => respondToMessage(msg, testZone())).to.not.throw();
    }
  });
});
