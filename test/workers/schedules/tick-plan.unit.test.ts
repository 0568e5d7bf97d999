import { expect } from 'chai';
import type { Schedule } from '../../../src/jobs/schedule-jobs.ts';
import { planTick, type TickInput, type TickPlan } from '../../../src/workers/schedules/tick-plan.ts';
import { tickTime } from '../../../src/workers/schedules/ticks.ts';
import { parseSkippedRun, skippedRunEntry } from '../../../src/store/schedules.ts';

const schedule: Schedule = {
  id: 's1',
  app: 'blog',
  uid: 'u1',
  command: 'echo hi',
  schedule: '* * * * *',
  overlap: 'skip',
  createdAt: '2026-01-01T00:00:00.000Z',
};
const app = { uid: 'u1', status: 'running', release: 'r000002', node: 'n1' };
const base: TickInput = { tick: { app: 'blog', uid: 'u1', schedule: 's1' }, tickMs: 60_000, schedule, app };
const run: TickPlan = { action: 'run', node: 'n1', job: 'sched-blog-s1-60000' };

describe('planTick', () => {
  const cases: [string, Partial<TickInput>, TickPlan][] = [
    ['runs on the app’s primary node, named by the tick', {}, run],
    ['runs when the previous run finished', { previousRun: { id: 'x', state: 'completed' } }, run],
    ['runs after a failed run', { previousRun: { id: 'x', state: 'failed' } }, run],
    [
      'skips while the previous run is running (overlap skip)',
      { previousRun: { id: 'x', state: 'active' } },
      { action: 'skip', reason: 'previous run x is still active' },
    ],
    [
      'skips while the previous run waits (its node is down)',
      { previousRun: { id: 'x', state: 'waiting' } },
      { action: 'skip', reason: 'previous run x is still waiting' },
    ],
    [
      'runs beside a running one with overlap allow',
      { schedule: { ...schedule, overlap: 'allow' }, previousRun: { id: 'x', state: 'active' } },
      run,
    ],
    [
      'skips an app with no release yet',
      { app: { ...app, release: undefined } },
      { action: 'skip', reason: 'app has no release yet' },
    ],
    ['drops the schedule of a deleted app', { app: undefined }, { action: 'drop', reason: 'app is gone' }],
    [
      'drops the schedule of an app being deleted',
      { app: { ...app, status: 'deleting' } },
      { action: 'drop', reason: 'app is gone' },
    ],
    [
      'drops the schedule of an earlier app of the same name',
      { app: { ...app, uid: 'u2' } },
      { action: 'drop', reason: 'app is gone' },
    ],
    ['drops a deleted schedule', { schedule: undefined }, { action: 'drop', reason: 'schedule was deleted' }],
    [
      'a stopped app: a skipped run, listed, no container',
      { app: { ...app, status: 'stopped' } },
      { action: 'skip', reason: 'app stopped', record: true },
    ],
    [
      'a stopped app with overlap allow: skipped too',
      { app: { ...app, status: 'stopped' }, schedule: { ...schedule, overlap: 'allow' } },
      { action: 'skip', reason: 'app stopped', record: true },
    ],
    ['a crashed app still runs (its release is there)', { app: { ...app, status: 'crashed' } }, run],
  ];
  for (const [what, input, expected] of cases) {
    it(what, () => expect(planTick({ ...base, ...input })).to.deep.equal(expected));
  }
});

describe('tickTime', () => {
  it('reads the tick from a job scheduler’s job id, the same for its retry', () => {
    expect(tickTime({ id: 'repeat:schedule-blog-s1:1796231710000', timestamp: 5 })).to.equal(1796231710000);
  });
  it('falls back to the creation time', () => expect(tickTime({ id: 'other', timestamp: 5 })).to.equal(5));
});

describe("skipped runs in a schedule's run list", () => {
  it('an entry is the tick time and reason, told apart from run job ids', () => {
    const entry = skippedRunEntry(1_700_000_000_000, 'app stopped');
    expect(entry).to.equal('skipped:1700000000000:app stopped');
    expect(parseSkippedRun(entry)).to.deep.equal({ tickMs: 1_700_000_000_000, reason: 'app stopped' });
    expect(parseSkippedRun('sched-blog-s1-60000')).to.equal(undefined);
    expect(parseSkippedRun('run-blog-abc')).to.equal(undefined);
  });
});
