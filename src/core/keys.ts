/** Every Redis key Gasper writes, in one place, so a deletion can be checked against the list. */
export const keys = {
  app: (name: string) => `gasper:app:${name}`,
  apps: 'gasper:apps',
  appReleaseSeq: (name: string) => `gasper:app:${name}:release-seq`,
  /** Release records of an app (hash: release id → JSON). */
  appReleases: (name: string) => `gasper:app:${name}:releases`,
  /** Sequence of an app's operation jobs (restart, stop, start, rollback). */
  appOpSeq: (name: string) => `gasper:app:${name}:op-seq`,
  node: (id: string) => `gasper:node:${id}`,
  nodes: 'gasper:nodes',
  /** Which queue holds a job; expires with the job's retention. */
  jobQueue: (jobId: string) => `gasper:job:${jobId}:queue`,
  adminTokenHash: 'gasper:admin-token-hash',
  events: 'gasper:events',
  eventsLatest: 'gasper:events:latest',
} as const;

/** BullMQ key prefix: queues live under `gasper:bull:<queue>`. */
export const bullPrefix = 'gasper:bull';
