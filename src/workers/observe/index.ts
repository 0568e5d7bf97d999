import type { Job, Worker } from 'bullmq';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { DockerScope } from '../../core/installation.ts';
import type { Logger } from '../../core/log.ts';
import { deployAppJob } from '../../jobs/schemas.ts';
import { AppLogStore } from '../../store/app-logs.ts';
import { AppMetricsStore } from '../../store/app-metrics.ts';
import { DeployDurations, type DeployOutcome } from '../../store/deploy-durations.ts';
import { startLogCollector } from './log-collector.ts';
import { startMetricsSampler } from './metrics-sampler.ts';

/** What a node worker observes, and how often. Defaults in parentheses. */
export interface WorkerObservabilityOptions {
  /** Container output lines kept per app (10 000). */
  logLines?: number;
  /** Bytes of container output kept per app (8 MiB), and the longest line (8 KiB): store/app-logs.ts. */
  logMaxBytes?: number;
  logLineMaxBytes?: number;
  /** Pause between resource samples (5 s) and samples kept per instance (60). */
  metricsIntervalMs?: number;
  metricsHistory?: number;
  /** Listing of running containers behind the Docker events the log collector follows (30 s). */
  logResyncMs?: number;
}

/** Seconds a finished deploy job took: the pipeline's own figure, else BullMQ's timestamps. */
function deploySeconds(job: Job): number | undefined {
  const reported = (job.returnvalue as { durationMs?: unknown } | undefined)?.durationMs;
  if (typeof reported === 'number') return reported / 1000;
  return job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : undefined;
}

/**
 * The node worker's observability: app container output into Redis streams, resource samples
 * of each instance, and deploy durations into the cluster's histogram. None of it is on a job's
 * path: a failure here is logged and never fails a deploy.
 */
export function startWorkerObservability(
  options: WorkerObservabilityOptions & { scope: DockerScope },
  deps: { docker: Docker; redis: Redis; worker: Worker; log: Logger },
): { close(): Promise<void> } {
  const { docker, redis, log } = deps;
  const collector = startLogCollector(
    { scope: options.scope, resyncMs: options.logResyncMs },
    {
      docker,
      store: new AppLogStore(redis, {
        ...(options.logLines !== undefined ? { maxLines: options.logLines } : {}),
        ...(options.logMaxBytes !== undefined ? { maxBytes: options.logMaxBytes } : {}),
        ...(options.logLineMaxBytes !== undefined ? { maxLineBytes: options.logLineMaxBytes } : {}),
      }),
      log,
    },
  );
  const sampler = startMetricsSampler(
    { scope: options.scope, intervalMs: options.metricsIntervalMs },
    { docker, store: new AppMetricsStore(redis, options.metricsHistory), log },
  );
  const durations = new DeployDurations(redis);
  const observe = (job: Job | undefined, outcome: DeployOutcome) => {
    const seconds = job?.name === deployAppJob.name ? deploySeconds(job) : undefined;
    if (seconds === undefined) return;
    durations
      .observe(outcome, seconds)
      .catch((err) => log.warn({ err: (err as Error).message }, 'cannot record deploy duration'));
  };
  const onCompleted = (job: Job) => {
    // Only deploys that did something: a skipped or unchanged job says nothing about deploy time.
    if ((job.returnvalue as { outcome?: string } | undefined)?.outcome === 'deployed') observe(job, 'deployed');
  };
  const onFailed = (job: Job | undefined) => observe(job, 'failed');
  deps.worker.on('completed', onCompleted);
  deps.worker.on('failed', onFailed);
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        deps.worker.off('completed', onCompleted);
        deps.worker.off('failed', onFailed);
        await Promise.allSettled([collector.close(), sampler.close()]);
      })();
      return closed;
    },
  };
}
