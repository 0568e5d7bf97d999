import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullPrefix } from '../../core/keys.ts';
import type { Logger } from '../../core/log.ts';
import { connectRedis } from '../../core/redis.ts';
import { createEnqueuer } from '../../jobs/enqueue.ts';
import { NodeQueues } from '../../jobs/queues.ts';
import { removeScheduler, schedulesQueueName, scheduleTickJob } from '../../jobs/schedule-jobs.ts';
import { findJob, removeFinishedJob } from '../../jobs/status.ts';
import { AppStore } from '../../store/apps.ts';
import { parseSkippedRun, ScheduleStore } from '../../store/schedules.ts';
import { planTick } from './tick-plan.ts';

export interface ScheduleTicksHandle {
  close(): Promise<void>;
}

/**
 * Takes schedule ticks from the cluster-wide `schedules` queue (jobs/schedule-jobs.ts). Every
 * node's worker runs this, so a tick is handled as long as any node is up; BullMQ gives each tick
 * to one of them. A tick only decides (tick-plan.ts) and enqueues the run on the app's node: it
 * takes milliseconds, and the run's container is that node's business.
 */
export async function startScheduleTicks(
  options: { redisUrl: string; concurrency?: number; stalledIntervalMs?: number },
  deps: { redis: Redis; log: Logger },
): Promise<ScheduleTicksHandle> {
  const { redis } = deps;
  const log = deps.log.child({ service: 'schedule-ticks' });
  const apps = new AppStore(redis);
  const schedules = new ScheduleStore(redis);
  const queues = new NodeQueues(redis);
  const enqueue = createEnqueuer(redis, queues, 1);
  const ticks = new Queue(schedulesQueueName, { connection: redis, prefix: bullPrefix });

  /** The runs off a schedule's list go with their jobs; a removal that fails is left to the jobs' expiry. */
  const forget = async (entries: readonly string[]) => {
    for (const id of entries.filter((e) => !parseSkippedRun(e)))
      await removeFinishedJob(redis, queues, id).catch((err) => log.warn({ err, job: id }, 'cannot remove an old run'));
  };

  const handle = async (job: Job) => {
    if (job.name !== scheduleTickJob.name) throw new UnrecoverableError(`unknown schedule job ${job.name}`);
    const tick = scheduleTickJob.schema.parse(job.data);
    const [schedule, app, last] = await Promise.all([
      schedules.get(tick.app, tick.schedule),
      apps.get(tick.app),
      // The latest run job: a skipped tick's entry is none (overlap looks at what really runs).
      schedules.runs(tick.app, tick.schedule).then((r) => r.find((id) => !parseSkippedRun(id))),
    ]);
    const previous = last ? await findJob(redis, queues, last) : undefined;
    const plan = planTick({
      tick,
      tickMs: tickTime(job),
      schedule,
      app,
      previousRun: previous ? { id: last!, state: await previous.getState() } : undefined,
    });
    if (plan.action === 'drop') {
      await removeScheduler(ticks, tick.app, tick.schedule);
      if (schedule && schedule.uid === tick.uid) await schedules.remove(tick.app, tick.schedule);
      log.info({ app: tick.app, schedule: tick.schedule, reason: plan.reason }, 'schedule dropped');
      return { dropped: plan.reason };
    }
    if (plan.action === 'skip') {
      await job.log(`skipped: ${plan.reason}`);
      if (plan.record) await forget(await schedules.recordSkipped(tick.app, tick.schedule, tickTime(job), plan.reason));
      return { skipped: plan.reason };
    }
    await enqueue.runApp(
      plan.node,
      { app: tick.app, uid: tick.uid, command: schedule!.command, schedule: tick.schedule },
      app!.owner,
      plan.job,
    );
    await forget(await schedules.recordRun(tick.app, tick.schedule, tickTime(job), plan.job));
    return { run: plan.job, node: plan.node };
  };

  // BullMQ does not close a connection it was handed: this one is the worker's own.
  const connection = connectRedis(options.redisUrl);
  const worker = new Worker(schedulesQueueName, handle, {
    connection,
    prefix: bullPrefix,
    concurrency: options.concurrency ?? 4,
    ...(options.stalledIntervalMs
      ? { stalledInterval: options.stalledIntervalMs, lockDuration: Math.max(options.stalledIntervalMs, 1000) }
      : {}),
  });
  worker.on('error', (err) => log.error({ err }, 'schedule ticks worker error'));
  worker.on('failed', (job, err) => log.warn({ job: job?.id, err: err.message }, 'schedule tick failed'));
  try {
    await worker.waitUntilReady();
  } catch (err) {
    await Promise.allSettled([worker.close(), ticks.close(), queues.close()]);
    connection.disconnect();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        await Promise.allSettled([worker.close(), ticks.close(), queues.close()]);
        connection.disconnect();
      })();
      return closed;
    },
  };
}

/**
 * When a tick was due: a job scheduler's job id ends with it (`repeat:<scheduler>:<ms>`), the same
 * for a retry of the tick; its creation time otherwise.
 */
export function tickTime(job: Pick<Job, 'id' | 'timestamp'>): number {
  const match = /:(\d+)$/.exec(job.id ?? '');
  return match ? Number(match[1]) : job.timestamp;
}
