import { expect } from 'chai';
import { freeDiskProblem } from '../../../src/workers/apps/free-disk.ts';

const MiB = 1024 * 1024;

describe('freeDiskProblem: a build needs GASPER_MIN_FREE_DISK_MB free', () => {
  const rows: [what: string, freeMiB: number, minMb: number, refused: boolean][] = [
    ['plenty free', 50_000, 1024, false],
    ['exactly the minimum', 1024, 1024, false],
    ['one MiB short', 1023, 1024, true],
    ['0 never refuses, even a full disk', 0, 0, false],
  ];
  for (const [what, freeMiB, minMb, refused] of rows) {
    it(what, () => {
      expect(freeDiskProblem(freeMiB * MiB, minMb, 'n1') !== undefined).to.equal(refused);
    });
  }

  it('names the node, the figures, the setting and what to do', () => {
    const message = freeDiskProblem(300 * MiB, 1024, 'n1')!;
    for (const part of [
      'node n1',
      '300 MiB',
      'GASPER_MIN_FREE_DISK_MB (1024 MiB)',
      'GASPER_KEEP_RELEASES',
      'deploy again',
    ])
      expect(message).to.include(part);
  });
});
