import { expect } from 'chai';
import { appName, expectError, startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

/** The `volumes` field, placement of an app with volumes, drain, and the volume routes, on a real Redis. */
describe('app volumes (API)', function () {
  let fx: ApiFixture;
  beforeEach(async () => {
    fx = await startApiFixture();
  });
  afterEach(() => fx?.close());

  it('refuses bad volumes with 400 naming the field', async () => {
    await fx.registerNode(`a-${suffix()}`);
    const bad: [unknown, string][] = [
      [[{ name: 'data', path: 'data' }], 'volumes.0.path'],
      [[{ name: 'data', path: '/' }], 'volumes.0.path'],
      [[{ name: 'data', path: '/app' }], 'volumes.0.path'],
      [[{ name: 'data', path: '/proc/x' }], 'volumes.0.path'],
      [[{ name: 'Data', path: '/data' }], 'volumes.0.name'],
      [
        [
          { name: 'a', path: '/a' },
          { name: 'a', path: '/b' },
        ],
        'volumes.1.name',
      ],
      [
        [
          { name: 'a', path: '/data' },
          { name: 'b', path: '/data' },
        ],
        'volumes.1.path',
      ],
      [[{ name: 'a', path: '/a', size: -1 }], 'volumes.0.size'],
    ];
    for (const [volumes, field] of bad) {
      const res = await fx.post('/apps').send(validBody(appName('bad'), { volumes }));
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(Object.keys(res.body.fields), JSON.stringify(volumes)).to.include(field);
    }
  });

  it('places every instance of an app with volumes on one node, keeps it there, and a drain says it stays', async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    await fx.registerNode(b);
    const spread = appName('spread');
    const res = await fx
      .post('/apps')
      .send(validBody(spread, { instances: 2 }))
      .expect(202);
    expect(new Set(res.body.app.placement).size).to.equal(2);
    // Volumes added later gather the app on its primary node.
    const patched = await fx
      .patch(`/apps/${spread}`)
      .send({ volumes: [{ name: 'data', path: '/data' }] })
      .expect(202);
    expect(patched.body.changed).to.include('volumes');
    expect(patched.body.app.placement).to.deep.equal([res.body.app.node, res.body.app.node]);
    expect(patched.body.app.volumes).to.deep.equal([{ name: 'data', path: '/data', size: null }]);

    const pinned = appName('pinned');
    const created = await fx
      .post('/apps')
      .send(validBody(pinned, { instances: 3, volumes: [{ name: 'data', path: '/data', size: 100 }] }))
      .expect(202);
    const node = created.body.app.node;
    expect(created.body.app.placement).to.deep.equal([node, node, node]);
    // Scaling stays on that node.
    const scaled = await fx.patch(`/apps/${pinned}`).send({ instances: 4 }).expect(202);
    expect(scaled.body.app.placement).to.deep.equal([node, node, node, node]);

    const drain = await fx.post(`/nodes/${node}/drain`).expect(202);
    const staying = drain.body.staying.find((s: { app?: string }) => s.app === pinned);
    expect(staying.reason).to.match(/volumes are Docker volumes on this node/);
    expect(drain.body.moved.map((m: { app: string }) => m.app)).to.not.include(pinned);
    expect((await fx.get(`/apps/${pinned}`).expect(200)).body.app.placement).to.deep.equal([node, node, node, node]);
  });

  it('deletes a volume only once the app no longer declares it; backups of declared volumes only', async () => {
    await fx.registerNode(`a-${suffix()}`);
    const name = appName('vols');
    await fx
      .post('/apps')
      .send(validBody(name, { volumes: [{ name: 'data', path: '/data' }] }))
      .expect(202);
    expectError(await fx.del(`/apps/${name}/volumes/data`), 409, 'VOLUME_IN_USE');
    expectError(await fx.post(`/apps/${name}/volumes/nope/backups`), 404, 'NOT_FOUND');
    const backup = await fx.post(`/apps/${name}/volumes/data/backups`).expect(202);
    expect(backup.body.backup.url).to.equal(`/apps/${name}/volumes/data/backups/${backup.body.backup.id}`);
    expect((await fx.get(`/apps/${name}/volumes/data/backups`).expect(200)).body.backups).to.deep.equal([]);
    await fx.patch(`/apps/${name}`).send({ volumes: [] }).expect(202);
    const removal = await fx.del(`/apps/${name}/volumes/data`).expect(202);
    expect(removal.body.job.id).to.match(new RegExp(`^volume-remove-${name}-`));
  });

  it('refuses a volume path parameter that is not a volume name with 400 naming `volume`', async () => {
    await fx.registerNode(`a-${suffix()}`);
    const name = appName('badvol');
    await fx
      .post('/apps')
      .send(validBody(name, { volumes: [{ name: 'data', path: '/data' }] }))
      .expect(202);
    // `a:b` would reach a BullMQ job id ("Custom Id cannot contain :") and fail with a 500.
    const requests = [
      () => fx.del(`/apps/${name}/volumes/a:b`),
      () => fx.post(`/apps/${name}/volumes/a:b/backups`),
      () => fx.post(`/apps/${name}/volumes/Data/restore`).send({ backup: 'x' }),
      () => fx.get(`/apps/${name}/volumes/a:b/backups`),
      () => fx.get(`/apps/${name}/volumes/a:b/backups/x`),
    ];
    for (const request of requests) {
      const res = await request();
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(Object.keys(res.body.fields)).to.deep.equal(['volume']);
    }
    expect(await fx.redis.keys('*volume-remove*')).to.deep.equal([]);
  });
});
