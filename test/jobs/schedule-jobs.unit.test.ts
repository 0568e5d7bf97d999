import { expect } from 'chai';
import { createScheduleRequest, cronProblem, timezoneProblem } from '../../src/jobs/schedule-jobs.ts';

describe('schedule requests', () => {
  const cases: [string, string | undefined, boolean][] = [
    ['*/5 * * * *', undefined, true],
    ['0 3 * * 1-5', 'Europe/Paris', true],
    ['*/2 * * * * *', undefined, true],
    ['@daily', undefined, false],
    ['61 * * * *', undefined, false],
    ['* * *', undefined, false],
    ['* * * * * * *', undefined, false],
    ['bad bad bad bad bad', undefined, false],
  ];
  for (const [pattern, zone, ok] of cases) {
    it(`${ok ? 'accepts' : 'rejects'} ${pattern}${zone ? ` in ${zone}` : ''}`, () =>
      expect(cronProblem(pattern, zone) === undefined).to.equal(ok));
  }

  it('knows IANA zones', () => {
    expect(timezoneProblem('America/New_York')).to.equal(undefined);
    expect(timezoneProblem('Mars/Base')).to.match(/not an IANA time zone/);
  });

  it('names each bad field, and defaults overlap to skip', () => {
    const bad = createScheduleRequest.safeParse({ command: '', schedule: '61 * * * *', timezone: 'X/Y', extra: 1 });
    expect(bad.success).to.equal(false);
    const paths = bad.error!.issues.map(
      (i) => i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join() : ''),
    );
    expect(paths).to.include.members(['command', 'timezone', 'extra']);
    const good = createScheduleRequest.parse({ command: 'echo hi', schedule: '* * * * *' });
    expect(good.overlap).to.equal('skip');
  });
});
