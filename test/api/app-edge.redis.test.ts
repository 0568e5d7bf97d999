import { expect } from 'chai';
import { keys } from '../../src/core/keys.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { storeEdge } from '../../src/api/app-edge.ts';
import { AppStore } from '../../src/store/apps.ts';
import { appName, expectFieldError, startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

describe("API: an app's HTTPS settings (https, hsts) reach the proxy as app.edge events (real Redis)", function () {
  let fx: ApiFixture;

  before(async function () {
    fx = await startApiFixture();
    await fx.registerNode(`n-${suffix()}`);
  });

  after(async function () {
    await fx?.close();
  });

  const latestEdge = async (app: string) => {
    const raw = await fx.redis.hget(keys.eventsLatest, `edge:${app}`);
    return raw ? JSON.parse(raw) : null;
  };

  const badBodies: [string, Record<string, unknown>][] = [
    ['https', { https: 'always' }],
    ['https', { https: true }],
    ['hsts', { hsts: 'yes' }],
    ['hsts', { hsts: 1 }],
  ];
  for (const [field, extra] of badBodies) {
    it(`POST /apps with ${JSON.stringify(extra)} -> 400 naming ${field}`, async function () {
      expectFieldError(await fx.post('/apps').send(validBody(appName(), extra)), field);
    });
    it(`PATCH /apps/:name with ${JSON.stringify(extra)} -> 400 naming ${field}`, async function () {
      const name = appName();
      expect((await fx.post('/apps').send(validBody(name))).status).to.equal(202);
      expectFieldError(await fx.patch(`/apps/${name}`).send(extra), field);
    });
  }

  it('POST /apps stores them, shows them and publishes app.edge; without them, no event (the defaults)', async function () {
    const name = appName();
    const res = await fx.post('/apps').send(validBody(name, { https: 'redirect', hsts: true }));
    expect(res.status).to.equal(202);
    expect(res.body.app).to.include({ https: 'redirect', hsts: true });
    expect(await latestEdge(name)).to.deep.equal({ type: 'app.edge', app: name, https: 'redirect', hsts: true });
    const plain = appName();
    const other = await fx.post('/apps').send(validBody(plain));
    expect(other.body.app).to.include({ https: 'allow', hsts: false });
    expect(await latestEdge(plain)).to.equal(null);
  });

  it('PATCH changes them without a redeploy and publishes the new state; the same value again publishes nothing', async function () {
    const name = appName();
    await fx.post('/apps').send(validBody(name));
    const res = await fx.patch(`/apps/${name}`).send({ https: 'redirect' });
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ redeploy: false });
    expect(res.body.changed).to.deep.equal(['https']);
    expect(await latestEdge(name)).to.deep.equal({ type: 'app.edge', app: name, https: 'redirect', hsts: false });
    const again = await fx.patch(`/apps/${name}`).send({ https: 'redirect', hsts: true });
    expect(again.body.changed).to.deep.equal(['hsts']);
    expect((await fx.get(`/apps/${name}`)).body.app).to.include({ https: 'redirect', hsts: true });
    expect(await latestEdge(name)).to.include({ hsts: true });
    const same = await fx.patch(`/apps/${name}`).send({ hsts: true });
    expect(same.body.changed).to.deep.equal([]);
  });

  it("app.removed drops the app's edge settings from the snapshot with it", async function () {
    const name = appName();
    await fx.post('/apps').send(validBody(name, { hsts: true }));
    expect(await latestEdge(name)).to.not.equal(null);
    await publishEvent(fx.redis, { type: 'app.removed', app: name });
    expect(await latestEdge(name)).to.equal(null);
  });

  it('concurrent PATCHes end with the document and the snapshot agreeing (stored with its event in one call)', async function () {
    const name = appName();
    await fx.post('/apps').send(validBody(name));
    for (let round = 0; round < 5; round++) {
      const bodies = [
        { https: 'redirect', hsts: true },
        { https: 'allow', hsts: false },
        { https: 'redirect', hsts: false },
        { https: 'allow', hsts: true },
      ];
      const answers = await Promise.all(bodies.map((body) => fx.patch(`/apps/${name}`).send(body)));
      for (const res of answers) expect(res.status).to.equal(200);
      const app = (await fx.get(`/apps/${name}`)).body.app;
      const edge = await latestEdge(name);
      // No event at all only if the document still holds the defaults.
      expect(edge ?? { https: 'allow', hsts: false }).to.include({ https: app.https, hsts: app.hsts });
    }
  });

  it('a PATCH that also redeploys stores and announces them too', async function () {
    const name = appName();
    await fx.post('/apps').send(validBody(name));
    const res = await fx.patch(`/apps/${name}`).send({ https: 'redirect', env: { A: '1' } });
    expect(res.body).to.include({ redeploy: true });
    expect(res.body.app).to.include({ https: 'redirect' });
    expect(await latestEdge(name)).to.include({ https: 'redirect' });
  });

  it('an app being deleted announces nothing, so app.removed stays the last word', async function () {
    const name = appName();
    await fx.post('/apps').send(validBody(name));
    const apps = new AppStore(fx.redis);
    await apps.update(name, (d) => ({ ...d, status: 'deleting' }));
    await publishEvent(fx.redis, { type: 'app.removed', app: name });
    const stored = await storeEdge(apps, name, { https: 'redirect', hsts: true }, true);
    expect(stored).to.include({ https: 'redirect' });
    expect(await latestEdge(name)).to.equal(null);
    await apps.remove(name);
    expect(await storeEdge(apps, name, { https: 'redirect' }, true)).to.equal(undefined);
    expect(await latestEdge(name)).to.equal(null);
  });

  it("with a platform certificate (appsHttpsPort), an app's url is https on that port", async function () {
    const secure = await startApiFixture({ appsHttpsPort: 8443 });
    try {
      await secure.registerNode(`n-${suffix()}`);
      const name = appName();
      const res = await secure.post('/apps').send(validBody(name));
      expect(res.status).to.equal(202);
      expect(res.body.app.url).to.match(new RegExp(`^https://${name}\\.[^:/]+:8443$`));
    } finally {
      await secure.close();
    }
  });
});
