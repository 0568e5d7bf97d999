import { expect } from 'chai';
import supertest from 'supertest';
import { applyAppJsonFormations } from '../../src/api/app-json-formation.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

/**
 * The control plane's part of app.json's formation (src/api/app-json-formation.ts), on a real
 * Redis with the API's stores and queues: an ask applied (processes, placement, a redeploy), an
 * ask the user's PATCH overtook, an ask over the owner's quotas.
 */
describe("app.json formation applied by the control plane (real Redis, the API's stores)", () => {
  let fx: ApiFixture;
  before(async () => {
    fx = await startApiFixture();
    await fx.registerNode(`n-${suffix()}`);
  });
  after(() => fx?.close());
  const apply = () => applyAppJsonFormations(fx.deps, createLogger('silent'));

  /** An app as its first deploy leaves it when app.json asks for `processes`. */
  async function asked(processes: Record<string, number>, token?: string, extra: Record<string, unknown> = {}) {
    const name = appName('fj');
    const post = token ? supertest(fx.app).post('/apps').set('authorization', `Bearer ${token}`) : fx.post('/apps');
    await post.send(validBody(name, extra)).expect(202);
    await fx.apps.update(name, (d) => ({
      ...d,
      status: 'running',
      release: 'r000001',
      pendingRelease: undefined,
      formationAsk: { processes, release: 'r000001' },
    }));
    await fx.redis.sadd(keys.appJsonFormations, name);
    return name;
  }

  it('applies an ask: processes set from app.json, placed for every container, redeployed; once', async () => {
    const name = await asked({ web: 2, worker: 1 });
    await apply();
    const doc = (await fx.apps.get(name))!;
    expect(doc.processes).to.deep.equal({ web: 2, worker: 1 });
    expect(doc.formationSource).to.equal('app.json');
    expect(doc.formationAsk).to.equal(undefined);
    expect(doc.placement).to.have.length(3);
    expect(doc.pendingRelease).to.be.a('string').and.not.equal('r000001');
    expect(doc.lastJob).to.match(new RegExp(`^deploy-${name}-`));
    expect(await fx.redis.sismember(keys.appJsonFormations, name)).to.equal(0);
    const view = (await fx.get(`/apps/${name}`).expect(200)).body.app;
    expect(view.formation).to.include({ source: 'app.json' });
    // Handled once: a second check changes nothing.
    const job = doc.lastJob;
    await apply();
    expect((await fx.apps.get(name))!.lastJob).to.equal(job);
  });

  it('an app applied by a check whose redeploy could not be enqueued (still in the set) is redeployed by the next', async () => {
    const name = await asked({ web: 1, worker: 1 });
    await fx.apps.update(name, (d) => ({
      ...d,
      processes: { web: 1, worker: 1 },
      formationSource: 'app.json',
      formationAsk: undefined,
    }));
    const before = (await fx.apps.get(name))!.lastJob;
    await apply();
    const doc = (await fx.apps.get(name))!;
    expect(doc.lastJob)
      .to.match(new RegExp(`^deploy-${name}-`))
      .and.not.equal(before);
    expect(await fx.redis.sismember(keys.appJsonFormations, name)).to.equal(0);
  });

  it("the user's PATCH before the check wins: the ask is dropped, nothing redeployed by it", async () => {
    const name = await asked({ web: 2, worker: 1 });
    expect((await fx.get(`/apps/${name}`).expect(200)).body.app.formation).to.include({ source: 'asked' });
    await fx.apps.update(name, (d) => ({ ...d, processes: { worker: 0 } }));
    const before = (await fx.apps.get(name))!.lastJob;
    await apply();
    const doc = (await fx.apps.get(name))!;
    expect(doc.processes).to.deep.equal({ worker: 0 });
    expect(doc.formationSource).to.equal(undefined);
    expect(doc.formationAsk).to.equal(undefined);
    expect(doc.lastJob).to.equal(before);
    expect(await fx.redis.sismember(keys.appJsonFormations, name)).to.equal(0);
  });

  it("over the owner's quotas: not applied, lastError says why, not tried again", async () => {
    const user = `u-${suffix()}`;
    const created = await fx.post('/users').send({ name: user }).expect(201);
    await fx
      .patch(`/users/${user}`)
      .send({ quotas: { maxCpu: 2 } })
      .expect(200);
    const name = await asked({ web: 2, worker: 2 }, created.body.token, { resources: { cpu: 1 } });
    const before = (await fx.apps.get(name))!;
    await apply();
    const doc = (await fx.apps.get(name))!;
    expect(doc.processes).to.equal(undefined);
    expect(doc.formationAsk).to.equal(undefined);
    expect(doc.lastError).to.match(/^app\.json formation web ×2, worker ×2 not applied: .*2 CPU/);
    expect(doc.placement).to.deep.equal(before.placement);
    expect(doc.lastJob).to.equal(before.lastJob);
    expect(await fx.redis.sismember(keys.appJsonFormations, name)).to.equal(0);
  });
});
