import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import tar from 'tar-fs';
import {
  generatedDockerfile,
  packBuildContext,
  withIgnoredDockerfile,
  withLabels,
} from '../../../src/workers/apps/build-context.ts';

describe('build-context: the labelled Dockerfile and the context sent to the daemon', () => {
  const labels = { 'io.gasper.release': 'r000002', 'io.gasper.app': 'shop' };
  const rows: [string, string, Record<string, string>, string][] = [
    [
      'one LABEL line at the end, keys sorted, values quoted',
      'FROM base\nCMD ["node"]\n',
      labels,
      'FROM base\nCMD ["node"]\nLABEL "io.gasper.app"="shop" "io.gasper.release"="r000002"\n',
    ],
    ['a last line with no newline gets one first', 'FROM base', { a: '1' }, 'FROM base\nLABEL "a"="1"\n'],
    ['no labels: the Dockerfile as it is', 'FROM base\n', {}, 'FROM base\n'],
    ['a quote in a value stays inside its string', 'FROM base\n', { a: 'x"y' }, 'FROM base\nLABEL "a"="x\\"y"\n'],
  ];
  for (const [name, text, given, expected] of rows) it(name, () => expect(withLabels(text, given)).to.equal(expected));

  it('the .dockerignore sent adds the generated Dockerfile to the app’s', () => {
    expect(withIgnoredDockerfile('')).to.equal(`${generatedDockerfile}\n`);
    expect(withIgnoredDockerfile('node_modules')).to.equal(`node_modules\n${generatedDockerfile}\n`);
    expect(withIgnoredDockerfile('*.log\n')).to.equal(`*.log\n${generatedDockerfile}\n`);
  });

  it('packs the context without .git and the ignored top-level entries, with our Dockerfile and .dockerignore', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-context-'));
    try {
      const context = path.join(root, 'context');
      const out = path.join(root, 'out');
      for (const [file, body] of Object.entries({
        'server.js': 'js',
        'lib/util.js': 'util',
        'secret.env': 'TOKEN=1',
        '.git/HEAD': 'ref',
        '.dockerignore': 'secret.env',
        [generatedDockerfile]: 'planted by the repository',
      })) {
        await fs.mkdir(path.dirname(path.join(context, file)), { recursive: true });
        await fs.writeFile(path.join(context, file), body);
      }
      const packed = await packBuildContext({ contextDir: context, dockerfileText: 'FROM base', labels: { a: '1' } });
      expect(packed).to.include({ dockerfile: generatedDockerfile, entries: 2 });
      await pipeline(packed.stream, tar.extract(out));
      expect((await fs.readdir(out)).sort()).to.deep.equal(['.dockerignore', generatedDockerfile, 'lib', 'server.js']);
      expect(await fs.readFile(path.join(out, generatedDockerfile), 'utf8')).to.equal('FROM base\nLABEL "a"="1"\n');
      expect(await fs.readFile(path.join(out, '.dockerignore'), 'utf8')).to.equal(
        `secret.env\n${generatedDockerfile}\n`,
      );
      expect(await fs.readFile(path.join(out, 'lib/util.js'), 'utf8')).to.equal('util');
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
