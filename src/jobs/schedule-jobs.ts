import type { Queue } from 'bullmq';
import cronParser from 'cron-parser';
import { z } from 'zod';

/**
 * Scheduled runs of an app's command. Each schedule is one BullMQ job scheduler on the one
 * cluster-wide `schedules` queue: BullMQ keeps the schedule in Redis and adds one tick job per
 * tick, whichever processes are alive, and every node's worker takes ticks from that queue
 * (workers/schedules/ticks.ts), so a tick runs once in the cluster and a dead node loses none
 * (a tick its worker took and did not finish is taken again by another once stalled). The tick
 * enqueues the run itself, a `run-app` job (schemas.ts), on the app's node.
 */
export const schedulesQueueName = 'schedules';

export const overlapPolicies = ['skip', 'allow'] as const;
export type OverlapPolicy = (typeof overlapPolicies)[number];

/** Why `pattern` is not a cron expression cron-parser accepts (5 fields, or 6 with seconds first), or undefined. */
export function cronProblem(pattern: string, timezone?: string): string | undefined {
  const fields = pattern.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) return `must have 5 fields (minute hour day month weekday), or 6 with seconds first`;
  try {
    cronParser.parseExpression(pattern, timezone ? { tz: timezone } : {});
    return undefined;
  } catch (err) {
    return `not a cron expression: ${(err as Error).message}`;
  }
}

/** Why `zone` is not an IANA time zone this process knows, or undefined. */
export function timezoneProblem(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return undefined;
  } catch {
    return 'not an IANA time zone (Europe/Paris, America/New_York, UTC)';
  }
}

/** `POST /apps/:name/schedules`. */
export const createScheduleRequest = z
  .object({
    command: z.string().trim().min(1).max(4096).describe('shell command, run with `sh -c` in a new container'),
    schedule: z.string().trim().min(1).max(200).describe('cron: `*/5 * * * *`, or 6 fields with seconds first'),
    timezone: z
      .string()
      .min(1)
      .max(64)
      .superRefine((zone, ctx) => {
        const problem = timezoneProblem(zone);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('IANA time zone the schedule is read in; default UTC'),
    overlap: z
      .enum(overlapPolicies)
      .default('skip')
      .describe('`skip` (default): a tick while the previous run is queued or running runs nothing'),
  })
  .strict()
  .superRefine((body, ctx) => {
    const problem = cronProblem(
      body.schedule,
      body.timezone && !timezoneProblem(body.timezone) ? body.timezone : undefined,
    );
    if (problem) ctx.addIssue({ code: 'custom', path: ['schedule'], message: problem });
  });
export type CreateScheduleRequest = z.infer<typeof createScheduleRequest>;

/** A schedule as stored (store/schedules.ts) and shown. */
export const scheduleSchema = z.object({
  id: z.string(),
  app: z.string(),
  /** The app's incarnation: a schedule never runs in a later app of the same name. */
  uid: z.string(),
  command: z.string(),
  schedule: z.string(),
  timezone: z.string().optional(),
  overlap: z.enum(overlapPolicies),
  createdAt: z.string(),
});
export type Schedule = z.infer<typeof scheduleSchema>;

/** The tick a job scheduler adds: which schedule (read afresh, so an edit or a deletion counts). */
export const scheduleTickJob = {
  name: 'schedule-tick',
  schema: z.object({ app: z.string(), uid: z.string(), schedule: z.string() }),
} as const;
export type ScheduleTickData = z.infer<typeof scheduleTickJob.schema>;

/** `schedule-<app>-<id>`: the job scheduler of one schedule. */
export function schedulerId(app: string, id: string): string {
  return `schedule-${app}-${id}`;
}

/** Adds (or replaces) the job scheduler of a schedule. */
export async function upsertScheduler(queue: Queue, schedule: Schedule): Promise<void> {
  await queue.upsertJobScheduler(
    schedulerId(schedule.app, schedule.id),
    { pattern: schedule.schedule, ...(schedule.timezone ? { tz: schedule.timezone } : {}) },
    {
      name: scheduleTickJob.name,
      data: scheduleTickJob.schema.parse({ app: schedule.app, uid: schedule.uid, schedule: schedule.id }),
      // Ticks are bookkeeping: the runs are jobs of their own, listed per schedule.
      opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 }, attempts: 3 },
    },
  );
}

/** Removes a schedule's job scheduler (and its next tick); one already gone is fine. */
export async function removeScheduler(queue: Queue, app: string, id: string): Promise<void> {
  await queue.removeJobScheduler(schedulerId(app, id));
}
