import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { keys } from '../../src/core/keys.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { eventSchema, type GasperEvent } from '../../src/events/schemas.ts';
import type { DomainDocument } from '../../src/store/domain-document.ts';
import { AppStore } from '../../src/store/apps.ts';
import { DomainStore } from '../../src/store/domains.ts';
import { removeAppRecords } from '../../src/store/record-removal.ts';
import { startTestRedis } from '../support/redis.ts';

function domainName(): string {
  return `shop-${crypto.randomBytes(4).toString('hex')}.example.com`;
}

function newDomain(domain: string, app = 'web', owner = 'alice'): DomainDocument {
  const now = new Date().toISOString();
  return { domain, app, appUid: `${app}-uid`, owner, status: 'pending', attempts: 0, createdAt: now, updatedAt: now };
}

describe('domain store (real Redis)', function () {
  this.timeout(30_000);

  let server: EmbeddedRedisHandle;
  let redis: Redis;
  let store: DomainStore;

  /** What the create script reads of an app: its uid and status (the rest is AppStore's). */
  async function putApp(app: string, status = 'running', uid = `${app}-uid`): Promise<void> {
    await redis.set(keys.app(app), JSON.stringify({ name: app, uid, status }));
  }

  /** Every event in the stream, oldest first. */
  async function events(): Promise<GasperEvent[]> {
    const entries = (await redis.xrange(keys.events, '-', '+')) as [string, string[]][];
    return entries.map(([, fields]) => eventSchema.parse(JSON.parse(fields[1]!)));
  }

  before(async () => {
    server = await startTestRedis();
    redis = connectRedis(server.url);
    store = new DomainStore(redis);
  });
  beforeEach(async () => {
    await redis.flushall();
    for (const app of ['web', 'shop', 'free', 'other', ...Array.from({ length: 10 }, (_, i) => `app${i}`)])
      await putApp(app);
  });
  after(async () => {
    redis?.disconnect();
    await server?.close();
  });

  it('creates a domain once, lists it by app, and announces it in the same call', async () => {
    const domain = domainName();
    expect(await store.create(newDomain(domain), 20)).to.equal('created');
    expect((await store.get(domain))?.status).to.equal('pending');
    expect((await store.listByApp('web')).map((d) => d.domain)).to.deep.equal([domain]);
    expect(await store.listByApp('other')).to.deep.equal([]);
    expect((await store.list()).map((d) => d.domain)).to.deep.equal([domain]);
    expect(await events()).to.deep.equal([{ type: 'domain.state', domain, app: 'web' }]);
    expect(JSON.parse((await redis.hget(keys.eventsLatest, `domain:${domain}`))!)).to.deep.equal({
      type: 'domain.state',
      domain,
      app: 'web',
    });
  });

  it('refuses a domain another app (of any owner) holds, writing nothing', async () => {
    const domain = domainName();
    expect(await store.create(newDomain(domain, 'web', 'alice'), 20)).to.equal('created');
    expect(await store.create(newDomain(domain, 'shop', 'bob'), 20)).to.equal('taken');
    expect((await store.get(domain))?.app).to.equal('web');
    expect(await store.listByApp('shop')).to.deep.equal([]);
    expect(await events()).to.have.length(1);
  });

  it('creates nothing for an app that is gone, being deleted, or another incarnation', async () => {
    await redis.del(keys.app('web'));
    expect(await store.create(newDomain(domainName(), 'web'), 20)).to.equal('no-app');
    await putApp('web', 'deleting');
    expect(await store.create(newDomain(domainName(), 'web'), 20)).to.equal('no-app');
    await putApp('web', 'running', 'a-later-uid');
    expect(await store.create(newDomain(domainName(), 'web'), 20)).to.equal('no-app');
    expect(await redis.scard(keys.domains)).to.equal(0);
    expect(await events()).to.deep.equal([]);
  });

  it('lets exactly one of concurrent requests for one domain win', async () => {
    const domain = domainName();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.create(newDomain(domain, `app${i}`), 20)),
    );
    expect(results.filter((r) => r === 'created')).to.have.length(1);
    expect(await redis.scard(keys.domains)).to.equal(1);
  });

  it('holds the per-app limit even under concurrency (0 means none)', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => store.create(newDomain(domainName()), 3)));
    expect(results.filter((r) => r === 'created')).to.have.length(3);
    expect(results.filter((r) => r === 'limit')).to.have.length(3);
    expect(await store.create(newDomain(domainName(), 'free'), 0)).to.equal('created');
  });

  it('updates by compare-and-set, announcing only what the proxy sees', async () => {
    const domain = domainName();
    await store.create(newDomain(domain), 20);
    // A failure changes nothing the proxy uses: no event.
    await store.update(domain, (doc) => ({
      ...doc,
      status: 'failed',
      lastError: 'DNS does not point here',
      attempts: 1,
    }));
    expect(await events()).to.have.length(1);
    const certificate = {
      issuer: 'Pebble Intermediate CA',
      notBefore: '2026-12-01T00:00:00.000Z',
      notAfter: '2027-03-01T00:00:00.000Z',
      version: 'v1',
    };
    const issued = await store.update(domain, (doc) => ({
      ...doc,
      status: 'issued',
      certificate,
      lastError: undefined,
      attempts: 0,
    }));
    expect(issued?.status).to.equal('issued');
    expect(issued?.lastError).to.equal(undefined);
    expect((await events()).at(-1)).to.deep.equal({
      type: 'domain.state',
      domain,
      app: 'web',
      certificate: { version: 'v1', notAfter: certificate.notAfter },
    });
    // Concurrent writers never lose each other's increments.
    await Promise.all(
      Array.from({ length: 10 }, () => store.update(domain, (doc) => ({ ...doc, attempts: doc.attempts + 1 }))),
    );
    expect((await store.get(domain))?.attempts).to.equal(10);
    expect(await store.update('absent.example.com', (doc) => doc)).to.equal(undefined);
  });

  it('refuses an update that moves the domain to another app', async () => {
    const domain = domainName();
    await store.create(newDomain(domain), 20);
    let error: unknown;
    try {
      await store.update(domain, (doc) => ({ ...doc, app: 'other' }));
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(Error);
  });

  it('removes the document, its certificate and its set memberships, announcing domain.removed', async () => {
    const domain = domainName();
    await store.create(newDomain(domain), 20);
    await redis.set(keys.certificate(domain), '{}');
    expect(await store.remove(domain, 'other')).to.equal(false);
    expect(await store.remove(domain, 'web', 'another-uid')).to.equal(false);
    expect(await store.remove(domain, 'web', 'web-uid')).to.equal(true);
    expect(await redis.exists(keys.domain(domain), keys.certificate(domain))).to.equal(0);
    expect(await redis.scard(keys.domains)).to.equal(0);
    expect(await redis.scard(keys.appDomains('web'))).to.equal(0);
    expect((await events()).at(-1)).to.deep.equal({ type: 'domain.removed', domain });
    expect(await redis.hexists(keys.eventsLatest, `domain:${domain}`)).to.equal(0);
    expect(await store.remove(domain, 'web')).to.equal(false);
  });

  it('removes every domain of an app, and only those', async () => {
    const mine = [domainName(), domainName()];
    const theirs = domainName();
    for (const d of mine) await store.create(newDomain(d, 'web'), 20);
    await store.create(newDomain(theirs, 'shop'), 20);
    expect((await store.removeApp('web')).sort()).to.deep.equal([...mine].sort());
    expect(await store.listByApp('web')).to.deep.equal([]);
    expect(await redis.exists(keys.appDomains('web'))).to.equal(0);
    expect((await store.list()).map((d) => d.domain)).to.deep.equal([theirs]);
    expect(await store.removeApp('web')).to.deep.equal([]);
  });

  it("an app's last deletion step (removeAppRecords) removes its domains too", async () => {
    const domain = domainName();
    await store.create(newDomain(domain, 'web'), 20);
    await removeAppRecords(redis, new AppStore(redis), 'web');
    expect(await store.get(domain)).to.equal(undefined);
    expect((await events()).at(-1)).to.deep.equal({ type: 'domain.removed', domain });
  });

  it('announces a domain awaiting its ownership proof only once it is verified', async () => {
    const domain = domainName();
    const before = (await events()).length;
    await store.create({ ...newDomain(domain), verification: { token: 'gasper-verify=t' } }, 20);
    await store.update(domain, (doc) => ({ ...doc, lastError: 'Ownership: the TXT record is missing', attempts: 1 }));
    expect(await events()).to.have.length(before);
    expect(await redis.hget(keys.eventsLatest, `domain:${domain}`)).to.equal(null);
    await store.update(domain, (doc) => ({
      ...doc,
      verification: { token: 'gasper-verify=t', verifiedAt: new Date().toISOString() },
    }));
    expect((await events()).at(-1)).to.deep.equal({ type: 'domain.state', domain, app: 'web' });
  });

  it('writes the extra key (a certificate) only with the document it was made for', async () => {
    const domain = domainName();
    const first = newDomain(domain);
    await store.create(first, 20);
    // Removed and added again by another incarnation while a job ran for the first.
    await store.remove(domain, 'web');
    await store.create({ ...newDomain(domain), createdAt: new Date(Date.now() + 1000).toISOString() }, 20);
    const also = () => ({ key: keys.certificate(domain), value: '{"stale":true}' });
    await store.update(
      domain,
      (doc) => (doc.createdAt === first.createdAt ? { ...doc, status: 'issued' } : undefined),
      also,
    );
    expect(await redis.exists(keys.certificate(domain))).to.equal(0);
    expect((await store.get(domain))?.status).to.equal('pending');
    // Its own job's certificate lands with its document, in one call.
    await store.update(domain, (doc) => ({ ...doc, status: 'issued' }), also);
    expect(await redis.get(keys.certificate(domain))).to.equal('{"stale":true}');
  });
});
