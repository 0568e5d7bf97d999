import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { goCacheDir, prepareGoCache } from '../../../src/workers/apps/go-cache.ts';

/** The Go cache directory on real files: where it is, what a build starts from, what goes. */
describe('go-cache: preparing an app’s Go cache directory (real files)', () => {
  let appDir: string;
  beforeEach(async () => {
    appDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-go-cache-'));
  });
  afterEach(async () => {
    await fs.rm(appDir, { recursive: true, force: true });
  });
  const fill = async (uid: string) => {
    const dir = path.join(goCacheDir(appDir, uid), 'build', 'ab');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'entry-d'), Buffer.alloc(64 * 1024, 1));
  };

  it('makes the directory on the first build, and mounts it at /var/cache/gasper/go', async () => {
    const prepared = await prepareGoCache({ appDir, uid: 'u1', cache: true });
    expect(prepared.dir).to.equal(path.join(appDir, 'build-cache', 'u1', 'go'));
    expect(prepared.bind).to.equal(`${prepared.dir}:/var/cache/gasper/go`);
    expect(prepared.line).to.equal('go cache: empty (the first Go build of this app on this node)');
    expect((await fs.stat(prepared.dir)).isDirectory()).to.equal(true);
    if (process.getuid?.() === 0) expect((await fs.stat(prepared.dir)).uid).to.equal(10001);
  });

  it('keeps what an earlier build left, and says how much', async () => {
    await fill('u1');
    const prepared = await prepareGoCache({ appDir, uid: 'u1', cache: true });
    expect(prepared.line).to.match(/^go cache: reused from this app's earlier builds on this node \(0\.\d MiB/);
    expect(await fs.readdir(path.join(prepared.dir, 'build'))).to.deep.equal(['ab']);
  });

  it('empties it for cache: false', async () => {
    await fill('u1');
    const prepared = await prepareGoCache({ appDir, uid: 'u1', cache: false });
    expect(prepared.line).to.equal('go cache: cache: false: building from an empty GOCACHE and GOMODCACHE');
    expect(await fs.readdir(prepared.dir)).to.deep.equal([]);
  });

  it('removes the cache of an earlier incarnation of the name (another uid), never mounting it', async () => {
    await fill('old');
    const prepared = await prepareGoCache({ appDir, uid: 'new', cache: true });
    expect(prepared.line).to.equal('go cache: empty (the first Go build of this app on this node)');
    expect(await fs.readdir(path.join(appDir, 'build-cache'))).to.deep.equal(['new']);
  });
});
