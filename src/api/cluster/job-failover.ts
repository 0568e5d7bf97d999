import crypto from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { bullPrefix, keys } from '../../core/keys.ts';
import type { Logger } from '../../core/log.ts';
import { queueName } from '../../core/naming.ts';
import { planFailover, type FailoverAction } from '../../jobs/failover-plan.ts';
import { subjectsOf } from './node-conditions.ts';
import { NodeQueues } from '../../jobs/queues.ts';
import type { NodeDocument } from '../../store/nodes.ts';
import { removeAppRecords, removeDatabaseRecords } from '../../store/record-removal.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { deleteDatabaseJob } from '../../jobs/database-jobs.ts';
import type { ApiDeps } from '../deps.ts';

const releaseLock = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface JobFailoverOptions {
  /** How often the stalled jobs of a down node's queue are looked for: the node monitor's interval. */
  intervalMs: number;
  /** How long a job taken from a down node's queue stays locked while it is settled. Default 30 s. */
  lockDurationMs?: number;
}

/** One job ended (or put back) because its node is down. */
export interface SettledJob {
  node: string;
  job: string;
  action: FailoverAction['action'];
  detail: string;
}

export interface JobFailoverHandle {
  /** Settles the queues of the nodes that are down now; stops watching those that came back. */
  check(down: readonly NodeDocument[]): Promise<SettledJob[]>;
  close(): Promise<void>;
}

/**
 * Ends the jobs of a dead node's queue that can never do anything useful (their app was moved or
 * is gone), finishes deletions without the node, and leaves the rest (database jobs, apps that
 * found no other node) to wait for it. Nobody works a dead node's queue, so BullMQ's own
 * stalled-job check never runs there either: while a node is down, the API works its queue by
 * hand, as BullMQ documents for manual processing (docs.bullmq.io/patterns/manually-fetching-jobs):
 * a Worker without a processor runs the stalled check (an active job whose lock expired goes back
 * to wait), takes jobs with `getNextJob` and ends them with `moveToFailed`/`moveToCompleted` under
 * its own lock token. BullMQ finishes only active jobs and `getNextJob` takes the head of the
 * queue, so each job to end is first moved to the head (`changePriority` with `lifo`); the jobs
 * that wait stay as they are (not started, in their order).
 * Several API processes may run this at once: a lock lets one settle a node's queue at a time,
 * and each step is atomic in Redis, so a job is taken by one of them only.
 */
