import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { expect } from 'chai';

/**
 * Biome wraps code at 120 columns but leaves comments alone: this keeps them within the same width.
 * String literals may run longer (error messages stay whole, so they can be found with grep).
 */
const width = 120;
const comment = /^\s*(\/\/|\/\*|\*)/;

describe('comment width', () => {
  it(`no comment line is longer than ${width} characters`, () => {
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', 'src', 'test', 'bench', 'scripts'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => /\.(ts|js)$/.test(f) && fs.existsSync(f));
    const long = files.flatMap((file) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => ([...line].length > width && comment.test(line) ? [`${file}:${i + 1}`] : [])),
    );
    expect(long, 'comment lines over the width (wrap them)').to.deep.equal([]);
  });
});
