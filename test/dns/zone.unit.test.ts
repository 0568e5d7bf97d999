import { expect } from 'chai';
import type { GasperEvent } from '../../src/events/schemas.ts';
import { answerQuery, applyEvent, createZone, Rcode, RRClass, RRType, type Zone } from '../../src/dns/zone.ts';

const NOW = 1_700_000_000;

function zone(): Zone {
  const z = createZone(
    {
      apex: 'apps.example.com',
      ttl: 30,
      nameservers: ['ns1.apps.example.com', 'ns2.example.net'],
      proxyAddresses: ['203.0.113.10', '2001:db8::10'],
      nsAddresses: ['203.0.113.53'],
    },
    NOW,
  );
  applyEvent(z, { type: 'app.instances', app: 'hello', release: 'r000001', instances: [] }, NOW);
  applyEvent(
    z,
    { type: 'database.state', database: 'orders', engine: 'postgres', node: 'n1', address: '198.51.100.5', port: 5432 },
    NOW,
  );
  applyEvent(
    z,
    { type: 'database.state', database: 'cache6', engine: 'redis', node: 'n2', address: 'fd00::6', port: 6379 },
    NOW,
  );
  return z;
}

const { A, AAAA, NS, SOA, ANY } = RRType;
const MX = 15;
const TXT = 16;

/** [question name, type, rcode, answer data (address / ns / SOA primary), authority types] */
const table: [string, number, number, string[], number[]][] = [
  ['hello.apps.example.com', A, Rcode.NOERROR, ['203.0.113.10'], []],
  ['hello.apps.example.com', AAAA, Rcode.NOERROR, ['2001:db8::10'], []],
  ['HELLO.Apps.Example.COM.', A, Rcode.NOERROR, ['203.0.113.10'], []],
  ['hello.apps.example.com', ANY, Rcode.NOERROR, ['203.0.113.10', '2001:db8::10'], []],
  ['hello.apps.example.com', MX, Rcode.NOERROR, [], [SOA]],
  ['hello.apps.example.com', TXT, Rcode.NOERROR, [], [SOA]],
  ['apps.example.com', SOA, Rcode.NOERROR, ['ns1.apps.example.com'], []],
  ['apps.example.com', NS, Rcode.NOERROR, ['ns1.apps.example.com', 'ns2.example.net'], []],
  ['apps.example.com', A, Rcode.NOERROR, [], [SOA]],
  ['ns1.apps.example.com', A, Rcode.NOERROR, ['203.0.113.53'], []],
  ['ns1.apps.example.com', AAAA, Rcode.NOERROR, [], [SOA]],
  ['orders.db.apps.example.com', A, Rcode.NOERROR, ['198.51.100.5'], []],
  ['orders.db.apps.example.com', AAAA, Rcode.NOERROR, [], [SOA]],
  ['cache6.db.apps.example.com', AAAA, Rcode.NOERROR, ['fd00::6'], []],
  ['db.apps.example.com', A, Rcode.NOERROR, [], [SOA]], // an empty non-terminal: it has names below it
  ['missing.apps.example.com', A, Rcode.NXDOMAIN, [], [SOA]],
  ['x.hello.apps.example.com', A, Rcode.NXDOMAIN, [], [SOA]],
  ['missing.db.apps.example.com', A, Rcode.NXDOMAIN, [], [SOA]],
  ['hello.db.apps.example.com', A, Rcode.NXDOMAIN, [], [SOA]],
  ['a.orders.db.apps.example.com', A, Rcode.NXDOMAIN, [], [SOA]],
  ['orders.apps.example.com', A, Rcode.NXDOMAIN, [], [SOA]],
  ['example.com', A, Rcode.REFUSED, [], []],
  ['xapps.example.com', A, Rcode.REFUSED, [], []],
  ['hello.apps.example.com.evil.org', A, Rcode.REFUSED, [], []],
  ['', NS, Rcode.REFUSED, [], []],
  ['apps.example.com', RRType.AXFR, Rcode.REFUSED, [], []],
  ['apps.example.com', RRType.IXFR, Rcode.REFUSED, [], []],
];

function dataOf(record: object): string {
  const r = record as { address?: string; ns?: string; primary?: string };
  return r.address ?? r.ns ?? r.primary ?? '';
}

