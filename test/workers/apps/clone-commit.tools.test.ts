import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { CloneFailedError, cloneRelease } from '../../../src/workers/apps/clone.ts';
import { createGitRepo, type GitFixture } from '../../support/git-fixture.ts';

/** Cloning one exact commit (what a push webhook deploys), against a real git repository. */
describe('cloneRelease with a commit (git)', function () {
  let repo: GitFixture;
  let dir: string;
  let first: string;
  let second: string;

  before(async () => {
    repo = await createGitRepo({ 'version.txt': 'one\n' });
    first = await repo.commit({ 'version.txt': 'two\n' });
    second = await repo.commit({ 'version.txt': 'three\n' });
  });
  beforeEach(async () => {
    dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-clone-')), 'release');
  });
  afterEach(async () => {
    await fs.rm(path.dirname(dir), { recursive: true, force: true });
  });
  after(async () => {
    await repo?.remove();
  });

  it('checks out the given commit, not the branch head, without .git', async () => {
    const result = await cloneRelease({
      url: repo.url,
      branch: 'main',
      commit: first,
      dir,
      allowLocal: true,
      sshDir: path.join(dir, '..', 'ssh'),
    });
    expect(result.commit).to.equal(first);
    expect(await fs.readFile(path.join(dir, 'version.txt'), 'utf8')).to.equal('two\n');
    expect(await fs.stat(path.join(dir, '.git')).catch(() => undefined)).to.equal(undefined);
  });

  it('the head commit too, and a retry into the same directory starts clean', async () => {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'stale.txt'), 'left by a crashed attempt');
    const result = await cloneRelease({
      url: repo.url,
      branch: 'main',
      commit: second,
      dir,
      allowLocal: true,
      sshDir: path.join(dir, '..', 'ssh'),
    });
    expect(result.commit).to.equal(second);
    expect(await fs.readdir(dir)).to.deep.equal(['version.txt']);
  });

  it('a commit the repository does not have fails for good, naming it', async () => {
    const missing = crypto.randomBytes(20).toString('hex');
    const err = await cloneRelease({
      url: repo.url,
      branch: 'main',
      commit: missing,
      dir,
      allowLocal: true,
      sshDir: path.join(dir, '..', 'ssh'),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CloneFailedError);
    expect((err as CloneFailedError).message).to.include(missing);
    expect((err as CloneFailedError).permanent).to.equal(true);
  });

  it('keeps the transport allow-list: file:// is refused unless local repositories are allowed', async () => {
    const err = await cloneRelease({
      url: repo.url,
      branch: 'main',
      commit: first,
      dir,
      allowLocal: false,
      sshDir: path.join(dir, '..', 'ssh'),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CloneFailedError);
  });
});
