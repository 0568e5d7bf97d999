import { expect } from 'chai';
import { runRows, scheduleRows } from '../../src/client/schedule-commands.ts';

describe('gasper schedules (text)', () => {
  it('lists schedules with their next run and command last', () => {
    expect(
      scheduleRows([
        {
          id: '4b1c9a2e7f10',
          schedule: '0 3 * * *',
          timezone: 'Europe/Paris',
          overlap: 'skip',
          nextRunAt: '2026-12-04T02:00:00.000Z',
          command: 'npm run report',
        },
      ]).split('\n'),
    ).to.deep.equal([
      'ID            SCHEDULE   TIMEZONE      OVERLAP  NEXT RUN              COMMAND',
      '4b1c9a2e7f10  0 3 * * *  Europe/Paris  skip     2026-12-04 02:00 UTC  npm run report',
    ]);
  });

  const runs = [
    {
      state: 'completed',
      exitCode: 0,
      durationMs: 1234,
      queuedAt: '2026-12-03T03:00:00.000Z',
      output: ['report sent'],
    },
    {
      state: 'failed',
      exitCode: 3,
      durationMs: 200,
      queuedAt: '2026-12-02T03:00:00.000Z',
      error: 'exited with 3',
      output: [],
    },
    {
      state: 'skipped',
      exitCode: null,
      durationMs: null,
      queuedAt: '2026-12-01T03:00:00.000Z',
      reason: 'the app is stopped',
      output: [],
    },
    {
      state: 'failed',
      exitCode: null,
      durationMs: 3600000,
      queuedAt: '2026-11-30T03:00:00.000Z',
      timedOut: true,
      output: [],
    },
  ];
  it('lists runs: how each ended, a skipped tick with its reason, a run killed at the limit', () => {
    expect(runRows(runs).split('\n')).to.deep.equal([
      'QUEUED                STATE      EXIT  TOOK        NOTE',
      '2026-12-03 03:00 UTC  completed  0     1.2 s',
      '2026-12-02 03:00 UTC  failed     3     0.2 s       exited with 3',
      '2026-12-01 03:00 UTC  skipped    -     -           the app is stopped',
      '2026-11-30 03:00 UTC  failed     -     60 min 0 s  killed at the time limit',
    ]);
  });

  it('adds the runs that printed something, with --output', () => {
    expect(runRows(runs, true)).to.match(/\n\n--- 2026-12-03 03:00 UTC \(completed\)\nreport sent$/);
  });
});
