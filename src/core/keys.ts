/** Every Redis key Gasper writes, in one place, so a deletion can be checked against the list. */
export const keys = {
  app: (name: string) => `gasper:app:${name}`,
  apps: 'gasper:apps',
  appReleaseSeq: (name: string) => `gasper:app:${name}:release-seq`,
  node: (id: string) => `gasper:node:${id}`,
  nodes: 'gasper:nodes',
  /** Which queue holds a job; expires with the job's retention. */
  jobQueue: (jobId: string) => `gasper:job:${jobId}:queue`,
  adminTokenHash: 'gasper:admin-token-hash',
  events: 'gasper:events',
  eventsLatest: 'gasper:events:latest',
  /** The app's container output: a capped stream (see store/app-logs.ts). */
  appLogs: (name: string) => `gasper:app:${name}:logs`,
  /** Per container, the Docker timestamp of the last line collected (resumes after a worker restart). */
  appLogCursors: (name: string) => `gasper:app:${name}:log-cursors`,
  /** Per instance, the last resource samples (see store/app-metrics.ts). */
  appMetrics: (name: string) => `gasper:app:${name}:metrics`,
  /** Cluster-wide deploy duration histogram, rendered by the API's /metrics. */
  deployDurations: 'gasper:metrics:deploy-seconds',
} as const;

/** BullMQ key prefix: queues live under `gasper:bull:<queue>`. */
export const bullPrefix = 'gasper:bull';
