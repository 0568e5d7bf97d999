import { expect } from 'chai';
import {
  appVolumeMounts,
  appVolumeName,
  appVolumesField,
  volumeNameProblem,
  volumePathProblem,
} from '../../src/core/app-volumes.ts';
import { PlacementError, placeInstances, type CandidateNode } from '../../src/core/place-instances.ts';
import { containerSpec } from '../../src/workers/apps/container-spec.ts';
import { planVolumeRemovals } from '../../src/workers/node/reconcile.ts';
import { planAppJsonEnv } from '../../src/workers/apps/app-json-env.ts';
import { volumesWithUse } from '../../src/api/views.ts';

describe('app volumes', () => {
  const paths: [string, boolean][] = [
    ['/data', true],
    ['/var/lib/app', true],
    ['/home/app/uploads', true],
    ['data', false],
    ['/', false],
    ['/app', false],
    ['/app/uploads', false],
    ['/proc', false],
    ['/sys/x', false],
    ['/dev', false],
    ['/etc', false],
    ['/etc/gasper', false],
    ['/tmp', false],
    ['/data/', false],
    ['/data//x', false],
    ['/data/../etc', false],
    ['/da ta', false],
  ];
  for (const [p, ok] of paths)
    it(`path ${JSON.stringify(p)} is ${ok ? 'accepted' : 'refused'}`, () =>
      expect(volumePathProblem(p) === undefined).to.equal(ok));

  it('names are DNS labels (reserved app names allowed)', () => {
    expect(volumeNameProblem('data')).to.equal(undefined);
    expect(volumeNameProblem('api')).to.equal(undefined);
    expect(volumeNameProblem('Data')).to.be.a('string');
    expect(volumeNameProblem('a_b')).to.be.a('string');
    expect(volumeNameProblem('')).to.be.a('string');
  });

  it('refuses duplicate names and nested paths, naming the field', () => {
    const dup = appVolumesField.safeParse([
      { name: 'a', path: '/a' },
      { name: 'a', path: '/b' },
    ]);
    expect(dup.success).to.equal(false);
    expect(dup.error!.issues[0]!.path).to.deep.equal([1, 'name']);
    const nested = appVolumesField.safeParse([
      { name: 'a', path: '/data' },
      { name: 'b', path: '/data/x' },
    ]);
    expect(nested.error!.issues[0]!.path).to.deep.equal([1, 'path']);
    expect(appVolumesField.safeParse([{ name: 'a', path: '/a', size: 0 }]).success).to.equal(false);
    expect(appVolumesField.safeParse([{ name: 'a', path: '/a', extra: 1 }]).success).to.equal(false);
  });

  it('Docker names hold the installation and the app incarnation', () => {
    expect(appVolumeName('0a1b2c3d', 'blog', 'f00', 'data')).to.equal('gasper-0a1b2c3d-blog-f00-v-data');
    expect(appVolumeName('0a1b2c3d', 'blog', 'f00', 'data')).to.not.equal(
      appVolumeName('0a1b2c3d', 'blog', 'f01', 'data'),
    );
    expect(appVolumeName('0a1b2c3d', 'blog', 'f00', 'data')).to.not.equal(
      appVolumeName('99999999', 'blog', 'f00', 'data'),
    );
  });

  it('app containers mount the volumes; builds do not', () => {
    const base = {
      name: 'c',
      image: 'img',
      app: 'blog',
      release: 'r000001',
      installation: '0a1b2c3d',
      node: 'n',
      releaseDir: '/r',
      port: 3000,
      env: {},
      publishAddress: '127.0.0.1',
      volumes: appVolumeMounts('0a1b2c3d', { name: 'blog', uid: 'f00', volumes: [{ name: 'data', path: '/data' }] }),
    };
    const app = containerSpec({ ...base, role: 'app' });
    expect(app.HostConfig!.Mounts).to.deep.equal([
      { Type: 'volume', Source: 'gasper-0a1b2c3d-blog-f00-v-data', Target: '/data', ReadOnly: false },
    ]);
    expect(containerSpec({ ...base, role: 'build' }).HostConfig!.Mounts).to.equal(undefined);
    // No volumes: the spec (and its hash) is what it was before volumes existed.
    expect(containerSpec({ ...base, volumes: [], role: 'app' }).HostConfig!.Mounts).to.equal(undefined);
  });
});

