import crypto from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { bullPrefix, keys } from '../../core/keys.ts';
import type { Logger } from '../../core/log.ts';
import { queueName } from '../../core/naming.ts';
import { planFailover, type FailoverAction } from '../../jobs/failover-plan.ts';
import { subjectsOf } from './node-conditions.ts';
import { nodeStateAt } from '../../core/node-health.ts';
import { NodeQueues } from '../../jobs/queues.ts';
import type { NodeDocument } from '../../store/nodes.ts';
import { removeAppRecords, removeDatabaseRecords } from '../../store/record-removal.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { deleteDatabaseJob } from '../../jobs/database-jobs.ts';
import type { ApiDeps } from '../deps.ts';
import { releaseLock } from '../../store/lua.ts';

export interface JobFailoverOptions {
  /** How often the stalled jobs of a down node's queue are looked for: the node monitor's interval. */
  intervalMs: number;
  /** How long a job taken from a down node's queue stays locked while it is settled. Default 30 s. */
  lockDurationMs?: number;
  /** Silence after which a node is down (GASPER_NODE_TIMEOUT_MS), to confirm it before each job. */
  timeoutMs: number;
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

type FailoverDeps = Pick<ApiDeps, 'apps' | 'nodes' | 'redis'>;

/**
 * The records of an app or database being deleted, removed as the node's delete job does,
 * minus Docker and files: those go with the node's reconciliation when it returns.
 */
async function deleteWithoutNode(deps: FailoverDeps, databases: DatabaseStore, job: Job, node: string): Promise<void> {
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
  // Its volumes (the data) go when the node returns, because the app is recorded as deleted here.
  await deps.redis.sadd(keys.nodeDeletedApps(node), `${data.app}/${data.uid}`);
  await removeAppRecords(deps.redis, deps.apps, data.app);
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
class JobFailover implements JobFailoverHandle {
  private readonly queues: NodeQueues;
  private readonly databases: DatabaseStore;
  /** The hand-worked Worker of each down node's queue. */
  private readonly workers = new Map<string, Worker>();
  private readonly lockDurationMs: number;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: JobFailoverOptions,
    private readonly deps: FailoverDeps,
    private readonly log: Logger,
  ) {
    this.queues = new NodeQueues(deps.redis);
    this.databases = new DatabaseStore(deps.redis);
    this.lockDurationMs = options.lockDurationMs ?? 30_000;
  }

  async check(down: readonly NodeDocument[]): Promise<SettledJob[]> {
    await this.stopWatchingAllBut(new Set(down.map((n) => n.id)));
    const settled: SettledJob[] = [];
    for (const node of down) {
      try {
        settled.push(...(await this.settleAlone(node)));
      } catch (err) {
        this.log.warn({ err, node: node.id }, 'could not settle the jobs of a down node');
      }
    }
    for (const s of settled) this.log.warn(s, `job of a down node: ${s.action}`);
    return settled;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.workers.keys()].map((node) => this.stopWatching(node)));
      await this.queues.close();
    })();
    return this.closing;
  }

  /** The hand-worked Worker of a down node's queue: its stalled check starts at once. */
  private workerFor(node: string): Worker {
    let worker = this.workers.get(node);
    if (!worker) {
      worker = new Worker(queueName(node), null, {
        connection: this.deps.redis,
        prefix: bullPrefix,
        autorun: false,
        name: 'gasper-failover',
        stalledInterval: this.options.intervalMs,
        lockDuration: this.lockDurationMs,
      });
      worker.on('error', (err) => this.log.warn({ err, node }, 'failover worker error'));
      worker.on('stalled', (job) => this.log.info({ node, job }, 'job of a down node was stalled: back to wait'));
      void worker.startStalledCheckTimer();
      this.workers.set(node, worker);
    }
    return worker;
  }

  private async stopWatching(node: string): Promise<void> {
    const worker = this.workers.get(node);
    this.workers.delete(node);
    await worker?.close().catch((err: Error) => this.log.warn({ err, node }, 'failover worker close failed'));
  }

  /** Nodes back up (not in `down`) are no longer worked by hand: their own worker is back. */
  private async stopWatchingAllBut(down: ReadonlySet<string>): Promise<void> {
    for (const node of [...this.workers.keys()]) if (!down.has(node)) await this.stopWatching(node);
  }

  private async planFor(job: Job, node: NodeDocument): Promise<FailoverAction> {
    const { app, database } = await subjectsOf(this.deps, job.data);
    return planFailover({ id: job.id!, name: job.name, data: job.data }, node, app, database);
  }

  /**
   * One API process at a time settles a node's queue: two interleaving would take each other's
   * targets and put the waiting jobs back out of order. The others skip the round.
   */
  private async settleAlone(node: NodeDocument): Promise<SettledJob[]> {
    this.workerFor(node.id); // the stalled check runs in every process; it is atomic in Redis
    const lock = keys.nodeFailoverLock(node.id);
    const owner = crypto.randomUUID();
    if ((await this.deps.redis.set(lock, owner, 'PX', this.lockDurationMs, 'NX')) !== 'OK') return [];
    try {
      return await this.settle(node);
    } finally {
      await this.deps.redis.eval(releaseLock, 1, lock, owner);
    }
  }

  private async settle(node: NodeDocument): Promise<SettledJob[]> {
    await this.promoteDoomedRetries(node);
    const targets = await this.jobsToEnd(node);
    if (!targets.length) return [];
    const token = `failover-${crypto.randomUUID()}`;
    const held: Job[] = [];
    const settled: SettledJob[] = [];
    try {
      for (const target of targets) {
        // The node monitor's list may be seconds old by now: a worker that came back meanwhile
        // works its own queue, and a job ended here would be done without it (a deleted
        // database's volume left to its next reconciliation).
        if (!(await this.stillDown(node.id))) break;
        const job = await this.takeFromHead(node.id, target, token);
        if (!job) continue;
        // Planned again on what the app is now, and for the job actually taken: a stalled job or
        // another process's target may have come to the head first.
        const plan = await this.planFor(job, node);
        if (plan.action === 'wait') held.push(job);
        else
          settled.push({
            node: node.id,
            job: job.id!,
            action: plan.action,
            detail: await this.end(job, plan, node.id, token),
          });
      }
    } finally {
      await this.putBack(held, token);
    }
    return settled;
  }

  private async stillDown(node: string): Promise<boolean> {
    const now = await this.deps.nodes.get(node);
    return !now || nodeStateAt(now.heartbeatAt, Date.now(), this.options.timeoutMs) === 'down';
  }

  /** A retry waiting out its backoff is promoted when it will be ended anyway, so it is ended now. */
  private async promoteDoomedRetries(node: NodeDocument): Promise<void> {
    for (const job of await this.queues.forNode(node.id).getJobs(['delayed'])) {
      if ((await this.planFor(job, node)).action !== 'wait') await job.promote().catch(() => undefined);
    }
  }

  /** The waiting jobs the plan ends now (in queue order); the others are left to wait. */
  private async jobsToEnd(node: NodeDocument): Promise<Job[]> {
    const targets: Job[] = [];
    for (const job of await this.queues.forNode(node.id).getJobs(['wait'], 0, -1, true))
      if ((await this.planFor(job, node)).action !== 'wait') targets.push(job);
    return targets;
  }

  /**
   * Moves `target` to the head of the queue (BullMQ's changePriority with lifo) and takes the
   * head, so the jobs that wait are never touched. Undefined when it is gone meanwhile, or the
   * head was taken by another API process.
   */
  private async takeFromHead(node: string, target: Job, token: string): Promise<Job | undefined> {
    const moved = await target.changePriority({ priority: 0, lifo: true }).then(
      () => true,
      () => false,
    );
    if (!moved) return undefined;
    return (await this.workerFor(node).getNextJob(token, { block: false })) ?? undefined;
  }

  /** Ends a taken job as planned; returns what it says about it. */
  private async end(
    job: Job,
    plan: Exclude<FailoverAction, { action: 'wait' }>,
    node: string,
    token: string,
  ): Promise<string> {
    switch (plan.action) {
      case 'fail':
        await job.log(plan.reason);
        await job.moveToFailed(new UnrecoverableError(plan.reason), token, false);
        return plan.reason;
      case 'delete':
        await deleteWithoutNode(this.deps, this.databases, job, node);
        await job.log(plan.result.withoutNode);
        await job.moveToCompleted(plan.result, token, false);
        return plan.result.withoutNode;
      case 'skip':
        await job.moveToCompleted(plan.result, token, false);
        return plan.result.reason;
    }
  }

  /** Jobs taken but left to wait go back to the head of the queue, the last taken first, so their order is kept. */
  private async putBack(held: Job[], token: string): Promise<void> {
    for (const job of held.reverse())
      await job
        .moveToWait(token)
        .catch((err: Error) => this.log.warn({ err, job: job.id }, 'could not put a job back'));
  }
}

/** Starts settling down nodes' queues (see JobFailover); `close()` may be called twice. */
export function startJobFailover(options: JobFailoverOptions, deps: FailoverDeps, log: Logger): JobFailoverHandle {
  return new JobFailover(options, deps, log);
}
