import { expect } from 'chai';
import { deployPhases, medianPhases, medianStamps, parseLogLine } from '../../bench/support/deploy-breakdown.ts';

describe("bench:deploy's breakdown of a deploy into phases", function () {
  const labels: [string, { at: number; label: string } | undefined][] = [
    ['[+0.550s] cloned file:///tmp/gasper-test-repo-x at 9036e23ff1d0', { at: 550, label: 'cloned' }],
    ['[+1.317s] prepared gasper-83ef7be0-bench-1-6b88-r000001-0 on node b', { at: 1317, label: 'prepared' }],
    ['[+1.345s] starting 1 instance(s), waiting for HTTP', { at: 1345, label: 'starting' }],
    ['[+5.306s] app answers HTTP (3961 ms)', { at: 5306, label: 'app answers HTTP' }],
    ['[+0.573s] build: (none) (package.json has no dependencies)', { at: 573, label: 'build' }],
    ['no stamp', undefined],
  ];
  for (const [line, expected] of labels)
    it(`reads ${JSON.stringify(line.slice(0, 40))}`, function () {
      expect(parseLogLine(line)).to.deep.equal(expected);
    });

  it('splits a round into consecutive phases that add up to the client-measured time', function () {
    const posted = Date.parse('2026-01-01T00:00:00.000Z');
    const client = { posted, accepted: posted + 30, firstOk: posted + 1500, attempts: 4 };
    const job = {
      createdAt: '2026-01-01T00:00:00.020Z',
      startedAt: '2026-01-01T00:00:00.025Z',
      finishedAt: '2026-01-01T00:00:01.425Z',
      log: ['[+0.100s] cloned file:///r at 9036e23ff1d0', 'noise', '[+1.300s] app answers HTTP (900 ms)'],
    };
    const phases = deployPhases(client, job);
    expect(phases).to.deep.equal([
      ['client POST → job created', 20],
      ['job created → picked up', 5],
      ['job: → cloned', 100],
      ['job: → app answers HTTP', 1200],
      ['job: last line → finished', 100],
      ['job finished → client first 200', 75],
    ]);
    expect(phases.reduce((sum, [, ms]) => sum + ms, 0)).to.equal(client.firstOk - client.posted);
  });

  it('takes the median of each phase over rounds, a phase seen twice in a round summed', function () {
    const rounds: [string, number][][] = [
      [
        ['a', 1],
        ['b', 10],
        ['b', 5],
      ],
      [['a', 3]],
      [['a', 2]],
    ];
    expect(medianPhases(rounds)).to.deep.equal([
      ['a', 2, 3],
      ['b', 15, 1],
    ]);
  });

  it('takes the median stamp of each log line over rounds, in the order lines first appear', function () {
    const logs = [
      [
        '[+0.500s] prepared gasper-83ef-r000001-0',
        '[+0.300s] cloned file:///r',
        '[+0.900s] prepared gasper-83ef-r000001-0 again',
      ],
      ['[+0.200s] cloned file:///r', '[+0.700s] prepared gasper-83ef-r000002-0'],
      ['[+0.400s] cloned file:///r'],
    ];
    expect(medianStamps(logs)).to.deep.equal([
      ['prepared', 500],
      ['cloned', 300],
    ]);
  });
});
