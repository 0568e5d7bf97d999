import type { Schedule } from '../../jobs/schedule-jobs.ts';

/** States of a run job that is not over: queued (waiting, delayed…) or running. */
const unfinished = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/** What a schedule's tick does. */
export type TickPlan =
  | { action: 'run'; node: string; job: string }
  /** `record`: listed among the schedule's runs as skipped (store/schedules.ts), not only in the tick's log. */
  | { action: 'skip'; reason: string; record?: true }
  /** The schedule or its app is gone: its job scheduler goes too (ticks of nothing stop). */
  | { action: 'drop'; reason: string };

export interface TickInput {
  /** The tick's data: which app incarnation and schedule. */
  tick: { app: string; uid: string; schedule: string };
  /** When the tick was due, ms: names its run job, so a retried tick enqueues the same job. */
  tickMs: number;
  schedule: Schedule | undefined;
  app: { uid: string; status: string; release?: string | undefined; node: string } | undefined;
  /** State of the schedule's latest run job (BullMQ's words), if there is one. */
  previousRun?: { id: string; state: string } | undefined;
}

/**
 * Decides a tick. Pure: tested in test/workers/schedules/tick-plan.unit.test.ts. The run goes to
 * the app's primary node, where its release is (release directory, Dockerfile image); with
 * overlap `skip`, a tick while the previous run is still queued or running runs nothing (so a run
 * that waits for a down node does not pile up copies behind it). A stopped app's tick is a
 * skipped run.
 */
export function planTick(input: TickInput): TickPlan {
  const { tick, schedule, app } = input;
  if (!app || app.uid !== tick.uid || app.status === 'deleting') return { action: 'drop', reason: 'app is gone' };
  if (!schedule || schedule.uid !== tick.uid) return { action: 'drop', reason: 'schedule was deleted' };
  // A stopped app runs nothing, its schedules neither: each tick is a run listed as skipped, so
  // the schedule's runs show why nothing ran. `start` brings its ticks back.
  if (app.status === 'stopped') return { action: 'skip', reason: 'app stopped', record: true };
  if (!app.release) return { action: 'skip', reason: 'app has no release yet' };
  const previous = input.previousRun;
  if (schedule.overlap === 'skip' && previous && unfinished.has(previous.state))
    return { action: 'skip', reason: `previous run ${previous.id} is still ${previous.state}` };
  return { action: 'run', node: app.node, job: scheduledRunJobId(tick.app, tick.schedule, input.tickMs) };
}

/** `sched-<app>-<schedule>-<tick ms>`. */
export function scheduledRunJobId(app: string, schedule: string, tickMs: number): string {
  return `sched-${app}-${schedule}-${tickMs}`;
}
