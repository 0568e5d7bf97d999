import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConventionError } from '../../../src/workers/apps/conventions.ts';
import { assertRealBuildPaths, chooseReleaseBuilder } from '../../../src/workers/apps/dockerfile-build.ts';
import { narrowToSubdir, realPathProblem } from '../../../src/workers/apps/repo-subdir.ts';

// tar-fs is what dockerode packs a build context with (no types installed): packed as it does.
const require = createRequire(import.meta.url);
const tarFs = require('tar-fs') as { pack: (dir: string, opts: { entries: string[] }) => NodeJS.ReadableStream };
const tarStream = require('tar-stream') as {
  extract: () => NodeJS.WritableStream & {
    on(e: 'entry', f: (h: { name: string; type: string }, s: NodeJS.ReadableStream, next: () => void) => void): void;
    on(e: 'finish', f: () => void): void;
  };
};

/** A fake node: `state/secret` outside the clone, the clone at `state/apps/a/releases/r1`. */
async function layout(): Promise<{ root: string; clone: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-build-paths-'));
  const clone = path.join(root, 'apps/a/releases/r1');
  await fs.mkdir(path.join(clone, 'app'), { recursive: true });
  await fs.writeFile(path.join(root, 'secret'), 'other tenants');
  await fs.writeFile(path.join(clone, 'app/Dockerfile'), 'FROM scratch\n');
  await fs.writeFile(path.join(clone, 'Dockerfile'), 'FROM scratch\n');
  await fs.symlink('../../../..', path.join(clone, 'ctx'));
  await fs.symlink('app', path.join(clone, 'inner'));
  await fs.symlink('../../../../secret', path.join(clone, 'app/leak'));
  return { root, clone };
}

describe('build paths: a Dockerfile build never packs what lies outside the clone', () => {
  let root: string;
  let clone: string;
  before(async () => ({ root, clone } = await layout()));
  after(() => fs.rm(root, { recursive: true, force: true }));

  const rows: [sub: string, kind: 'directory' | 'file', problem: string | undefined][] = [
    ['.', 'directory', undefined],
    ['app', 'directory', undefined],
    ['app/Dockerfile', 'file', undefined],
    ['ctx', 'directory', 'symlink'],
    ['ctx/secret', 'file', 'symlink'],
    ['inner', 'directory', 'symlink'],
    ['inner/Dockerfile', 'file', 'symlink'],
    ['app/leak', 'file', 'symlink'],
    ['nothing', 'directory', 'missing'],
    ['app/Dockerfile', 'directory', 'missing'],
  ];
  for (const [sub, kind, problem] of rows)
    it(`${kind} ${sub}: ${problem ?? 'usable'}`, async () => {
      expect(await realPathProblem(clone, sub, kind)).to.equal(problem);
    });

  it('a symlinked context fails the build with a clear message', async () => {
    const err = await assertRealBuildPaths(clone, 'ctx', 'ctx/Dockerfile').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ConventionError);
    expect((err as Error).message).to.include('dockerfile.context: ctx is a symlink');
  });

  it('a symlinked Dockerfile path fails the builder choice, even with builder auto', async () => {
    const err = await chooseReleaseBuilder(
      { name: 'web', builder: 'auto', dockerfile: { path: 'inner/Dockerfile', context: '.' } },
      clone,
    ).catch((e: unknown) => e);
    expect((err as Error).message).to.include('dockerfile.path: inner/Dockerfile is a symlink');
  });

  it('repo.path through a symlink is refused', async () => {
    const err = await narrowToSubdir(clone, 'ctx').catch((e: unknown) => e);
    expect((err as Error).message).to.include('symlink');
  });

  it('a symlink inside the context is packed as a symlink, never followed', async () => {
    const entries: { name: string; type: string }[] = [];
    const extract = tarStream.extract();
    extract.on('entry', (header, stream, next) => {
      entries.push({ name: header.name, type: header.type });
      stream.on('end', next);
      stream.resume();
    });
    const done = new Promise<void>((resolve) => extract.on('finish', resolve));
    tarFs.pack(path.join(clone, 'app'), { entries: ['Dockerfile', 'leak'] }).pipe(extract);
    await done;
    expect(entries).to.deep.include({ name: 'leak', type: 'symlink' });
  });
});
