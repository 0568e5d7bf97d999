/** Every Redis key Gasper writes, in one place, so a deletion can be checked against the list. */
export const keys = {
  /** This installation's id (core/installation.ts): created once, labels every Docker object it creates. */
  installation: 'gasper:installation',
  /** The TLS session ticket keys of one 12-hour period, shared by every proxy (proxy/ticket-keys.ts). */
  tlsTicketKeys: (period: number) => `gasper:tls:ticket-keys:${period}`,
  app: (name: string) => `gasper:app:${name}`,
  apps: 'gasper:apps',
  appReleaseSeq: (name: string) => `gasper:app:${name}:release-seq`,
  /**
   * Set of app names whose first deploy asked for app.json's `formation` (store/app-document.ts
   * `formationAsk`): the control plane places and applies it (api/app-json-formation.ts).
   */
  appJsonFormations: 'gasper:app-json-formations',
  /** Hash: SSH public key id → record (src/store/ssh-credentials.ts). */
  appSshKeys: (name: string) => `gasper:app:${name}:ssh-keys`,
  /** The app's SSH password, as a scrypt hash only. */
  appSshPassword: (name: string) => `gasper:app:${name}:ssh-password`,
  /**
   * Sorted set: the app's web-terminal sessions (JSON record, scored by start time), the latest
   * kept (src/store/terminal-sessions.ts).
   */
  appTerminalSessions: (name: string) => `gasper:app:${name}:terminal-sessions`,
  /**
   * A web-terminal ticket, by the SHA-256 of its value: JSON grant, expiring with it; read and
   * deleted at once when redeemed (src/store/terminal-tickets.ts).
   */
  terminalTicket: (hash: string) => `gasper:terminal-ticket:${hash}`,
  /** Release records of an app (hash: release id → JSON). */
  appReleases: (name: string) => `gasper:app:${name}:releases`,
  /**
   * List, newest first: who asked for each release of an app and why, and who rolled back to one
   * (src/store/release-causes.ts). Trimmed; removed with the app.
   */
  appReleaseCauses: (name: string) => `gasper:app:${name}:release-causes`,
  /** Sequence of an app's operation jobs (restart, stop, start, rollback). */
  appOpSeq: (name: string) => `gasper:app:${name}:op-seq`,
  /**
   * Hash: how one rollout of an app (a release's deploy, or an operation) goes on each of its
   * nodes, and its outcome (workers/apps/rollout.ts). Expires a day after its last write.
   */
  appRollout: (name: string, rollout: string) => `gasper:app:${name}:rollout:${rollout}`,
  /** Hash: an app's schedules, id → record (src/store/schedules.ts). */
  appSchedules: (name: string) => `gasper:app:${name}:schedules`,
  /** Sorted set: a schedule's latest run jobs, by tick time (the last 50). */
  scheduleRuns: (name: string, id: string) => `gasper:app:${name}:schedule:${id}:runs`,
  /**
   * Sorted set: the one-off containers of live interactive sessions (ssh/run-session.ts), by
   * container name, scored by when their lease runs out (store/run-sessions.ts).
   */
  runSessions: 'gasper:run-sessions',
  node: (id: string) => `gasper:node:${id}`,
  nodes: 'gasper:nodes',
  /** Ids of the nodes an admin drained: nothing new is placed there. */
  nodesDraining: 'gasper:nodes:draining',
  /** `up` or `down`, as the node monitor last decided (it publishes a node.state event on change). */
  nodeState: (id: string) => `gasper:node:${id}:state`,
  /**
   * Set of `<database>/<uid>` deleted while the node was down: its reconciliation removes their
   * container, volume and network, and only theirs (never data merely missing from Redis).
   */
  nodeDeletedDatabases: (id: string) => `gasper:node:${id}:deleted-databases`,
  /**
   * Set of `<app>/<uid>` deleted while the node was down: its reconciliation removes their volumes
   * (the data), and only theirs, as for databases.
   */
  nodeDeletedApps: (id: string) => `gasper:node:${id}:deleted-apps`,
  /** Held by the one API process settling a down node's queue (api/cluster/job-failover.ts); expires. */
  nodeFailoverLock: (id: string) => `gasper:node:${id}:failover-lock`,
  /** What the node's last reconciliation did (JSON, see workers/node/reconcile.ts). */
  nodeReconcile: (id: string) => `gasper:node:${id}:reconcile`,
  /**
   * Sorted set: leases (job id → expiry) of one owner's app jobs running on a node
   * (workers/apps/owner-slots.ts). Expires with its last lease.
   */
  ownerSlots: (node: string, owner: string) => `gasper:owner-slots:${node}:${owner}`,
  /** Which queue holds a job; expires with the job's retention. */
  jobQueue: (jobId: string) => `gasper:job:${jobId}:queue`,
  database: (name: string) => `gasper:database:${name}`,
  databases: 'gasper:databases',
  /** Host ports taken by databases on a node. */
  nodeDatabasePorts: (id: string) => `gasper:node:${id}:db-ports`,
  /** Backups of a database: a hash of id → metadata JSON, and one binary value per backup. */
  /** Hash: `<volume>/<backup id>` → backup metadata (JSON) of an app's volumes. */
  appVolumeBackups: (app: string) => `gasper:app:${app}:volume-backups`,
  /** The tar of one backup of an app's volume. */
  appVolumeBackup: (app: string, volume: string, id: string) => `gasper:app:${app}:volume-backup:${volume}:${id}`,
  databaseBackups: (name: string) => `gasper:database:${name}:backups`,
  databaseBackup: (name: string, id: string) => `gasper:database:${name}:backup:${id}`,
  adminTokenHash: 'gasper:admin-token-hash',
  /** A value sealed with the cluster's secret key: services holding another key refuse to start (src/preflight.ts). */
  secretKeyCheck: 'gasper:secret-key-check',
  user: (name: string) => `gasper:user:${name}`,
  users: 'gasper:users',
  /** token id → token hash, per user (listing and revocation by id). */
  userTokens: (user: string) => `gasper:user:${user}:tokens`,
  /** SHA-256 of a token → its record. */
  token: (hash: string) => `gasper:token:${hash}`,
  /** Who may see a job (its resource's owner); expires with the job's retention. */
  jobOwner: (jobId: string) => `gasper:job:${jobId}:owner`,
  rateLimit: (name: string, subject: string) => `gasper:rate:${name}:${subject}`,
  events: 'gasper:events',
  /**
   * Hash: `app:<name>` / `user:<name>` → a counter bumped whenever who may reach that app, or
   * what that user may reach, narrows (transfer, deletion, token revocation): open sessions watch
   * it (src/store/access-watch.ts). Fields stay when their app or user goes (a few bytes each):
   * removing one could hide the last bump from a watcher that had not read it yet.
   */
  accessGenerations: 'gasper:access-generations',
  eventsLatest: 'gasper:events:latest',
  /**
   * A push payload an app deployed, by the SHA-256 of its body → its deploy job; expires
   * (api/webhooks/deliveries.ts).
   */
  webhookPayload: (appUid: string, digest: string) => `gasper:webhook-payload:${appUid}:${digest}`,
  /** A Bull Board browser session, by the SHA-256 of its cookie; expires. */
  adminSession: (sessionHash: string) => `gasper:admin-session:${sessionHash}`,
  /** The app's container output: a capped stream (see store/app-logs.ts). */
  appLogs: (name: string) => `gasper:app:${name}:logs`,
  /** Per container, the Docker timestamp of the last line collected (resumes after a worker restart). */
  appLogCursors: (name: string) => `gasper:app:${name}:log-cursors`,
  /** Bytes the app's log stream holds, as store/app-logs.ts counts them (its byte budget). */
  appLogBytes: (name: string) => `gasper:app:${name}:log-bytes`,
  /** Per instance, the last resource samples (see store/app-metrics.ts). */
  appMetrics: (name: string) => `gasper:app:${name}:metrics`,
  /** Pub/sub channel of an app's new samples and removed instances (metrics follows, api/metrics-follows.ts). */
  appMetricsLive: (name: string) => `gasper:app:${name}:metrics:live`,
  /** A custom domain of an app (JSON, src/store/domains.ts), and the set of all of them. */
  domain: (domain: string) => `gasper:domain:${domain}`,
  domains: 'gasper:domains',
  /** Set of the custom domains of an app (src/store/domains.ts): its listing and its per-app limit. */
  appDomains: (name: string) => `gasper:app:${name}:domains`,
  /** A domain's certificate chain and sealed private key (JSON, src/store/certificates.ts). */
  certificate: (domain: string) => `gasper:certificate:${domain}`,
  /** An ACME HTTP-01 key authorization by token, answered by every proxy; expires. */
  acmeChallenge: (token: string) => `gasper:acme:challenge:${token}`,
  /** The installation's ACME account: its key sealed, and its URL (JSON); created once. */
  acmeAccount: 'gasper:acme:account',
  /** Cluster-wide deploy duration histogram, rendered by the API's /metrics. */
  deployDurations: 'gasper:metrics:deploy-seconds',
} as const;

/** BullMQ key prefix: queues live under `gasper:bull:<queue>`. */
export const bullPrefix = 'gasper:bull';
