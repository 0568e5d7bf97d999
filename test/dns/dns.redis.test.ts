import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { startDns, type DnsHandle, type DnsOptions } from '../../src/dns/index.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { dig, type DigResult } from '../support/dig.ts';
import { startTestRedis } from '../support/redis.ts';

const ZONE = 'gasper.test';
const silent = createLogger('silent');

function name(prefix: string): string {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Polls `check` every 5 ms until it holds, at most `timeoutMs`; fails naming `what`. */
async function within(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One raw UDP query to the server: resolves with the response bytes, or undefined after `ms`. */
function udpExchange(port: number, message: Buffer, ms = 300): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, ms);
    socket.once('message', (response) => {
      clearTimeout(timer);
      socket.close();
      resolve(response);
    });
    socket.send(message, port, '127.0.0.1');
  });
}

/** A plain A query for `qname`, as bytes. */
function aQuery(qname: string): Buffer {
  const labels = qname.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([
    Buffer.from([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels,
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
}

/** The RCODE the server answers a UDP A query for `qname` with (-1 when it does not answer). */
async function rcodeOf(port: number, qname: string): Promise<number> {
  const response = await udpExchange(port, aQuery(qname), 50);
  return response ? response[3]! & 0x0f : -1;
}

const addresses = (result: DigResult, type: string) => result.answer.filter((r) => r.type === type).map((r) => r.data);

describe('DNS server (dig over UDP and TCP, events through real Redis)', function () {
  this.timeout(30_000);

  let redis: EmbeddedRedisHandle;
  let pub: Redis;
  let dns: DnsHandle | undefined;
  const app = name('app');
  const db = name('pg');

  const options = (overrides: Partial<DnsOptions> = {}): DnsOptions => ({
    host: '127.0.0.1',
    port: 0,
    redisUrl: redis.url,
    apex: ZONE,
    ttl: 30,
    nameservers: [`ns1.${ZONE}`],
    proxyAddresses: ['127.0.0.1', '::1'],
    nsAddresses: ['127.0.0.1'],
    ...overrides,
  });

  before(async () => {
    redis = await startTestRedis();
    pub = connectRedis(redis.url);
    // Published before the server starts: it must pick them up from the snapshot.
    await publishEvent(pub, {
      type: 'app.instances',
      app,
      release: 'r000001',
      instances: [{ node: 'n1', address: '127.0.0.1', port: 40001, container: `${app}-1` }],
    });
    await publishEvent(pub, {
      type: 'database.state',
      database: db,
      engine: 'postgres',
      node: 'n2',
      address: '127.0.0.2',
      port: 5432,
    });
    dns = await startDns(options(), { log: silent });
  });

  after(async () => {
    await dns?.close();
    pub?.disconnect();
    await redis?.close();
  });

  for (const tcp of [false, true]) {
    const via = tcp ? 'TCP' : 'UDP';

    it(`${via}: an app resolves to the proxy addresses, A and AAAA, authoritatively`, async () => {
      const a = await dig(dns!.port, `${app}.${ZONE}`, 'A', { tcp });
      expect(a.status).to.equal('NOERROR');
      expect(a.flags).to.include('aa');
      expect(addresses(a, 'A')).to.deep.equal(['127.0.0.1']);
      expect(a.answer[0]!.ttl).to.equal(30);
      const aaaa = await dig(dns!.port, `${app.toUpperCase()}.${ZONE}`, 'AAAA', { tcp });
      expect(addresses(aaaa, 'AAAA')).to.deep.equal(['::1']);
    });

    it(`${via}: a database resolves to its node's address`, async () => {
      const res = await dig(dns!.port, `${db}.db.${ZONE}`, 'A', { tcp });
      expect(res.status).to.equal('NOERROR');
      expect(res.flags).to.include('aa');
      expect(addresses(res, 'A')).to.deep.equal(['127.0.0.2']);
    });

    it(`${via}: the apex has SOA and NS`, async () => {
      const soa = await dig(dns!.port, ZONE, 'SOA', { tcp });
      expect(soa.flags).to.include('aa');
      expect(soa.answer).to.have.length(1);
      expect(soa.answer[0]!.data).to.match(
        new RegExp(`^ns1\\.${ZONE}\\. hostmaster\\.${ZONE}\\. \\d+ 3600 600 86400 30$`),
      );
      const ns = await dig(dns!.port, ZONE, 'NS', { tcp });
      expect(ns.answer.map((r) => r.data)).to.deep.equal([`ns1.${ZONE}.`]);
      expect(addresses(await dig(dns!.port, `ns1.${ZONE}`, 'A', { tcp }), 'A')).to.deep.equal(['127.0.0.1']);
    });

    it(`${via}: an unknown name inside the zone is NXDOMAIN with the SOA in authority`, async () => {
      const res = await dig(dns!.port, `${name('missing')}.${ZONE}`, 'A', { tcp });
      expect(res.status).to.equal('NXDOMAIN');
      expect(res.flags).to.include('aa');
      expect(res.answer).to.deep.equal([]);
      expect(res.authority.map((r) => [r.name, r.type])).to.deep.equal([[`${ZONE}.`, 'SOA']]);
    });

    it(`${via}: a name outside the zone is REFUSED (no open resolver)`, async () => {
      const res = await dig(dns!.port, 'example.com', 'A', { tcp });
      expect(res.status).to.equal('REFUSED');
      expect(res.flags).to.not.include('aa');
      expect(res.answer).to.deep.equal([]);
    });

    it(`${via}: another type of a known name (MX) is NOERROR with no data`, async () => {
      const res = await dig(dns!.port, `${app}.${ZONE}`, 'MX', { tcp });
      expect(res.status).to.equal('NOERROR');
      expect(res.flags).to.include('aa');
      expect(res.answer).to.deep.equal([]);
      expect(res.authority.map((r) => r.type)).to.deep.equal(['SOA']);
    });
  }

  it('a new app answers within 100 ms of its event, and a removed one is gone as fast', async () => {
    // Polled with raw UDP queries (dig takes longer than 100 ms just to start), then checked with dig.
    const fresh = name('fresh');
    const qname = `${fresh}.${ZONE}`;
    expect(await rcodeOf(dns!.port, qname)).to.equal(3); // NXDOMAIN, and now cached as such
    await publishEvent(pub, { type: 'app.instances', app: fresh, release: 'r000001', instances: [] });
    await within(100, `${fresh} to resolve`, async () => (await rcodeOf(dns!.port, qname)) === 0);
    expect(addresses(await dig(dns!.port, qname, 'A'), 'A')).to.deep.equal(['127.0.0.1']);
    await publishEvent(pub, { type: 'app.removed', app: fresh });
    await within(100, `${fresh} to be gone`, async () => (await rcodeOf(dns!.port, qname)) === 3);
    expect((await dig(dns!.port, qname, 'A')).status).to.equal('NXDOMAIN');
  });

  it('a moved and a removed database follow their events', async () => {
    const other = name('mysql');
    await publishEvent(pub, {
      type: 'database.state',
      database: other,
      engine: 'mysql',
      node: 'n3',
      address: '127.0.0.3',
      port: 3306,
    });
    await within(
      1000,
      `${other} to resolve`,
      async () => addresses(await dig(dns!.port, `${other}.db.${ZONE}`, 'A'), 'A')[0] === '127.0.0.3',
    );
    await publishEvent(pub, {
      type: 'database.state',
      database: other,
      engine: 'mysql',
      node: 'n4',
      address: '127.0.0.4',
      port: 3306,
    });
    await within(
      1000,
      `${other} to move`,
      async () => addresses(await dig(dns!.port, `${other}.db.${ZONE}`, 'A'), 'A')[0] === '127.0.0.4',
    );
    await publishEvent(pub, { type: 'database.removed', database: other });
    await within(
      1000,
      `${other} to be gone`,
      async () => (await dig(dns!.port, `${other}.db.${ZONE}`, 'A')).status === 'NXDOMAIN',
    );
  });

  it('the SOA serial moves on when the zone changes', async () => {
    const serial = async () => Number((await dig(dns!.port, ZONE, 'SOA')).answer[0]!.data.split(' ')[2]);
    const before = await serial();
    await publishEvent(pub, { type: 'app.instances', app: name('bump'), release: 'r000001', instances: [] });
    await within(1000, 'the serial to move on', async () => (await serial()) > before);
  });

  it('answers AAAA only where configured: an IPv4-only proxy gives NOERROR/no data for AAAA', async () => {
    const v4only = await startDns(options({ proxyAddresses: ['127.0.0.1'] }), { log: silent });
    try {
      const res = await dig(v4only.port, `${app}.${ZONE}`, 'AAAA');
      expect(res.status).to.equal('NOERROR');
      expect(res.answer).to.deep.equal([]);
      expect(addresses(await dig(v4only.port, `${app}.${ZONE}`, 'A'), 'A')).to.deep.equal(['127.0.0.1']);
    } finally {
      await v4only.close();
    }
  });

  it('rebuilds from the stream after a restart, including changes made while it was down', async () => {
    const whileDown = name('later');
    const port = dns!.port;
    await dns!.close();
    dns = undefined;
    await publishEvent(pub, { type: 'app.instances', app: whileDown, release: 'r000001', instances: [] });
    await publishEvent(pub, { type: 'app.removed', app });
    dns = await startDns(options({ port }), { log: silent });
    expect(addresses(await dig(dns.port, `${whileDown}.${ZONE}`, 'A'), 'A')).to.deep.equal(['127.0.0.1']);
    expect(addresses(await dig(dns.port, `${db}.db.${ZONE}`, 'A'), 'A')).to.deep.equal(['127.0.0.2']);
    expect((await dig(dns.port, `${app}.${ZONE}`, 'A')).status).to.equal('NXDOMAIN');
    // Put the first app back for the tests that follow.
    await publishEvent(pub, { type: 'app.instances', app, release: 'r000002', instances: [] });
    await within(1000, `${app} back`, () => Promise.resolve(dns!.zone.apps.has(app)));
  });

  it('drops malformed packets (random bytes, a response, a count flood) and keeps answering', async () => {
    let seed = 1234;
    const random = (n: number) =>
      Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16));
    const flood = Buffer.alloc(12, 0xff);
    flood[2] = 0;
    const sender = dgram.createSocket('udp4');
    for (let i = 0; i < 200; i++) sender.send(random(1 + (i % 100)), dns!.port, '127.0.0.1');
    for (let i = 0; i < 20; i++) sender.send(flood, dns!.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    sender.close();
    // A packet with QR set (a response) gets no answer: answering would let servers loop.
    const asResponse = random(40);
    asResponse[2] = 0x80;
    expect(await udpExchange(dns!.port, asResponse)).to.equal(undefined);
    for (const tcp of [false, true]) {
      const res = await dig(dns!.port, `${app}.${ZONE}`, 'A', { tcp });
      expect(addresses(res, 'A')).to.deep.equal(['127.0.0.1']);
    }
  });

  it('closes a TCP connection that sends garbage, and serves the next one', async () => {
    const net = await import('node:net');
    const socket = net.connect(dns!.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(Buffer.concat([Buffer.from([0, 12]), Buffer.alloc(12, 0xff)]));
    await closed;
    expect(addresses(await dig(dns!.port, `${app}.${ZONE}`, 'A', { tcp: true }), 'A')).to.deep.equal(['127.0.0.1']);
  });
});
