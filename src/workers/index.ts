import { DelayedError, Worker, type Job } from 'bullmq';
import type Docker from 'dockerode';
import { dockerFromHost } from '../docker/connection.ts';
import { ensureInstallation, scopeFilter, type DockerScope } from '../core/installation.ts';
import type { Logger } from '../core/log.ts';
import { bullPrefix, keys } from '../core/keys.ts';
import { queueName } from '../core/naming.ts';
import { connectRedis } from '../core/redis.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { nodeJobId } from '../jobs/enqueue.ts';
import { appVolumeJob, deleteAppJob, deployAppJob, operateAppJob, runAppJob } from '../jobs/schemas.ts';
import { runVolumeJob } from './apps/volume-jobs.ts';
import { AppStore } from '../store/apps.ts';
import { NodeStore } from '../store/nodes.ts';
import { ReleaseStore } from '../store/release-records.ts';
import type { NodeWorkerOptions, WorkerContext } from './context.ts';
import { startAppFirewall, redisTargets, type FirewallHandle } from './node/app-firewall.ts';
import { deleteApp } from './apps/delete-app.ts';
import { deployApp } from './apps/deploy-app.ts';
import { startHeartbeat } from './node/heartbeat.ts';
import { dockerAllocations, measureNode } from './node/usage.ts';
import { startReconciler } from './node/reconcile.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { OwnerSlots } from './apps/owner-slots.ts';
import { startWorkerObservability, type WorkerObservabilityOptions } from './observe/index.ts';
import { ReleaseDirs } from './apps/releases.ts';
import { DatabaseStore } from '../store/databases.ts';
import { databaseJobNames } from '../jobs/database-jobs.ts';
import {
  defaultDatabaseWorkerOptions,
  type DatabaseWorkerContext,
  type DatabaseWorkerOptions,
} from './databases/context.ts';
import { startDatabaseMonitor } from './databases/monitor.ts';
import { runDatabaseJob } from './databases/jobs.ts';
import { operateApp } from './apps/operate-app.ts';
import { runApp } from './apps/run-app.ts';
import { startSupervisor } from './apps/supervisor.ts';
import { startDiskWatchdog } from './node/disk-watchdog.ts';
import { startDiskUseMeter } from './node/disk-use.ts';
import { startScheduleTicks } from './schedules/ticks.ts';

export interface WorkerServiceOptions extends NodeWorkerOptions {
  redisUrl: string;
  stateDir: string;
  dockerHost: string | undefined;
  concurrency: number;
  /** App jobs of one owner run at once on this node (owner-slots.ts). Default 2. */
  jobsPerOwner?: number;
  heartbeatMs: number;
  /** Docker endpoint advertised in the node document for other nodes' SSH services; unset: none. */
  advertisedDockerHost?: string;
  observability?: WorkerObservabilityOptions;
  /** Containers reconciled against the app documents at start and this often (reconcile.ts). Default 60 s. */
  reconcileIntervalMs?: number;
  /** How often BullMQ checks for jobs whose worker died, to run them again. Default 30 s. */
  stalledIntervalMs?: number;
  /** How long an owner's job lease lives unrenewed (a dead worker's slot frees after it). Default 30 s. */
  ownerLeaseMs?: number;
  /** How long a job of an owner at the limit waits before it is looked at again. Default 1 s. */
  ownerRetryMs?: number;
  /**
   * Keep containers from opening connections to this host's services (app-firewall.ts); the
   * worker does not start when it cannot. Default off here; `GASPER_APP_FIREWALL` (on) for the CLI.
   */
  appFirewall?: boolean;
  /** TCP ports of this host containers may still open when the firewall is on (the proxy's). */
  firewallAllowPorts?: number[];
  /** Addresses and CIDRs elsewhere containers may not open connections to (GASPER_APP_FIREWALL_DENY). */
  firewallDeny?: string[];
  /** Database engines: images, readiness timeout, backup limits, monitor period (see database-context.ts). */
  databases?: Partial<
    Omit<DatabaseWorkerOptions, 'installation' | 'nodeId' | 'nodeAddress' | 'imagePrefix' | 'networkPool'>
  >;
}

export interface WorkerHandle {
  close(): Promise<void>;
}

/**
 * The node worker: pulls this node's jobs from its queue and runs them against its Docker
 * daemon. Jobs of one app run one at a time; jobs of different apps run concurrently.
 */
