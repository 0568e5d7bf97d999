import { expect } from 'chai';
import type { Express } from 'express';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { certificateJobId, certificatesQueueName, enqueueCertificate } from '../../src/jobs/certificate-jobs.ts';
import { DomainStore } from '../../src/store/domains.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

/** Custom domains of apps: validation, ownership, the per-app limit, the issuance job, removal. */
describe('API /apps/:name/domains (real Redis)', () => {
  let fx: ApiFixture;
  const as = (token: string, target: Express = fx.app) => ({
    get: (p: string) => supertest(target).get(p).set('authorization', `Bearer ${token}`),
    post: (p: string) => supertest(target).post(p).set('authorization', `Bearer ${token}`),
    del: (p: string) => supertest(target).delete(p).set('authorization', `Bearer ${token}`),
  });
  const domainName = (base = 'shop') => `${base}-${suffix()}.example.com`;

  async function createUser(): Promise<{ name: string; token: string }> {
    const name = `user-${suffix()}`;
    const res = await fx.post('/users').send({ name, role: 'member' }).expect(201);
    return { name, token: res.body.token };
  }
  async function createApp(token = fx.token): Promise<string> {
    const name = appName('web');
    await as(token).post('/apps').send(validBody(name)).expect(202);
    return name;
  }
  /** The domain.* events in the stream, oldest first. */
  async function domainEvents(domain: string): Promise<unknown[]> {
    const entries = (await fx.redis.xrange(keys.events, '-', '+')) as [string, string[]][];
    return entries.map(([, f]) => JSON.parse(f[1]!)).filter((e) => e.domain === domain);
  }

  before(async () => {
    fx = await startApiFixture({ domain: 'apps.test', proxyAddresses: ['203.0.113.7', '2001:db8::7'] });
    await fx.registerNode(`n-${suffix()}`);
  });
  after(() => fx?.close());

  it('adds a domain: 202, pending, the job queued, the TXT proof and DNS records to create, and no route yet', async () => {
    const app = await createApp();
    const domain = domainName();
    const res = await fx.post(`/apps/${app}/domains`).send({ domain: domain.toUpperCase() }).expect(202);
    expect(res.headers.location).to.equal(`/apps/${app}/domains/${domain}`);
    expect(res.body.domain).to.include({ domain, app, status: 'pending', attempts: 0 });
    expect(res.body.certificates).to.equal('automatic');
    // Tenants do not trust each other: the domain is routed only once this TXT record holds the token.
    expect(res.body.domain.verification).to.include({ type: 'TXT', name: `_gasper-verify.${domain}` });
    expect(res.body.domain.verification.value).to.match(/^gasper-verify=[\w-]{24}$/);
    expect(res.body.domain.verification).not.to.have.property('verifiedAt');
    expect(res.body.job).to.deep.equal({
      id: certificateJobId('issue', domain),
      url: `/jobs/${certificateJobId('issue', domain)}`,
    });
    expect(res.body.dns.records).to.deep.equal([
      { type: 'A', name: domain, value: '203.0.113.7' },
      { type: 'AAAA', name: domain, value: '2001:db8::7' },
    ]);
    expect(res.body.dns.cname).to.deep.equal({ type: 'CNAME', name: domain, value: `${app}.apps.test` });
    const job = await fx.queues.byName(certificatesQueueName).getJob(certificateJobId('issue', domain));
    expect(job?.data).to.deep.equal({ domain });
    // The job is the caller's to poll.
    expect((await fx.get(res.body.job.url)).status).to.equal(200);
    // No proxy routes it before the proof: no domain.state.
    expect(await domainEvents(domain)).to.deep.equal([]);

    const list = await fx.get(`/apps/${app}/domains`).expect(200);
    expect(list.body.domains).to.have.length(1);
    expect(list.body.domains[0]).to.include({ domain, status: 'pending' });
    const one = await fx.get(`/apps/${app}/domains/${domain}`).expect(200);
    expect(one.body.domain.domain).to.equal(domain);
  });

  it('lists status, issuer, notAfter and the errors the certificates service wrote', async () => {
    const app = await createApp();
    const [issued, failed] = [domainName('a'), domainName('b')];
    for (const domain of [issued, failed]) await fx.post(`/apps/${app}/domains`).send({ domain }).expect(202);
    const store = new DomainStore(fx.redis);
    await store.update(issued, (d) => ({
      ...d,
      status: 'issued',
      certificate: {
        issuer: 'Pebble Intermediate CA',
        notBefore: 'nb',
        notAfter: '2027-03-01T00:00:00.000Z',
        version: 'v1',
      },
      renewalError: 'the CA refused: rate limited until 2027-02-01T00:00:00Z',
    }));
    await store.update(failed, (d) => ({
      ...d,
      status: 'failed',
      lastError: 'DNS does not point here: it resolves to 198.51.100.1; it should resolve to 203.0.113.7',
    }));
    const list = await fx.get(`/apps/${app}/domains`).expect(200);
    const byName = Object.fromEntries(list.body.domains.map((d: { domain: string }) => [d.domain, d]));
    expect(byName[issued]).to.include({
      status: 'issued',
      issuer: 'Pebble Intermediate CA',
      notAfter: '2027-03-01T00:00:00.000Z',
      renewalError: 'the CA refused: rate limited until 2027-02-01T00:00:00Z',
    });
    expect(byName[issued]).to.not.have.property('version');
    expect(byName[failed]).to.include({ status: 'failed' });
    expect(byName[failed].lastError).to.match(/should resolve to 203\.0\.113\.7/);
  });

  const invalid: [string, object][] = [
    ['no domain', {}],
    ['not a string', { domain: 42 }],
    ['an IP address', { domain: '203.0.113.7' }],
    ['a wildcard', { domain: '*.example.com' }],
    ['one label', { domain: 'localhost' }],
    ['a URL', { domain: 'https://shop.example.com/' }],
    ['a label over 63', { domain: `${'a'.repeat(64)}.com` }],
    ['a name over 253', { domain: `${'abcdefghi.'.repeat(26)}com` }],
    ['the platform zone', { domain: 'apps.test' }],
    ['a name in the platform zone', { domain: 'web.apps.test' }],
  ];
  for (const [what, body] of invalid) {
    it(`400 naming the field domain for ${what}, writing nothing`, async () => {
      const app = await createApp();
      const before = await fx.snapshot();
      const res = await fx.post(`/apps/${app}/domains`).send(body);
      expectFieldError(res, 'domain');
      await fx.expectNothingCreated(before);
    });
  }

  it('400 for an unknown field, explains <app>.<zone> for the platform zone', async () => {
    const app = await createApp();
    expectFieldError(await fx.post(`/apps/${app}/domains`).send({ domain: domainName(), tls: 'x' }), 'tls');
    const res = await fx.post(`/apps/${app}/domains`).send({ domain: `x.apps.test` });
    expect(res.body.fields.domain).to.include('<app>.apps.test');
  });

  it("409 for a domain any app holds, without naming another owner's app", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const aliceApp = await createApp(alice.token);
    const bobApp = await createApp(bob.token);
    const domain = domainName();
    await as(alice.token).post(`/apps/${aliceApp}/domains`).send({ domain }).expect(202);
    const again = await as(alice.token).post(`/apps/${aliceApp}/domains`).send({ domain });
    expectError(again, 409, 'DOMAIN_EXISTS');
    expect(again.body.message).to.include('this app');
    const theirs = await as(bob.token).post(`/apps/${bobApp}/domains`).send({ domain });
    expectError(theirs, 409, 'DOMAIN_EXISTS');
    expect(JSON.stringify(theirs.body)).to.not.include(aliceApp);
    expect(theirs.body.fields).to.have.property('domain');
  });

  it("404 for another owner's app, on every route; an admin may act on it", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const app = await createApp(alice.token);
    const domain = domainName();
    await as(alice.token).post(`/apps/${app}/domains`).send({ domain }).expect(202);
    expectError(await as(bob.token).get(`/apps/${app}/domains`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/apps/${app}/domains/${domain}`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).post(`/apps/${app}/domains`).send({ domain: domainName() }), 404, 'NOT_FOUND');
    expectError(await as(bob.token).del(`/apps/${app}/domains/${domain}`), 404, 'NOT_FOUND');
    expectError(await fx.post(`/apps/missing-${suffix()}/domains`).send({ domain: domainName() }), 404, 'NOT_FOUND');
    expect((await fx.get(`/apps/${app}/domains`).expect(200)).body.domains).to.have.length(1);
    // The admin adds one to Alice's app: it is Alice's (her job, her domain).
    const added = await fx.post(`/apps/${app}/domains`).send({ domain: domainName() }).expect(202);
    expect((await new DomainStore(fx.redis).get(added.body.domain.domain))?.owner).to.equal(alice.name);
    expect((await as(alice.token).get(added.body.job.url)).status).to.equal(200);
  });

  it('an administrator may skip the ownership proof: the domain is routed at once; a member may not', async () => {
    const app = await createApp();
    const domain = domainName();
    const res = await fx.post(`/apps/${app}/domains`).send({ domain, skipVerification: true }).expect(202);
    expect(res.body.domain).not.to.have.property('verification');
    expect(await domainEvents(domain)).to.deep.equal([{ type: 'domain.state', domain, app }]);
    const alice = await createUser();
    const hers = await createApp(alice.token);
    const denied = await as(alice.token)
      .post(`/apps/${hers}/domains`)
      .send({ domain: domainName(), skipVerification: true });
    expectError(denied, 403, 'FORBIDDEN');
    expect(denied.body.fields).to.have.property('skipVerification');
  });

  it('GASPER_DOMAIN_VERIFICATION=off routes at once; GASPER_ACME off queues nothing and says why', async () => {
    const trusting = fx.withOptions({ domainVerification: false, acme: false });
    const app = await createApp();
    const domain = domainName();
    const res = await fx.post(`/apps/${app}/domains`, trusting).send({ domain }).expect(202);
    expect(res.body.certificates).to.equal('off');
    expect(res.body).not.to.have.property('job');
    expect(res.body.domain.lastError).to.include('automatic certificates are off on this platform (GASPER_ACME)');
    expect(await fx.queues.byName(certificatesQueueName).getJob(certificateJobId('issue', domain))).to.equal(undefined);
    expect(await domainEvents(domain)).to.deep.equal([{ type: 'domain.state', domain, app }]);
    // ACME off with verification on: the job still runs, to check the TXT record.
    const verifying = fx.withOptions({ acme: false });
    const other = domainName();
    const second = await fx.post(`/apps/${app}/domains`, verifying).send({ domain: other }).expect(202);
    expect(second.body.job.id).to.equal(certificateJobId('issue', other));
    expect(second.body.domain).to.have.property('verification');
  });

  it('refuses the platform host (GASPER_PLATFORM_HOST), naming the field domain', async () => {
    const app = await createApp();
    const withHost = fx.withOptions({ platformHost: 'paas.example.org' });
    const res = await fx.post(`/apps/${app}/domains`, withHost).send({ domain: 'PAAS.example.org.' });
    expectFieldError(res, 'domain');
    expect(res.body.fields.domain).to.include('GASPER_PLATFORM_HOST');
  });

  it('holds the per-owner limit (GASPER_DOMAINS_PER_OWNER) over all apps, naming it; admins are exempt', async () => {
    const limited = fx.withOptions({ domainsPerOwner: 2 });
    const alice = await createUser();
    const first = await createApp(alice.token);
    const second = await createApp(alice.token);
    await as(alice.token, limited).post(`/apps/${first}/domains`).send({ domain: domainName() }).expect(202);
    await as(alice.token, limited).post(`/apps/${second}/domains`).send({ domain: domainName() }).expect(202);
    const res = await as(alice.token, limited).post(`/apps/${second}/domains`).send({ domain: domainName() });
    expectError(res, 409, 'DOMAIN_OWNER_LIMIT');
    expect(res.body.message).to.include('GASPER_DOMAINS_PER_OWNER');
    expect(res.body.fields).to.have.property('domain');
    const mine = await createApp();
    for (let i = 0; i < 3; i++)
      await fx.post(`/apps/${mine}/domains`, limited).send({ domain: domainName() }).expect(202);
  });

  it('holds the per-app limit (GASPER_DOMAINS_PER_APP), naming it', async () => {
    const limited = fx.withOptions({ domainsPerApp: 2 });
    const app = await createApp();
    for (let i = 0; i < 2; i++)
      await fx.post(`/apps/${app}/domains`, limited).send({ domain: domainName() }).expect(202);
    const res = await fx.post(`/apps/${app}/domains`, limited).send({ domain: domainName() });
    expectError(res, 409, 'DOMAIN_LIMIT');
    expect(res.body.message).to.include('GASPER_DOMAINS_PER_APP');
    // Another app has its own allowance.
    await fx
      .post(`/apps/${await createApp()}/domains`, limited)
      .send({ domain: domainName() })
      .expect(202);
  });

  it('removes a domain: 204, its certificate gone, domain.removed published; again → 404', async () => {
    const app = await createApp();
    const domain = domainName();
    await fx.post(`/apps/${app}/domains`).send({ domain }).expect(202);
    await fx.redis.set(keys.certificate(domain), '{}');
    await fx.del(`/apps/${app}/domains/${domain.toUpperCase()}`).expect(204);
    expect(await fx.redis.exists(keys.domain(domain), keys.certificate(domain))).to.equal(0);
    expect((await fx.get(`/apps/${app}/domains`).expect(200)).body.domains).to.deep.equal([]);
    expect((await domainEvents(domain)).at(-1)).to.deep.equal({ type: 'domain.removed', domain });
    expectError(await fx.del(`/apps/${app}/domains/${domain}`), 404, 'NOT_FOUND');
    expectError(await fx.del(`/apps/${app}/domains/not..a..name`), 404, 'NOT_FOUND');
    // Free again, for any app.
    await fx
      .post(`/apps/${await createApp()}/domains`)
      .send({ domain })
      .expect(202);
  });

  it('stores an internationalized name in its ASCII form, found and removed by either spelling', async () => {
    const app = await createApp();
    const label = `bücher-${suffix()}`;
    const res = await fx
      .post(`/apps/${app}/domains`)
      .send({ domain: `${label}.example` })
      .expect(202);
    const ascii = res.body.domain.domain as string;
    expect(ascii)
      .to.match(/^xn--b/)
      .and.to.not.include('ü');
    await fx.get(`/apps/${app}/domains/${encodeURIComponent(`${label}.example`)}`).expect(200);
    await fx.del(`/apps/${app}/domains/${encodeURIComponent(`${label}.example`)}`).expect(204);
    expect(await fx.redis.exists(keys.domain(ascii))).to.equal(0);
  });

  it("a domain of another app cannot be removed through this one's path", async () => {
    const [a, b] = [await createApp(), await createApp()];
    const domain = domainName();
    await fx.post(`/apps/${a}/domains`).send({ domain }).expect(202);
    expectError(await fx.del(`/apps/${b}/domains/${domain}`), 404, 'NOT_FOUND');
    expectError(await fx.get(`/apps/${b}/domains/${domain}`), 404, 'NOT_FOUND');
    expect(await fx.redis.exists(keys.domain(domain))).to.equal(1);
  });

  it('deleting an app removes its domains at once, publishing domain.removed for each', async () => {
    const app = await createApp();
    const domains = [domainName(), domainName()];
    for (const domain of domains) await fx.post(`/apps/${app}/domains`).send({ domain }).expect(202);
    await fx.del(`/apps/${app}`).expect(202);
    for (const domain of domains) {
      expect(await fx.redis.exists(keys.domain(domain))).to.equal(0);
      expect((await domainEvents(domain)).at(-1)).to.deep.equal({ type: 'domain.removed', domain });
    }
    expect(await fx.redis.exists(keys.appDomains(app))).to.equal(0);
    // A deleting app takes no new domain.
    expectError(await fx.post(`/apps/${app}/domains`).send({ domain: domainName() }), 404, 'NOT_FOUND');
    // And the names are free for another app.
    await fx
      .post(`/apps/${await createApp()}/domains`)
      .send({ domain: domains[0] })
      .expect(202);
  });

  it('a read-only token may list but not add', async () => {
    const app = await createApp();
    const minted = await fx
      .post('/users/me/tokens')
      .send({ name: `ro-${suffix()}`, scopes: ['read'] })
      .expect(201);
    const readOnly = minted.body.secret as string;
    await as(readOnly).get(`/apps/${app}/domains`).expect(200);
    expectError(await as(readOnly).post(`/apps/${app}/domains`).send({ domain: domainName() }), 403, 'FORBIDDEN');
  });

  it('a certificate job still queued keeps its owner when the domain is asked for again by another', async () => {
    const domain = domainName();
    const id = certificateJobId('issue', domain);
    await enqueueCertificate(fx.redis, fx.queues, { kind: 'issue', domain, owner: 'alice' });
    await enqueueCertificate(fx.redis, fx.queues, { kind: 'issue', domain, owner: 'mallory' });
    expect(await fx.redis.get(keys.jobOwner(id))).to.equal('alice');
    // Once it has finished, the next one is the new asker's.
    await (await fx.queues.byName(certificatesQueueName).getJob(id))!.remove();
    await enqueueCertificate(fx.redis, fx.queues, { kind: 'issue', domain, owner: 'bob' });
    expect(await fx.redis.get(keys.jobOwner(id))).to.equal('bob');
  });
});
