import type { ResourcePolicy } from './resources.ts';

/**
 * How a node runs apps over time: releases kept, container limits, the zero-downtime switch
 * and crash handling. Parsed from the environment by core/config.ts.
 */
export interface LifecycleOptions {
  /**
   * Releases kept per app on each node besides the serving and the deploying one (rollback
   * targets): directories, images, stopped containers (workers/node/release-cleanup.ts). Default 5.
   */
  keepReleases: number;
  resources: ResourcePolicy;
  /** Least time old instances keep serving after the proxy switched. Default 1000 ms. */
  drainGraceMs: number;
  /** Longest wait for old instances' open connections to close. Default 30 s. */
  drainTimeoutMs: number;
  /** Seconds between SIGTERM and SIGKILL when a container is stopped. Default 10. */
  stopTimeoutS: number;
  /** Period of the health check of running instances. Default 5 s. */
  healthIntervalMs: number;
  /** Consecutive failed health checks that make an instance unhealthy (restarted). Default 3. */
  healthFailures: number;
  /** First restart delay; doubled per crash in the window, up to the maximum. Default 1 s / 60 s. */
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  /** Crashes within the window after which an instance is given up on (crash loop). Default 5 / 10 min. */
  crashLoopRestarts: number;
  crashLoopWindowMs: number;
  /** Build containers' own limits (memory in MiB, swap disabled). Default 1 CPU, 1024 MiB, 1024 pids. */
  build: { cpu: number; memoryMb: number; pidsLimit: number };
  /**
   * What an app may write: the size of the tmpfs at its containers' /tmp (MiB, default 128), and
   * the disk one release may use on a node, release directory plus writable layers (MiB, default
   * 4096), measured every `checkIntervalMs` (default 15 s) by workers/node/disk-watchdog.ts; the
   * free disk a build needs to start (`minFreeMb`, default 1024; 0: never refuse); how often the
   * node's disk use by category is measured for `GET /nodes` (`useIntervalMs`, default 5 min).
   */
  disk: { tmpMb: number; appMb: number; checkIntervalMs: number; minFreeMb: number; useIntervalMs: number };
}

interface LifecycleEnv {
  GASPER_KEEP_RELEASES: number;
  GASPER_DEFAULT_CPU: number;
  GASPER_DEFAULT_MEMORY_MB: number;
  GASPER_MAX_CPU: number;
  GASPER_MAX_MEMORY_MB: number;
  GASPER_MAX_INSTANCES: number;
  GASPER_PIDS_LIMIT: number;
  GASPER_DRAIN_GRACE_MS: number;
  GASPER_DRAIN_TIMEOUT_MS: number;
  GASPER_STOP_TIMEOUT_S: number;
  GASPER_HEALTH_INTERVAL_MS: number;
  GASPER_HEALTH_FAILURES: number;
  GASPER_RESTART_BACKOFF_MS: number;
  GASPER_RESTART_BACKOFF_MAX_MS: number;
  GASPER_CRASH_LOOP_RESTARTS: number;
  GASPER_CRASH_LOOP_WINDOW_MS: number;
  GASPER_BUILD_MEMORY_MB: number;
  GASPER_BUILD_CPU: number;
  GASPER_BUILD_PIDS_LIMIT: number;
  GASPER_TMP_MB: number;
  GASPER_APP_DISK_MB: number;
  GASPER_DISK_CHECK_INTERVAL_MS: number;
  GASPER_MIN_FREE_DISK_MB: number;
  GASPER_DISK_USE_INTERVAL_MS: number;
}

/** `fail` builds the configuration error naming the variable (core/config.ts's ConfigError). */
export function lifecycleOptionsFromEnv(
  e: LifecycleEnv,
  fail: (variable: string, reason: string) => Error,
): LifecycleOptions {
  if (e.GASPER_DEFAULT_CPU > e.GASPER_MAX_CPU)
    throw fail('GASPER_DEFAULT_CPU', `must not exceed GASPER_MAX_CPU (${e.GASPER_MAX_CPU})`);
  if (e.GASPER_DEFAULT_MEMORY_MB > e.GASPER_MAX_MEMORY_MB) {
    throw fail('GASPER_DEFAULT_MEMORY_MB', `must not exceed GASPER_MAX_MEMORY_MB (${e.GASPER_MAX_MEMORY_MB})`);
  }
  return {
    keepReleases: e.GASPER_KEEP_RELEASES,
    resources: {
      defaultCpu: e.GASPER_DEFAULT_CPU,
      defaultMemoryMb: e.GASPER_DEFAULT_MEMORY_MB,
      maxCpu: e.GASPER_MAX_CPU,
      maxMemoryMb: e.GASPER_MAX_MEMORY_MB,
      maxInstances: e.GASPER_MAX_INSTANCES,
      pidsLimit: e.GASPER_PIDS_LIMIT,
    },
    drainGraceMs: e.GASPER_DRAIN_GRACE_MS,
    drainTimeoutMs: e.GASPER_DRAIN_TIMEOUT_MS,
    stopTimeoutS: e.GASPER_STOP_TIMEOUT_S,
    healthIntervalMs: e.GASPER_HEALTH_INTERVAL_MS,
    healthFailures: e.GASPER_HEALTH_FAILURES,
    restartBackoffMs: e.GASPER_RESTART_BACKOFF_MS,
    restartBackoffMaxMs: e.GASPER_RESTART_BACKOFF_MAX_MS,
    crashLoopRestarts: e.GASPER_CRASH_LOOP_RESTARTS,
    crashLoopWindowMs: e.GASPER_CRASH_LOOP_WINDOW_MS,
    build: { cpu: e.GASPER_BUILD_CPU, memoryMb: e.GASPER_BUILD_MEMORY_MB, pidsLimit: e.GASPER_BUILD_PIDS_LIMIT },
    disk: {
      tmpMb: e.GASPER_TMP_MB,
      appMb: e.GASPER_APP_DISK_MB,
      checkIntervalMs: e.GASPER_DISK_CHECK_INTERVAL_MS,
      minFreeMb: e.GASPER_MIN_FREE_DISK_MB,
      useIntervalMs: e.GASPER_DISK_USE_INTERVAL_MS,
    },
  };
}
