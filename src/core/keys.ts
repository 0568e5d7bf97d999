/** Every Redis key Gasper writes, in one place, so a deletion can be checked against the list. */
export const keys = {
  app: (name: string) => `gasper:app:${name}`,
  apps: 'gasper:apps',
  appReleaseSeq: (name: string) => `gasper:app:${name}:release-seq`,
  node: (id: string) => `gasper:node:${id}`,
  nodes: 'gasper:nodes',
  /** Which queue holds a job; expires with the job's retention. */
  jobQueue: (jobId: string) => `gasper:job:${jobId}:queue`,
  database: (name: string) => `gasper:database:${name}`,
  databases: 'gasper:databases',
  /** Host ports taken by databases on a node. */
  nodeDatabasePorts: (id: string) => `gasper:node:${id}:db-ports`,
  /** Backups of a database: a hash of id → metadata JSON, and one binary value per backup. */
  databaseBackups: (name: string) => `gasper:database:${name}:backups`,
  databaseBackup: (name: string, id: string) => `gasper:database:${name}:backup:${id}`,
  adminTokenHash: 'gasper:admin-token-hash',
  events: 'gasper:events',
  eventsLatest: 'gasper:events:latest',
} as const;

/** BullMQ key prefix: queues live under `gasper:bull:<queue>`. */
export const bullPrefix = 'gasper:bull';