describe('placeInstances together (an app with volumes)', () => {
  const GiB = 1024 ** 3;
  const node = (id: string, cpus: number, usedCpu = 0, extra: Partial<CandidateNode> = {}): CandidateNode => ({
    id,
    capacity: { cpus, memoryBytes: 8 * GiB },
    allocated: { cpu: usedCpu, memoryBytes: 0 },
    alive: true,
    draining: false,
    ...extra,
  });
  const cases: [string, CandidateNode[], { instances: number; current?: string[] }, string[] | RegExp][] = [
    ['all on the least loaded node', [node('a', 4, 2), node('b', 4)], { instances: 3 }, ['b', 'b', 'b']],
    ['all on the node it runs on', [node('a', 4, 1), node('b', 4)], { instances: 2, current: ['a'] }, ['a', 'a']],
    ['only a node with room for all', [node('a', 8, 5), node('b', 2)], { instances: 3 }, ['a', 'a', 'a']],
    ['never a draining node', [node('a', 4, 0, { draining: true }), node('b', 4)], { instances: 2 }, ['b', 'b']],
    [
      'refused when no node has room for all',
      [node('a', 2), node('b', 2)],
      { instances: 3 },
      /runs its 3 instances on one node/,
    ],
  ];
  for (const [title, nodes, request, want] of cases)
    it(title, () => {
      const place = () => placeInstances(nodes, { cpu: 1, memoryBytes: GiB, together: true, ...request });
      if (want instanceof RegExp) expect(place).to.throw(PlacementError, want);
      else expect(place()).to.deep.equal(want);
    });
});

describe('planVolumeRemovals', () => {
  const volumes = [
    { name: 'v1', app: 'blog', uid: 'u1' },
    { name: 'v2', app: 'blog', uid: 'u2' },
    { name: 'v3', app: 'shop', uid: 's1' },
  ];
  it('removes only volumes of apps recorded as deleted, never of an app of that uid', () => {
    const apps = new Map([['blog', { uid: 'u2' }]]);
    const got = planVolumeRemovals(apps, volumes, new Set(['blog/u1', 'blog/u2']));
    expect(got.map((r) => r.name)).to.deep.equal(['v1']);
  });
  it('keeps volumes of apps merely missing from Redis', () => {
    expect(planVolumeRemovals(new Map(), volumes, new Set())).to.deep.equal([]);
  });
});

describe('planAppJsonEnv', () => {
  const env = {
    GREETING: { value: 'hi', required: false },
    SECRET_KEY: { generator: 'secret' as const, required: false },
    API_TOKEN: { required: true },
    OPTIONAL: { required: false },
  };
  it('defaults, secrets and missing required variables of what nobody sets', () => {
    expect(planAppJsonEnv({ env }, new Set())).to.deep.equal({
      defaults: { GREETING: 'hi' },
      generate: ['SECRET_KEY'],
      missing: ['API_TOKEN'],
    });
  });
  it('nothing for variables already set', () => {
    expect(planAppJsonEnv({ env }, new Set(['GREETING', 'SECRET_KEY', 'API_TOKEN']))).to.deep.equal({
      defaults: {},
      generate: [],
      missing: [],
    });
  });
});

describe('volumesWithUse', () => {
  const doc = {
    name: 'blog',
    uid: 'u1',
    volumes: [
      { name: 'data', path: '/data', size: 1 },
      { name: 'logs', path: '/logs' },
    ],
  };
  it("reports each volume's measured size and whether it is over its declared size", () => {
    const got = volumesWithUse(doc, [
      { app: 'blog', uid: 'u1', volume: 'data', bytes: 2 * 1024 * 1024 },
      { app: 'blog', uid: 'old', volume: 'logs', bytes: 5 },
    ]);
    expect(got).to.deep.equal([
      { name: 'data', path: '/data', size: 1, usedBytes: 2 * 1024 * 1024, overSize: true },
      { name: 'logs', path: '/logs', size: null, usedBytes: null, overSize: false },
    ]);
  });
});