export function startJobFailover(
  options: JobFailoverOptions,
  deps: Pick<ApiDeps, 'apps' | 'redis'>,
  log: Logger,
): JobFailoverHandle {
  const queues = new NodeQueues(deps.redis);
  const databases = new DatabaseStore(deps.redis);
  const workers = new Map<string, Worker>();

  /** The hand-worked Worker of a down node's queue: its stalled check starts at once. */
  function workerFor(node: string): Worker {
    let worker = workers.get(node);
    if (!worker) {
      worker = new Worker(queueName(node), null, {
        connection: deps.redis,
        prefix: bullPrefix,
        autorun: false,
        name: 'gasper-failover',
        stalledInterval: options.intervalMs,
        lockDuration: options.lockDurationMs ?? 30_000,
      });
      worker.on('error', (err) => log.warn({ err, node }, 'failover worker error'));
      worker.on('stalled', (job) => log.info({ node, job }, 'job of a down node was stalled: back to wait'));
      void worker.startStalledCheckTimer();
      workers.set(node, worker);
    }
    return worker;
  }

  const planFor = async (job: Job, node: NodeDocument) => {
    const { app, database } = await subjectsOf(deps, job.data);
    return planFailover({ id: job.id!, name: job.name, data: job.data }, node, app, database);
  };

  /**
   * The records of an app or database being deleted, removed as the node's delete job does,
   * minus Docker and files: those go with the node's reconciliation when it returns.
   */
  async function deleteWithoutNode(job: Job, node: string): Promise<void> {
    const data = job.data as { app?: string; database?: string; uid: string };
    if (job.name === deleteDatabaseJob.name && data.database) {
      const doc = await databases.get(data.database);
      if (doc && (doc.uid !== data.uid || doc.status !== 'deleting')) return;
      // The node removes the data when it returns, because it is recorded as deleted here.
      await deps.redis.sadd(keys.nodeDeletedDatabases(node), `${data.database}/${data.uid}`);
      await removeDatabaseRecords(deps.redis, databases, data.database);
      return;
    }
    const doc = data.app ? await deps.apps.get(data.app) : undefined;
    if (!data.app || (doc && (doc.uid !== data.uid || doc.status !== 'deleting'))) return;
    await removeAppRecords(deps.redis, deps.apps, data.app);
  }

  /**
   * One API process at a time settles a node's queue: two interleaving would take each other's
   * targets and put the waiting jobs back out of order. The others skip the round.
   */
  async function settleAlone(node: NodeDocument): Promise<SettledJob[]> {
    workerFor(node.id); // the stalled check runs in every process; it is atomic in Redis
    const lock = keys.nodeFailoverLock(node.id);
    const owner = crypto.randomUUID();
    if ((await deps.redis.set(lock, owner, 'PX', options.lockDurationMs ?? 30_000, 'NX')) !== 'OK') return [];
    try {
      return await settle(node);
    } finally {
      await deps.redis.eval(releaseLock, 1, lock, owner);
    }
  }

  async function settle(node: NodeDocument): Promise<SettledJob[]> {
    const worker = workerFor(node.id);
    const queue = queues.forNode(node.id);
    // A retry waiting out its backoff is promoted when it will be ended anyway, so it is ended now.
    for (const job of await queue.getJobs(['delayed'])) {
      if ((await planFor(job, node)).action !== 'wait') await job.promote().catch(() => undefined);
    }
    const targets: Job[] = [];
    for (const job of await queue.getJobs(['wait'], 0, -1, true))
      if ((await planFor(job, node)).action !== 'wait') targets.push(job);
    if (!targets.length) return [];

    const token = `failover-${crypto.randomUUID()}`;
    const held: Job[] = [];
    const settled: SettledJob[] = [];
    try {
      for (const target of targets) {
        // To the head of the queue (BullMQ's changePriority with lifo), so getNextJob takes this
        // job and no other: the jobs that wait are never touched. Gone meanwhile: nothing to do.
        if (
          !(await target.changePriority({ priority: 0, lifo: true }).then(
            () => true,
            () => false,
          ))
        )
          continue;
        const job = await worker.getNextJob(token, { block: false });
        if (!job) continue; // taken meanwhile by another API process
        // Planned again on what the app is now, and for the job actually taken: a stalled job or
        // another process's target may have come to the head first.
        const plan = await planFor(job, node);
        const record = (detail: string) => settled.push({ node: node.id, job: job.id!, action: plan.action, detail });
        switch (plan.action) {
          case 'wait':
            held.push(job);
            break;
          case 'fail':
            await job.log(plan.reason);
            await job.moveToFailed(new UnrecoverableError(plan.reason), token, false);
            record(plan.reason);
            break;
          case 'delete': {
            await deleteWithoutNode(job, node.id);
            await job.log(plan.result.withoutNode);
            await job.moveToCompleted(plan.result, token, false);
            record(plan.result.withoutNode);
            break;
          }
          case 'skip':
            await job.moveToCompleted(plan.result, token, false);
            record(plan.result.reason);
            break;
        }
      }
    } finally {
      // Back to the head of the queue, the last taken first, so their order is kept.
      for (const job of held.reverse())
        await job.moveToWait(token).catch((err: Error) => log.warn({ err, job: job.id }, 'could not put a job back'));
    }
    return settled;
  }

  async function stopWatching(node: string): Promise<void> {
    const worker = workers.get(node);
    workers.delete(node);
    await worker?.close().catch((err: Error) => log.warn({ err, node }, 'failover worker close failed'));
  }

  let closing: Promise<void> | undefined;
  return {
    async check(down) {
      const ids = new Set(down.map((n) => n.id));
      for (const node of [...workers.keys()]) if (!ids.has(node)) await stopWatching(node);
      const settled: SettledJob[] = [];
      for (const node of down) {
        try {
          settled.push(...(await settleAlone(node)));
        } catch (err) {
          log.warn({ err, node: node.id }, 'could not settle the jobs of a down node');
        }
      }
      for (const s of settled) log.warn(s, `job of a down node: ${s.action}`);
      return settled;
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...workers.keys()].map(stopWatching));
        await queues.close();
      })();
      return closing;
    },
  };
}
