import type { Command } from 'commander';
import { shortDate } from './domain-format.ts';
import { duration, type Json, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';
import { commandLine } from './run-command.ts';

/** `gasper schedules list`: one row per schedule. Pure: test/client/schedule-format.unit.test.ts. */
export function scheduleRows(schedules: Json[]): string {
  return table(
    ['ID', 'SCHEDULE', 'TIMEZONE', 'OVERLAP', 'NEXT RUN', 'COMMAND'],
    schedules.map((s) => [s.id, s.schedule, s.timezone, s.overlap, shortDate(s.nextRunAt), s.command]),
  );
}

/**
 * `gasper schedules runs`: the latest runs, newest first, with how each ended (a skipped tick's
 * reason, a failure's error); `output` adds each run's last lines. Pure.
 */
export function runRows(runs: Json[], output = false): string {
  const rows = table(
    ['QUEUED', 'STATE', 'EXIT', 'TOOK', 'NOTE'],
    runs.map((r) => [
      shortDate(r.queuedAt),
      r.state,
      r.exitCode === null || r.exitCode === undefined ? '-' : String(r.exitCode),
      duration(r.durationMs) || '-',
      r.reason ?? r.error ?? (r.timedOut ? 'killed at the time limit' : ''),
    ]),
  );
  if (!output) return rows;
  const tails = runs
    .filter((r) => r.output?.length)
    .map((r) => [`--- ${shortDate(r.queuedAt)} (${r.state})`, ...r.output].join('\n'));
  return [rows, ...tails].join('\n\n');
}

/** `gasper schedules add|list|remove|runs`: commands run on a cron schedule in one-off containers. */
export function registerScheduleCommands(program: Command, kit: CommandKit): void {
  const schedules = program
    .command('schedules')
    .description("commands run on a schedule (cron) in a new container of the app's current release");
  const add = schedules
    .command('add')
    .description('run a command on a cron schedule')
    .argument('<app>')
    .argument('<schedule>', "cron, quoted: '*/5 * * * *' (or 6 fields, seconds first)")
    .argument('<command...>', 'after --: one word is a shell command as it is; several are quoted one by one')
    .option('--timezone <zone>', 'IANA time zone the schedule is read in (default UTC)')
    .option('--overlap <policy>', 'skip (default: a tick while the last run is still going runs nothing) or allow')
    .action(
      kit.action(async (client, app: string, schedule: string, words: string[], o: Json) => {
        const body = await client.request<{ schedule: Json }>('POST', `/apps/${enc(app)}/schedules`, {
          command: commandLine(words),
          schedule,
          ...(o.timezone ? { timezone: o.timezone } : {}),
          ...(o.overlap ? { overlap: o.overlap } : {}),
        });
        const s = body.schedule;
        kit.print(
          body,
          () =>
            `${s.id} added to ${app}: ${s.command} at ${s.schedule} (${s.timezone}); next run ${shortDate(s.nextRunAt)}`,
        );
      }),
    );
  examples(add, [
    "gasper schedules add web '0 3 * * *' -- npm run report",
    "gasper schedules add web '*/10 * * * *' --timezone Europe/Paris -- 'node jobs/sync.js'",
  ]);
  const list = schedules
    .command('list')
    .alias('ls')
    .description("an app's schedules, with the next run of each")
    .argument('<app>')
    .action(
      kit.action(async (client, app: string) => {
        const body = await client.request<{ schedules: Json[] }>('GET', `/apps/${enc(app)}/schedules`);
        kit.print(body, () =>
          body.schedules.length
            ? scheduleRows(body.schedules)
            : `${app} has no schedules (gasper schedules add ${app} '<cron>' -- <command>)`,
        );
      }),
    );
  examples(list, ['gasper schedules list web']);
  const runs = schedules
    .command('runs')
    .description("a schedule's latest runs, newest first: state, exit code, duration, why one was skipped")
    .argument('<app>')
    .argument('<id>', 'the schedule id (see gasper schedules list)')
    .option('--output', "each run's last lines of output too")
    .action(
      kit.action(async (client, app: string, id: string, o: Json) => {
        const body = await client.request<{ runs: Json[] }>('GET', `/apps/${enc(app)}/schedules/${enc(id)}/runs`);
        kit.print(body, () => (body.runs.length ? runRows(body.runs, !!o.output) : `${id} has not run yet`));
      }),
    );
  examples(runs, ['gasper schedules runs web 4b1c9a2e7f10', 'gasper schedules runs web 4b1c9a2e7f10 --output']);
  const remove = schedules
    .command('remove')
    .alias('rm')
    .description('remove a schedule: no tick after this answer')
    .argument('<app>')
    .argument('<id>')
    .action(
      kit.action(async (client, app: string, id: string) => {
        await client.request('DELETE', `/apps/${enc(app)}/schedules/${enc(id)}`);
        kit.print({ removed: id }, () => `${id} removed from ${app}`);
      }),
    );
  examples(remove, ['gasper schedules remove web 4b1c9a2e7f10']);
}
