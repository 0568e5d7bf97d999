import crypto from 'node:crypto';
import cronParser from 'cron-parser';
import { Router, type Response } from 'express';
import { z } from 'zod';
import {
  createScheduleRequest,
  removeScheduler,
  type Schedule,
  schedulesQueueName,
  upsertScheduler,
} from '../../jobs/schedule-jobs.ts';
import { runResultSchema } from '../../jobs/schemas.ts';
import { findJob } from '../../jobs/status.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { parseSkippedRun, ScheduleStore } from '../../store/schedules.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { jobRef } from '../views.ts';
import { visibleApp } from '../visible.ts';
import { schedulesPerApp } from '../../core/schedule-ids.ts';

/** `POST /apps/:name/run`. */
export const runRequest = z
  .object({
    command: z.string().trim().min(1).max(4096).describe('shell command, run with `sh -c` in a new container'),
  })
  .strict();

/** Lines of output a schedule's run list shows per run. */
const runTailLines = 20;

/**
 * One-off runs and schedules of an app (workers/apps/run-app.ts, jobs/schedule-jobs.ts). The API
 * only records and enqueues: a run is a job on the app's primary node; a schedule is a BullMQ job
 * scheduler on the cluster-wide `schedules` queue, whose ticks the workers take.
 */
