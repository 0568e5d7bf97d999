import { UnrecoverableError, type Job } from 'bullmq';
import { ensureImage } from '../../docker/containers.ts';
import type { RunAppData, RunResult } from '../../jobs/schemas.ts';
import type { WorkerContext } from '../context.ts';
import { endNote, runOneOff } from './one-off.ts';
import { checkReleaseImage, planForRelease } from './release-plan.ts';

/** The time limit of one-off containers on this worker (GASPER_RUN_TIMEOUT_S, default 1 h). */
export const runTimeoutMs = (ctx: WorkerContext) => ctx.options.runTimeoutMs ?? 3600_000;

/**
 * Lines of a run's output written to its job log; past them only a count is. The log lives in
 * Redis as long as the job (a day), and a chatty command must not fill it. Its bytes are bounded
 * too, before the lines reach this log: runOneOff hands on at most `runOutputBytes` (256 KiB).
 */
export const runLogLines = 5000;

/** Writes a run's output into its job log, bounded: at most `limit` lines, then one line saying how many more came. */
export class BoundedJobLog {
  private written = 0;
  private dropped = 0;

  constructor(
    private readonly job: Pick<Job, 'log'>,
    private readonly limit = runLogLines,
  ) {}

  async line(text: string): Promise<void> {
    if (this.written >= this.limit) {
      this.dropped++;
      return;
    }
    this.written++;
    await this.job.log(text);
  }

  /** Says how many lines were left out, if any. */
  async close(): Promise<void> {
    if (this.dropped)
      await this.job.log(`[gasper] ${this.dropped} more line(s) of output not kept (limit ${this.limit})`);
  }
}

/**
 * Runs a one-off command in a new container of the app's current release on this node
 * (one-off.ts) and returns its exit code: a command that fails is a completed job with a non-zero
 * `exitCode`, not a failed job. The job fails only when the command cannot run (no release, the
 * app deleted, Docker trouble). Not retried: a command is not run twice because the first failed;
 * a job whose worker died is run again by BullMQ (its container removed first).
 */
export async function runApp(ctx: WorkerContext, job: Job, data: RunAppData): Promise<RunResult> {
  const doc = await ctx.apps.get(data.app);
  if (!doc || doc.uid !== data.uid || doc.status === 'deleting')
    throw new UnrecoverableError(`app ${data.app} is deleted or being deleted`);
  // Enqueued on the primary node (its release is there); the app moved since (a failover, a drain).
  if (doc.node !== ctx.options.nodeId)
    throw new UnrecoverableError(
      `app ${data.app} now runs on node ${doc.node}, not this node (${ctx.options.nodeId}): run the command again to run it there`,
    );
  if (!doc.release) throw new UnrecoverableError(`app ${data.app} has no release to run the command in yet`);
  const plan = await planForRelease(ctx, doc, doc.release, await ctx.records.get(doc.name, doc.release));
  await checkReleaseImage(ctx, plan).catch((err: Error) => {
    throw new UnrecoverableError(err.message);
  });
  if (!plan.fromImage) await ensureImage(ctx.docker, plan.image);
  const log = new BoundedJobLog(job);
  const timeoutMs = runTimeoutMs(ctx);
  const result = await runOneOff(ctx, {
    key: job.id!,
    plan,
    command: data.command,
    timeoutMs,
    onLine: (line) => log.line(line),
  });
  await log.close();
  const note = endNote(result, timeoutMs, plan.resources.memoryMb);
  if (note) await job.log(`[gasper] ${note}`);
  return {
    exitCode: result.exitCode,
    durationMs: result.durationMs,
    release: doc.release,
    ...(result.timedOut ? { timedOut: true } : {}),
    tail: result.tail,
  };
}