describe('answerQuery', () => {
  for (const [name, type, rcode, data, authority] of table) {
    it(`${name || '(root)'} type ${type} → rcode ${rcode}, answers ${JSON.stringify(data)}`, () => {
      const answer = answerQuery({ name, type, class: RRClass.IN }, zone());
      expect(answer.rcode).to.equal(rcode);
      expect(answer.answers.map(dataOf)).to.deep.equal(data);
      expect(answer.authority.map((r) => r.type)).to.deep.equal(authority);
      expect(answer.authoritative).to.equal(rcode !== Rcode.REFUSED);
    });
  }

  it('answers with owner names in lowercase and the zone TTL', () => {
    const answer = answerQuery({ name: 'Hello.APPS.example.com', type: A, class: RRClass.IN }, zone());
    expect(answer.answers).to.deep.equal([
      { name: 'hello.apps.example.com', type: A, class: RRClass.IN, ttl: 30, address: '203.0.113.10' },
    ]);
  });

  it('puts a complete SOA in the authority section of negative answers', () => {
    const z = zone();
    const [soa] = answerQuery({ name: 'missing.apps.example.com', type: A, class: RRClass.IN }, z).authority;
    expect(soa).to.deep.equal({
      name: 'apps.example.com',
      type: SOA,
      class: RRClass.IN,
      ttl: 30,
      primary: 'ns1.apps.example.com',
      admin: 'hostmaster.apps.example.com',
      serial: z.serial,
      refresh: 3600,
      retry: 600,
      expiration: 86400,
      minimum: 30,
    });
  });

  it('refuses other classes (CHAOS) even for names in the zone, and accepts class ANY', () => {
    expect(answerQuery({ name: 'hello.apps.example.com', type: A, class: 3 }, zone()).rcode).to.equal(Rcode.REFUSED);
    expect(answerQuery({ name: 'hello.apps.example.com', type: A, class: RRClass.ANY }, zone()).answers).to.have.length(
      1,
    );
  });
});

describe('applyEvent', () => {
  const cases: [string, GasperEvent, boolean, (z: Zone) => unknown, unknown][] = [
    [
      'a new app',
      { type: 'app.instances', app: 'new', release: 'r1', instances: [] },
      true,
      (z) => z.apps.has('new'),
      true,
    ],
    [
      'a known app redeployed',
      { type: 'app.instances', app: 'hello', release: 'r2', instances: [] },
      false,
      (z) => z.apps.has('hello'),
      true,
    ],
    ['an app removed', { type: 'app.removed', app: 'hello' }, true, (z) => z.apps.has('hello'), false],
    ['an unknown app removed', { type: 'app.removed', app: 'ghost' }, false, (z) => z.apps.size, 1],
    [
      'a database moved',
      {
        type: 'database.state',
        database: 'orders',
        engine: 'postgres',
        node: 'n3',
        address: '198.51.100.9',
        port: 5432,
      },
      true,
      (z) => z.databases.get('orders'),
      '198.51.100.9',
    ],
    [
      'a database unchanged',
      {
        type: 'database.state',
        database: 'orders',
        engine: 'postgres',
        node: 'n1',
        address: '198.51.100.5',
        port: 5433,
      },
      false,
      (z) => z.databases.get('orders'),
      '198.51.100.5',
    ],
    [
      'a database removed',
      { type: 'database.removed', database: 'orders' },
      true,
      (z) => z.databases.has('orders'),
      false,
    ],
  ];
  for (const [what, event, changed, probe, expected] of cases) {
    it(`${what}: ${changed ? 'changes the zone and its serial' : 'changes nothing'}`, () => {
      const z = zone();
      const serial = z.serial;
      expect(applyEvent(z, event, NOW)).to.equal(changed);
      expect(probe(z)).to.deep.equal(expected);
      expect(z.serial).to.equal(changed ? serial + 1 : serial);
    });
  }

  it('moves the serial to the clock when the clock is ahead, and never back', () => {
    const z = zone();
    applyEvent(z, { type: 'app.removed', app: 'hello' }, NOW + 1000);
    expect(z.serial).to.equal(NOW + 1000);
    applyEvent(z, { type: 'app.instances', app: 'hello', release: 'r3', instances: [] }, NOW);
    expect(z.serial).to.equal(NOW + 1001);
  });

  it('a removed app and database get NXDOMAIN', () => {
    const z = zone();
    applyEvent(z, { type: 'app.removed', app: 'hello' }, NOW);
    applyEvent(z, { type: 'database.removed', database: 'orders' }, NOW);
    expect(answerQuery({ name: 'hello.apps.example.com', type: A, class: RRClass.IN }, z).rcode).to.equal(
      Rcode.NXDOMAIN,
    );
    expect(answerQuery({ name: 'orders.db.apps.example.com', type: A, class: RRClass.IN }, z).rcode).to.equal(
      Rcode.NXDOMAIN,
    );
    // cache6 remains, so db.<zone> still exists as an empty non-terminal.
    expect(answerQuery({ name: 'db.apps.example.com', type: A, class: RRClass.IN }, z).rcode).to.equal(Rcode.NOERROR);
  });
});
