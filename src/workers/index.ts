import { Worker, type Job } from 'bullmq';
import Docker from 'dockerode';
import type { Logger } from '../core/log.ts';
import { bullPrefix } from '../core/keys.ts';
import { queueName } from '../core/naming.ts';
import { connectRedis } from '../core/redis.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { deleteAppJob, deployAppJob, operateAppJob } from '../jobs/schemas.ts';
import { AppStore } from '../store/apps.ts';
import { NodeStore } from '../store/nodes.ts';
import { ReleaseStore } from '../store/release-records.ts';
import type { NodeWorkerOptions, WorkerContext } from './context.ts';
import { deleteApp } from './delete-app.ts';
import { deployApp } from './deploy-app.ts';
import { startHeartbeat } from './heartbeat.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { operateApp } from './operate-app.ts';
import { ReleaseDirs } from './releases.ts';
import { startSupervisor } from './supervisor.ts';

export interface WorkerServiceOptions extends NodeWorkerOptions {
  redisUrl: string;
  stateDir: string;
  dockerHost: string | undefined;
  concurrency: number;
  heartbeatMs: number;
}

export interface WorkerHandle {
  close(): Promise<void>;
}

/** `unix:///path` or `tcp://host:port` (DOCKER_HOST syntax) → dockerode options; default: the local socket. */
export function dockerFromHost(dockerHost: string | undefined): Docker {
  if (!dockerHost) return new Docker();
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  return new Docker({ host: url.hostname, port: Number(url.port) || 2375, protocol: url.protocol === 'https:' ? 'https' : 'http' });
}

/**
 * The node worker: pulls this node's jobs from its queue and runs them against its Docker
 * daemon. Jobs of one app run one at a time; jobs of different apps run concurrently.
 */
export async function startWorker(options: WorkerServiceOptions, deps: { log: Logger; secrets: SecretBox; docker?: Docker }): Promise<WorkerHandle> {
  const log = deps.log.child({ service: 'worker', node: options.nodeId });
  const docker = deps.docker ?? dockerFromHost(options.dockerHost);
  await docker.ping().catch((err: Error) => {
    throw new Error(`cannot reach the Docker daemon (DOCKER_HOST=${options.dockerHost ?? 'default socket'}): ${err.message}`);
  });
  const redis = connectRedis(options.redisUrl);
  const ctx: WorkerContext = {
    docker,
    redis,
    apps: new AppStore(redis),
    releases: new ReleaseDirs(options.stateDir),
    records: new ReleaseStore(redis),
    secrets: deps.secrets,
    log,
    options,
  };
  const perApp = new KeyedMutex();
  const supervisor = startSupervisor(ctx, perApp);
  const processor = async (job: Job) => {
    switch (job.name) {
      case deployAppJob.name: {
        const data = deployAppJob.schema.parse(job.data);
        return perApp.run(data.app, () => deployApp(ctx, job, data));
      }
      case deleteAppJob.name: {
        const data = deleteAppJob.schema.parse(job.data);
        return perApp.run(data.app, () => deleteApp(ctx, job, data));
      }
      case operateAppJob.name: {
        const data = operateAppJob.schema.parse(job.data);
        return perApp.run(data.app, () => operateApp(ctx, job, data, supervisor));
      }
      default:
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
  });
  worker.on('failed', (job, err) => log.warn({ job: job?.id, err: err.message }, 'job failed'));
  worker.on('completed', (job) => log.info({ job: job.id, result: job.returnvalue }, 'job completed'));
  worker.on('error', (err) => log.error({ err }, 'worker error'));
  const heartbeat = await startHeartbeat(new NodeStore(redis), { id: options.nodeId, address: options.nodeAddress }, options.heartbeatMs, log);
  void worker.run();
  await worker.waitUntilReady();
  log.info({ queue: worker.name }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        heartbeat.close();
        await supervisor.close();
        await worker.close().catch((err) => log.warn({ err }, 'worker close failed'));
        workerConnection.disconnect();
        redis.disconnect();
      })();
      return closing;
    },
  };
}
