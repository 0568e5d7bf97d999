import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { DockerScope } from '../core/installation.ts';
import type { LifecycleOptions } from '../core/lifecycle-options.ts';
import type { Logger } from '../core/log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { AppStore } from '../store/apps.ts';
import type { ReleaseStore } from '../store/release-records.ts';
import type { CloneLimits } from './apps/clone.ts';
import type { ReleaseDirs } from './apps/releases.ts';

export interface NodeWorkerOptions {
  nodeId: string;
  /** Address container ports are published on, and that the proxy reaches them at. */
  nodeAddress: string;
  allowLocalRepos: boolean;
  extraCaCerts: string | undefined;
  imagePrefix: string;
  runtimeImages: Record<string, string>;
  healthTimeoutMs: number;
  buildTimeoutMs: number;
  /** Time limit of a one-off container (runs, scheduled runs, the release phase): GASPER_RUN_TIMEOUT_S. Default 1 h. */
  runTimeoutMs?: number;
  /** Clone time limits (GASPER_CLONE_IDLE_TIMEOUT_MS, GASPER_CLONE_TIMEOUT_MS). Default clone.ts's. */
  clone?: Partial<CloneLimits>;
  /** Release directories kept per app. Default 5. */
  keepReleases: number;
  /** Limits, drain, health and crash handling (core/lifecycle-options.ts). */
  lifecycle: LifecycleOptions;
  /** IPv4 CIDR the subnets of app and database networks are taken from (a /26 each). Default 10.210.0.0/16. */
  networkPool?: string;
}

/** What job handlers share: clients passed in, so tests can hand their own. */
export interface WorkerContext {
  docker: Docker;
  redis: Redis;
  apps: AppStore;
  releases: ReleaseDirs;
  /** Release records (build logs, config snapshots) in Redis. */
  records: ReleaseStore;
  secrets: SecretBox;
  log: Logger;
  options: NodeWorkerOptions;
  /** This installation and node: the labels of what the worker creates, and the filter of what it may touch. */
  scope: DockerScope;
  /**
   * Build containers the disk watchdog killed (by name), with the reason the build then fails
   * with (disk-watchdog.ts); unset: no watchdog runs.
   */
  killedBuilds?: Map<string, string>;
  /**
   * Names of the one-off containers this worker is running now (one-off.ts): the reconciliation
   * removes any other run container, whose job is gone (its worker died). Unset: none is kept.
   */
  runs?: Set<string>;
}
