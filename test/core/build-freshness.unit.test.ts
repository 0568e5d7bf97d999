import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { newerSource } from '../../src/build-freshness.ts';

describe('build freshness: compiled services never run older code than the checkout', () => {
  let dir: string;
  const at = (file: string, seconds: number) => fs.utimes(file, seconds, seconds);
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-fresh-'));
    await fs.mkdir(path.join(dir, 'src', 'proxy'), { recursive: true });
    await fs.mkdir(path.join(dir, 'dist'));
    await fs.writeFile(path.join(dir, 'dist', 'serve.js'), '');
    await fs.writeFile(path.join(dir, 'src', 'serve.ts'), '');
    await fs.writeFile(path.join(dir, 'src', 'proxy', 'forward.ts'), '');
    await fs.writeFile(path.join(dir, 'src', 'proxy', 'notes.md'), '');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('a build newer than every source is current', async () => {
    await at(path.join(dir, 'dist', 'serve.js'), 2000);
    for (const f of ['serve.ts', 'proxy/forward.ts', 'proxy/notes.md']) await at(path.join(dir, 'src', f), 1000);
    expect(await newerSource(path.join(dir, 'dist', 'serve.js'), path.join(dir, 'src'))).to.equal(undefined);
  });

  it('a source changed after the build is named, in a folder too; other files do not count', async () => {
    await at(path.join(dir, 'src', 'proxy', 'notes.md'), 3000);
    expect(await newerSource(path.join(dir, 'dist', 'serve.js'), path.join(dir, 'src'))).to.equal(undefined);
    await at(path.join(dir, 'src', 'proxy', 'forward.ts'), 3000);
    expect(await newerSource(path.join(dir, 'dist', 'serve.js'), path.join(dir, 'src'))).to.equal(
      path.join(dir, 'src', 'proxy', 'forward.ts'),
    );
  });

  it('no sources beside the build (dist/ alone) is current', async () => {
    expect(await newerSource(path.join(dir, 'dist', 'serve.js'), path.join(dir, 'nowhere'))).to.equal(undefined);
  });
});