export async function startWorker(
  options: WorkerServiceOptions,
  deps: { log: Logger; secrets: SecretBox; docker?: Docker },
): Promise<WorkerHandle> {
  const log = deps.log.child({ service: 'worker', node: options.nodeId });
  const docker = deps.docker ?? dockerFromHost(options.dockerHost);
  await docker.ping().catch((err: Error) => {
    throw new Error(
      `cannot reach the Docker daemon (DOCKER_HOST=${options.dockerHost ?? 'default socket'}): ${err.message}`,
    );
  });
  const redis = connectRedis(options.redisUrl);
  const scope: DockerScope = { installation: await ensureInstallation(redis), node: options.nodeId };
  log.info({ installation: scope.installation }, 'installation');
  let firewall: FirewallHandle | undefined;
  if (options.appFirewall) {
    try {
      firewall = await startAppFirewall(
        {
          installation: scope.installation,
          node: options.nodeId,
          dockerHost: options.dockerHost,
          allowPorts: options.firewallAllowPorts ?? [],
          blocked: await redisTargets(options.redisUrl),
          denied: options.firewallDeny ?? [],
        },
        log,
      );
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }
  const ctx: WorkerContext = {
    docker,
    redis,
    apps: new AppStore(redis),
    releases: new ReleaseDirs(options.stateDir),
    records: new ReleaseStore(redis),
    secrets: deps.secrets,
    log,
    options,
    scope,
    killedBuilds: new Map(),
    runs: new Set(),
  };
  const dbCtx: DatabaseWorkerContext = {
    docker,
    redis,
    databases: new DatabaseStore(redis),
    secrets: deps.secrets,
    log,
    options: {
      ...defaultDatabaseWorkerOptions,
      ...options.databases,
      installation: scope.installation,
      nodeId: options.nodeId,
      nodeAddress: options.nodeAddress,
      imagePrefix: options.imagePrefix,
      networkPool: options.networkPool,
    },
  };
  /**
   * What has started so far, closed in reverse when a later step of the start fails, so a worker
   * that cannot start leaves no timers or connections behind. The firewall's rules stay, as when
   * a worker stops with apps running: the next start sets them up again.
   */
  const started: (() => unknown)[] = [() => redis.disconnect()];
  const undo = async (err: unknown): Promise<never> => {
    for (const close of started.reverse())
      await Promise.resolve()
        .then(close)
        .catch(() => {});
    throw err;
  };
  const perApp = new KeyedMutex();
  const supervisor = startSupervisor(ctx, perApp);
  const diskWatchdog = startDiskWatchdog(ctx, perApp, supervisor);
  started.push(
    () => supervisor.close(),
    () => diskWatchdog.close(),
  );
  const ownerSlots = new OwnerSlots(redis, options.nodeId, options.jobsPerOwner ?? 2, options.ownerLeaseMs ?? 30_000);
  /**
   * An app job runs once its owner has a free slot on this node. Otherwise it goes back to the
   * queue, delayed (not counted as an attempt), and the worker slot goes to the next job, which
   * may be another owner's.
   */
  const appJob = async (job: Job, token: string | undefined, app: string | undefined, run: () => Promise<unknown>) => {
    // Only an app's primary job counts. Its parts on the other nodes (`<id>-on-<node>`) wait for
    // the primary, which already holds its owner's slot: counting them too could make two
    // spread apps of one owner wait for each other across nodes until their rollouts time out.
    const part = job.id!.endsWith(nodeJobId('', options.nodeId));
    const owner = part ? null : await redis.get(keys.jobOwner(job.id!));
    const lease = owner ? await ownerSlots.acquire(owner, job.id!) : undefined;
    if (owner && !lease) {
      await job.moveToDelayed(Date.now() + (options.ownerRetryMs ?? 1000) + Math.floor(Math.random() * 250), token);
      throw new DelayedError(
        `owner ${owner} already runs ${options.jobsPerOwner ?? 2} job(s) on node ${options.nodeId}`,
      );
    }
    try {
      // `app` undefined: not under the app's lock (a run), only its owner's slot.
      return await (app === undefined ? run() : perApp.run(app, run));
    } finally {
      await lease?.release();
    }
  };
  const processor = async (job: Job, token?: string) => {
    switch (job.name) {
      case deployAppJob.name: {
        const data = deployAppJob.schema.parse(job.data);
        return appJob(job, token, data.app, () => deployApp(ctx, job, data));
      }
      case deleteAppJob.name: {
        const data = deleteAppJob.schema.parse(job.data);
        return appJob(job, token, data.app, () => deleteApp(ctx, job, data));
      }
      case operateAppJob.name: {
        const data = operateAppJob.schema.parse(job.data);
        return appJob(job, token, data.app, () => operateApp(ctx, job, data, supervisor));
      }
      case appVolumeJob.name: {
        const data = appVolumeJob.schema.parse(job.data);
        const limits = { maxBytes: dbCtx.options.backupMaxBytes, kept: dbCtx.options.backupsKept };
        return appJob(job, token, data.app, () => runVolumeJob(ctx, job, data, limits));
      }
      case runAppJob.name: {
        // Not under the app's lock: a run (minutes, maybe) must not hold up its app's deploys,
        // and it runs in a container of its own, which no deploy touches. It does hold one of its
        // owner's slots (one-off and scheduled runs alike), as every other app job does: runs
        // started in a loop must not take the node's worker slots from other owners.
        const data = runAppJob.schema.parse(job.data);
        return appJob(job, token, undefined, () => runApp(ctx, job, data));
      }
      default:
        // Jobs of one database run one at a time, apart from the apps' (keys `db:<name>`).
        if (databaseJobNames.has(job.name))
          return perApp.run(`db:${String(job.data?.database)}`, () => runDatabaseJob(dbCtx, job));
        throw new Error(`unknown job type ${job.name}`);
    }
  };
  // BullMQ does not close a connection it was handed, so the worker's own is kept to close it.
  const workerConnection = connectRedis(options.redisUrl);
  const worker = new Worker(queueName(options.nodeId), processor, {
    connection: workerConnection,
    prefix: bullPrefix,
    concurrency: options.concurrency,
    autorun: false,
    // A job whose worker died (SIGKILL, lost node) is taken again after at most two checks.
    // The lock a live worker renews (every half of it) lasts as long as one check period.
    ...(options.stalledIntervalMs
      ? { stalledInterval: options.stalledIntervalMs, lockDuration: Math.max(options.stalledIntervalMs, 1000) }
      : {}),
  });
  worker.on('failed', (job, err) => log.warn({ job: job?.id, err: err.message }, 'job failed'));
  worker.on('completed', (job) => log.info({ job: job.id, result: job.returnvalue }, 'job completed'));
  worker.on('error', (err) => log.error({ err }, 'worker error'));
  started.push(
    () => workerConnection.disconnect(),
    () => worker.close(),
  );
  const reconciler = await startReconciler(ctx, options.reconcileIntervalMs ?? 60_000).catch(undo);
  started.push(() => reconciler.close());
  log.info({ removed: reconciler.first.removed.length, kept: reconciler.first.kept }, 'reconciled containers at start');
  const diskUse = startDiskUseMeter({
    docker,
    releases: ctx.releases,
    scope,
    intervalMs: options.lifecycle.disk.useIntervalMs,
    log,
  });
  started.push(() => diskUse.close());
  const measure = async () => ({
    ...(await measureNode(options.stateDir, () => dockerAllocations(docker, scope))),
    diskUse: diskUse.latest(),
  });
  const heartbeat = await startHeartbeat(
    new NodeStore(redis),
    { id: options.nodeId, address: options.nodeAddress, docker: options.advertisedDockerHost },
    options.heartbeatMs,
    log,
    measure,
  ).catch(undo);
  started.push(() => heartbeat.close());
  const observability = startWorkerObservability({ ...options.observability, scope }, { docker, redis, worker, log });
  const databaseMonitor = startDatabaseMonitor(dbCtx);
  started.push(
    () => observability.close(),
    () => databaseMonitor.close(),
  );
  // Schedule ticks come from one cluster-wide queue that every node's worker takes from: a tick
  // is handled while any node is up (workers/schedules/ticks.ts).
  const scheduleTicks = await startScheduleTicks(
    { redisUrl: options.redisUrl, stalledIntervalMs: options.stalledIntervalMs },
    { redis, log },
  ).catch(undo);
  started.push(() => scheduleTicks.close());
  void worker.run();
  await worker.waitUntilReady().catch(undo);
  log.info({ queue: worker.name }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        heartbeat.close();
        await scheduleTicks.close();
        await diskUse.close();
        await reconciler.close();
        await observability.close();
        await databaseMonitor.close();
        await diskWatchdog.close();
        await supervisor.close();
        await worker.close().catch((err) => log.warn({ err }, 'worker close failed'));
        workerConnection.disconnect();
        redis.disconnect();
        // Apps keep running while their worker is stopped (an upgrade): so do the rules that keep
        // them from this host's services. The next start sets them up again, idempotently.
        const running = firewall
          ? await docker
              .listContainers({ filters: { label: scopeFilter(scope), status: ['running'] } })
              .catch(() => undefined)
          : [];
        if (running?.length === 0)
          await firewall?.close().catch((err) => log.warn({ err }, 'cannot remove the app firewall rules'));
        else if (firewall)
          log.info({ running: running?.length }, 'app firewall rules kept: containers of this node still run');
      })();
      return closing;
    },
  };
}
