import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { depsMarker } from '../../../src/workers/apps/deps-reuse-plan.ts';
import { prepareDeps, recordDeps } from '../../../src/workers/apps/deps-reuse.ts';

/**
 * The copy a reuse makes, on real directories: what it copies, where, and the symlinks a
 * repository or an earlier build could plant to have it read or write outside the release.
 */
describe('deps-reuse: copying an earlier release’s installed dependencies (real files)', () => {
  let root: string;
  let outside: string;
  const releases = () => path.join(root, 'releases');
  const release = (r: string) => path.join(releases(), r);
  const bundle = ['bundle install --jobs 4', 'rake assets:precompile'];
  const write = async (file: string, body = 'x') => {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, body);
  };
  const prepare = (commands = bundle) =>
    prepareDeps({ releasesDir: releases(), release: 'r000002', commands, image: 'gasper/ruby:latest', cache: true });

  /** r000001 built with a Gemfile.lock and its gems in vendor/bundle; r000002 cloned with the same lockfile. */
  async function twoReleases(): Promise<void> {
    for (const r of ['r000001', 'r000002']) await write(path.join(release(r), 'Gemfile.lock'), 'GEM\n');
    await write(path.join(release('r000001'), 'vendor/bundle/ruby/gems/rack/lib/rack.rb'), 'rack');
    const first = await prepareDeps({
      releasesDir: releases(),
      release: 'r000001',
      commands: bundle,
      image: 'gasper/ruby:latest',
      cache: true,
    });
    await recordDeps(release('r000001'), first);
  }

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-deps-'));
    outside = path.join(root, 'outside');
    await write(path.join(outside, 'secret'), 'node secret');
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it('copies vendor/bundle into the new release (its parent made) and drops the install command only', async () => {
    await twoReleases();
    const prepared = await prepare();
    expect(prepared.commands).to.deep.equal(['rake assets:precompile']);
    expect(prepared.lines[0]).to.match(/reused vendor\/bundle from r000001: bundle install --jobs 4 skipped/);
    expect(
      await fs.readFile(path.join(release('r000002'), 'vendor/bundle/ruby/gems/rack/lib/rack.rb'), 'utf8'),
    ).to.equal('rack');
  });

  it('an install that left no directory records no key, so the next release installs without a failed copy', async () => {
    for (const r of ['r000001', 'r000002']) await write(path.join(release(r), 'Gemfile.lock'), 'GEM\n');
    const first = await prepareDeps({
      releasesDir: releases(),
      release: 'r000001',
      commands: bundle,
      image: 'i',
      cache: true,
    });
    await recordDeps(release('r000001'), first);
    expect(await fs.stat(path.join(release('r000001'), depsMarker)).catch(() => undefined)).to.equal(undefined);
    expect((await prepare()).commands).to.deep.equal(bundle);
  });

  it('a lockfile that is a symlink is no key (its hash would tell the app about a file of the node)', async () => {
    await twoReleases();
    await fs.rm(path.join(release('r000002'), 'Gemfile.lock'));
    await fs.symlink(path.join(outside, 'secret'), path.join(release('r000002'), 'Gemfile.lock'));
    const prepared = await prepare();
    expect(prepared).to.include({ key: undefined });
    expect(prepared.commands).to.deep.equal(bundle);
  });

  it('a committed `vendor -> outside` in the new release: nothing is removed or written there, the install runs', async () => {
    await twoReleases();
    await fs.symlink(outside, path.join(release('r000002'), 'vendor'));
    await write(path.join(outside, 'bundle/keep'), 'kept');
    const prepared = await prepare();
    expect(prepared.commands).to.deep.equal(bundle);
    expect(prepared.lines).to.deep.equal([
      "dependencies: cannot reuse r000001's (this release's vendor is a symlink or goes through one): installing",
    ]);
    expect(await fs.readFile(path.join(outside, 'bundle/keep'), 'utf8')).to.equal('kept');
    expect(await fs.readdir(path.join(outside, 'bundle'))).to.deep.equal(['keep']);
  });

  it('an earlier build that left `vendor -> outside` is no source: nothing of the node is copied', async () => {
    await twoReleases();
    await fs.rm(path.join(release('r000001'), 'vendor'), { recursive: true });
    await write(path.join(outside, 'bundle/stolen'), 'node file');
    await fs.symlink(outside, path.join(release('r000001'), 'vendor'));
    const prepared = await prepare();
    expect(prepared.commands).to.deep.equal(bundle);
    expect(prepared.lines[0]).to.match(
      /cannot reuse r000001's \(its vendor\/bundle is a symlink or goes through one\)/,
    );
    expect(await fs.stat(path.join(release('r000002'), 'vendor')).catch(() => undefined)).to.equal(undefined);
  });
});