export function appRunsRouter(deps: ApiDeps): Router {
  const { apps, enqueue, redis, queues } = deps;
  const schedules = new ScheduleStore(redis);
  const ticks = () => queues.byName(schedulesQueueName);
  const router = Router();

  async function load(res: Response, name: string): Promise<AppDocument> {
    const doc = await visibleApp(apps, res, name);
    if (doc.status === 'deleting') throw new ApiError('APP_BUSY', `app "${name}" is being deleted`);
    return doc;
  }

  router.post('/:name/run', async (req, res) => {
    const doc = await load(res, req.params.name);
    const parsed = runRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    if (!doc.release)
      throw new ApiError('NO_RELEASE', `app "${doc.name}" has no release to run a command in yet: deploy it first`);
    const id = `run-${doc.name}-${doc.uid}-${crypto.randomBytes(6).toString('hex')}`;
    // On the primary node: its release (directory, or Dockerfile image) is there.
    const job = await enqueue.runApp(
      doc.node,
      { app: doc.name, uid: doc.uid, command: parsed.data.command },
      doc.owner,
      id,
    );
    res.status(202).json({ job: jobRef(job.id), release: doc.release });
  });

  router.post('/:name/schedules', async (req, res) => {
    const doc = await load(res, req.params.name);
    const parsed = createScheduleRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    // Each schedule's runs take a worker slot of the node: a bound keeps one app from filling it.
    const existing = (await schedules.list(doc.name)).filter((s) => s.uid === doc.uid);
    if (existing.length >= schedulesPerApp)
      throw new ApiError(
        'SCHEDULE_LIMIT',
        `app "${doc.name}" has ${existing.length} schedules already (at most ${schedulesPerApp}): delete one first`,
      );
    const schedule: Schedule = {
      id: crypto.randomBytes(6).toString('hex'),
      app: doc.name,
      uid: doc.uid,
      command: parsed.data.command,
      schedule: parsed.data.schedule,
      ...(parsed.data.timezone ? { timezone: parsed.data.timezone } : {}),
      overlap: parsed.data.overlap,
      createdAt: new Date().toISOString(),
    };
    // Recorded before its scheduler exists: a tick always finds its schedule.
    await schedules.put(schedule);
    await upsertScheduler(ticks(), schedule);
    res.status(201).json({ schedule: scheduleView(schedule) });
  });

  router.get('/:name/schedules', async (req, res) => {
    const doc = await visibleApp(apps, res, req.params.name);
    const list = (await schedules.list(doc.name)).filter((s) => s.uid === doc.uid);
    res.json({ schedules: list.map(scheduleView) });
  });

  router.delete('/:name/schedules/:id', async (req, res) => {
    const doc = await visibleApp(apps, res, req.params.name);
    const schedule = await schedules.get(doc.name, req.params.id);
    if (!schedule) throw new ApiError('NOT_FOUND', `app "${doc.name}" has no schedule ${req.params.id}`);
    // The scheduler first: no tick comes after the answer (one already queued finds no schedule).
    await removeScheduler(ticks(), doc.name, schedule.id);
    await schedules.remove(doc.name, schedule.id);
    res.status(204).end();
  });

  router.get('/:name/schedules/:id/runs', async (req, res) => {
    const doc = await visibleApp(apps, res, req.params.name);
    const schedule = await schedules.get(doc.name, req.params.id);
    if (!schedule) throw new ApiError('NOT_FOUND', `app "${doc.name}" has no schedule ${req.params.id}`);
    const ids = await schedules.runs(doc.name, schedule.id);
    const runs = await Promise.all(ids.map((id) => runView(id)));
    res.json({ schedule: scheduleView(schedule), runs: runs.filter((r) => r !== undefined) });
  });

  /** A run job as a schedule's run list shows it; undefined once the job expired. */
  async function runView(id: string) {
    // A tick that ran nothing (the app was stopped): listed with its reason, no job.
    const skipped = parseSkippedRun(id);
    if (skipped)
      return {
        job: null,
        state: 'skipped',
        reason: skipped.reason,
        exitCode: null,
        durationMs: null,
        output: [],
        queuedAt: new Date(skipped.tickMs).toISOString(),
        startedAt: null,
        finishedAt: null,
      };
    const job = await findJob(redis, queues, id);
    if (!job) return undefined;
    const state = await job.getState();
    const result = runResultSchema.safeParse(job.returnvalue);
    const tail = result.success
      ? (result.data.tail ?? [])
      : (await queues.byName(job.queueName).getJobLogs(id, -runTailLines, -1)).logs;
    return {
      job: jobRef(id),
      state,
      exitCode: result.success ? result.data.exitCode : null,
      durationMs: result.success ? result.data.durationMs : null,
      ...(result.success && result.data.timedOut ? { timedOut: true } : {}),
      ...(job.failedReason ? { error: job.failedReason } : {}),
      output: tail,
      queuedAt: new Date(job.timestamp).toISOString(),
      startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  }

  return router;
}

/** A schedule with its next tick. */
function scheduleView(schedule: Schedule) {
  let next: string | null = null;
  try {
    next = cronParser
      .parseExpression(schedule.schedule, schedule.timezone ? { tz: schedule.timezone } : {})
      .next()
      .toISOString();
  } catch {
    // validated when created; a zone this process does not know shows no next tick
  }
  const { uid: _uid, ...rest } = schedule;
  return { ...rest, timezone: schedule.timezone ?? 'UTC', nextRunAt: next };
}

/** Removes every job scheduler of an app (its deletion); the records go with the app's keys. */
export async function removeAppSchedulers(deps: Pick<ApiDeps, 'redis' | 'queues'>, app: string): Promise<void> {
  const queue = deps.queues.byName(schedulesQueueName);
  for (const schedule of await new ScheduleStore(deps.redis).list(app)) await removeScheduler(queue, app, schedule.id);
}

const appName = { name: 'the app name' };
apiRoutes.add(
  {
    method: 'post',
    path: '/apps/:name/run',
    summary: 'Run a command once in a new container of the current release',
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    description:
      "The container has the release's image, env (linked databases' URLs included), limits and networks; not a serving " +
      "instance. The job's log is the command's output; its result `{exitCode, durationMs}`. Killed after " +
      '`GASPER_RUN_TIMEOUT_S`.',
    body: runRequest,
    responses: {
      202: { description: 'run enqueued: poll the job' },
      400: { description: 'a field is invalid' },
      404: { description: 'no such app' },
      409: { description: 'the app has no release yet' },
    },
  },
  {
    method: 'post',
    path: '/apps/:name/schedules',
    summary: 'Run a command on a cron schedule',
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    description:
      'Each tick runs the command once in the cluster, in a new container of the current release. `overlap: "skip"` ' +
      '(default) runs nothing while the previous run is queued or running.',
    body: createScheduleRequest,
    responses: {
      201: { description: 'the schedule, with its id' },
      400: { description: 'a field is invalid' },
      404: { description: 'no such app' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/schedules',
    summary: "The app's schedules, with their next tick",
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    responses: { 200: { description: 'the schedules' }, 404: { description: 'no such app' } },
  },
  {
    method: 'delete',
    path: '/apps/:name/schedules/:id',
    summary: 'Delete a schedule (a run already started finishes)',
    tags: ['apps'],
    auth: 'admin',
    params: { ...appName, id: 'the schedule id' },
    responses: { 204: { description: 'deleted' }, 404: { description: 'no such app or schedule' } },
  },
  {
    method: 'get',
    path: '/apps/:name/schedules/:id/runs',
    summary:
      "A schedule's latest runs, newest first: state, exit code, duration, output tail; a tick while the app was stopped is a run in state `skipped` with its `reason` and no job",
    tags: ['apps'],
    auth: 'admin',
    params: { ...appName, id: 'the schedule id' },
    responses: { 200: { description: 'the runs' }, 404: { description: 'no such app or schedule' } },
  },
);
