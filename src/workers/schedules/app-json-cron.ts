import crypto from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullPrefix } from '../../core/keys.ts';
import {
  cronProblem,
  removeScheduler,
  type Schedule,
  schedulesQueueName,
  upsertScheduler,
} from '../../jobs/schedule-jobs.ts';
import { ScheduleStore } from '../../store/schedules.ts';
import { appJsonSchedulePrefix, schedulesPerApp } from '../../core/schedule-ids.ts';

/**
 * The schedules an app's `app.json` declares (`cron: [{command, schedule}]`, Dokku's key), kept
 * beside those made with `POST /apps/:name/schedules`: each release that deploys makes the app's
 * app.json schedules what its app.json says, adding, keeping and removing only its own (their id
 * starts with `appjson-`), so a schedule made through the API is never touched by a deploy.
 */
export interface CronEntry {
  command: string;
  schedule: string;
}

const prefix = appJsonSchedulePrefix;

/** cron-parser reads five or six fields: the common macros are written out (pure). */
const macros: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
export const cronPattern = (schedule: string) => macros[schedule.trim()] ?? schedule.trim();

/** The id of an app.json schedule: the same entry keeps its id (and its runs) across releases (pure). */
export function appJsonScheduleId(entry: CronEntry): string {
  const hash = crypto.createHash('sha256').update(`${cronPattern(entry.schedule)}\0${entry.command}`);
  return `${prefix}${hash.digest('hex').slice(0, 12)}`;
}

/** The entries that are not cron expressions, each named by its key in app.json (pure). */
export function cronEntryProblems(entries: readonly CronEntry[]): string[] {
  if (entries.length > schedulesPerApp)
    return [`app.json: cron has ${entries.length} entries (at most ${schedulesPerApp})`];
  return entries.flatMap((entry, i) => {
    const problem = cronProblem(cronPattern(entry.schedule));
    return problem ? [`app.json: cron.${i}.schedule ${JSON.stringify(entry.schedule)} ${problem}`] : [];
  });
}

/** What to add and remove so that the app's app.json schedules are `entries` (pure). */
export function planCronSync(
  entries: readonly CronEntry[],
  existing: readonly Pick<Schedule, 'id'>[],
): { add: (CronEntry & { id: string })[]; remove: string[] } {
  const wanted = new Map(entries.map((e) => [appJsonScheduleId(e), e]));
  const have = new Set(existing.map((s) => s.id).filter((id) => id.startsWith(prefix)));
  return {
    add: [...wanted].filter(([id]) => !have.has(id)).map(([id, e]) => ({ id, ...e })),
    remove: [...have].filter((id) => !wanted.has(id)),
  };
}

/**
 * Makes the app's app.json schedules `entries`; returns what the job log says. Safe to repeat (a
 * retried deploy): an entry already there is kept, with its runs.
 */
export async function syncAppJsonCron(
  redis: Redis,
  app: { name: string; uid: string },
  entries: readonly CronEntry[],
): Promise<string[]> {
  const store = new ScheduleStore(redis);
  const existing = (await store.list(app.name)).filter((s) => s.uid === app.uid);
  const plan = planCronSync(entries, existing);
  if (!plan.add.length && !plan.remove.length) return [];
  const queue = new Queue(schedulesQueueName, { connection: redis, prefix: bullPrefix });
  try {
    for (const id of plan.remove) {
      await removeScheduler(queue, app.name, id);
      await store.remove(app.name, id);
    }
    for (const entry of plan.add) {
      const schedule: Schedule = {
        id: entry.id,
        app: app.name,
        uid: app.uid,
        command: entry.command,
        schedule: cronPattern(entry.schedule),
        overlap: 'skip',
        createdAt: new Date().toISOString(),
      };
      // Recorded before its scheduler exists, as the API does: a tick always finds its schedule.
      await store.put(schedule);
      await upsertScheduler(queue, schedule);
    }
  } finally {
    await queue.close();
  }
  return [
    ...plan.add.map((e) => `app.json: schedule ${e.id} added: ${cronPattern(e.schedule)} ${e.command}`),
    ...plan.remove.map((id) => `app.json: schedule ${id} removed (no longer in app.json)`),
  ];
}
