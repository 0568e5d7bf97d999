import { expect } from 'chai';
import {
  appJsonScheduleId,
  cronEntryProblems,
  cronPattern,
  planCronSync,
} from '../../../src/workers/schedules/app-json-cron.ts';

describe("app-json-cron: an app's app.json schedules (pure)", () => {
  const nightly = { command: 'node scripts/report.js', schedule: '0 3 * * *' };
  const hourly = { command: 'node scripts/sweep.js', schedule: '@hourly' };

  it('the same entry keeps its id; another command or schedule is another id', () => {
    expect(appJsonScheduleId(nightly)).to.match(/^appjson-[0-9a-f]{12}$/);
    expect(appJsonScheduleId({ ...nightly })).to.equal(appJsonScheduleId(nightly));
    expect(appJsonScheduleId({ ...nightly, command: 'node other.js' })).to.not.equal(appJsonScheduleId(nightly));
    expect(appJsonScheduleId({ ...nightly, schedule: '0 4 * * *' })).to.not.equal(appJsonScheduleId(nightly));
    // A macro and its written-out form are one schedule.
    expect(appJsonScheduleId(hourly)).to.equal(appJsonScheduleId({ ...hourly, schedule: '0 * * * *' }));
  });

  const patterns: [string, string][] = [
    ['@daily', '0 0 * * *'],
    ['@midnight', '0 0 * * *'],
    ['@weekly', '0 0 * * 0'],
    [' */5 * * * * ', '*/5 * * * *'],
  ];
  for (const [given, expected] of patterns)
    it(`${JSON.stringify(given)} is read as ${expected}`, () => expect(cronPattern(given)).to.equal(expected));

  it('names each entry that is not a cron expression by its key', () => {
    expect(cronEntryProblems([nightly, hourly])).to.deep.equal([]);
    const problems = cronEntryProblems([
      nightly,
      { command: 'x', schedule: 'every day' },
      { command: 'y', schedule: '61 * * * *' },
    ]);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/^app\.json: cron\.1\.schedule "every day" must have 5 fields/);
    expect(problems[1]).to.match(/^app\.json: cron\.2\.schedule "61 \* \* \* \*" not a cron expression/);
    expect(cronEntryProblems(Array.from({ length: 21 }, () => nightly))).to.deep.equal([
      'app.json: cron has 21 entries (at most 20)',
    ]);
  });

  const rows: { name: string; entries: (typeof nightly)[]; existing: string[]; add: string[]; remove: string[] }[] = [
    { name: 'a first deploy adds every entry', entries: [nightly, hourly], existing: [], add: ['n', 'h'], remove: [] },
    {
      name: 'an unchanged app.json changes nothing (a retried deploy too)',
      entries: [nightly],
      existing: ['n'],
      add: [],
      remove: [],
    },
    { name: 'an entry gone from app.json is removed', entries: [hourly], existing: ['n', 'h'], add: [], remove: ['n'] },
    {
      name: 'no app.json any more: all its schedules go',
      entries: [],
      existing: ['n', 'h'],
      add: [],
      remove: ['n', 'h'],
    },
    {
      name: 'a schedule made through the API is never touched',
      entries: [],
      existing: ['3f9c1a2b7e00'],
      add: [],
      remove: [],
    },
  ];
  const id = (key: string) =>
    key === 'n' ? appJsonScheduleId(nightly) : key === 'h' ? appJsonScheduleId(hourly) : key;
  for (const row of rows)
    it(row.name, () => {
      const plan = planCronSync(
        row.entries,
        row.existing.map((k) => ({ id: id(k) })),
      );
      expect(plan.add.map((a) => a.id)).to.deep.equal(row.add.map(id));
      expect(plan.remove).to.deep.equal(row.remove.map(id));
    });
});
