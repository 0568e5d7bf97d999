/** Every Redis key Gasper writes, in one place, so a deletion can be checked against the list. */
export const keys = {
  app: (name: string) => `gasper:app:${name}`,
  apps: 'gasper:apps',
  appReleaseSeq: (name: string) => `gasper:app:${name}:release-seq`,
  /** Hash: SSH public key id → record (src/store/ssh-credentials.ts). */
  appSshKeys: (name: string) => `gasper:app:${name}:ssh-keys`,
  /** The app's SSH password, as a scrypt hash only. */
  appSshPassword: (name: string) => `gasper:app:${name}:ssh-password`,
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
