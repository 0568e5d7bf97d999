import fs from 'node:fs/promises';
import type Docker from 'dockerode';
import { freeSlotsIn } from '../../core/app-placement.ts';
import { webProcess } from '../../core/formation.ts';
import { appContainerName, containerLabels } from '../../core/naming.ts';
import type { ResolvedResources } from '../../core/resources.ts';
import type { Instance } from '../../events/schemas.ts';
import { containerSpec } from './container-spec.ts';
import { ensureAppVolumes } from './app-volumes.ts';
import type { VolumeMount } from '../../core/app-volumes.ts';
import {
  containerState,
  ensureContainer,
  listManaged,
  removeContainer,
  startAndGetHostPort,
} from '../../docker/containers.ts';
import type { WorkerContext } from '../context.ts';
import { HealthTimeoutError, waitForHttp } from './health.ts';
import type { StartupCheck } from './health-verdict.ts';

/** What a startup check adds to its path. */
export type HealthRules = Omit<StartupCheck, 'path'>;
import { establishedOnPort, listeningOnPort } from './tcp-table.ts';
import { joinDatabaseNetworks } from './database-links.ts';
import { appNetwork, defaultNetworkPool, ensureBridgeNetwork } from '../../docker/networks.ts';

/** The containers of one release of an app: what `prepareInstances` creates and `startInstances` starts. */
export interface InstancePlan {
  app: string;
  /** The app's incarnation: its network is this one's (docker/networks.ts). */
  uid: string;
  release: string;
  releaseDir: string;
  image: string;
  command: string;
  env: Record<string, string>;
  /** Docker networks (of linked databases) every instance joins. */
  networks: string[];
  /** Mounted read-only when `command` is the launcher (launcher.ts). */
  launchDir?: string;
  /** The image was built from the app's Dockerfile: its own command, user and files (container-spec.ts). */
  fromImage?: boolean;
  port: number;
  /** Instances on this node (its share of the app's). */
  count: number;
  /** The container slots this node takes them from (core/app-placement.ts). */
  slots: { offsets: number[]; stride: number };
  resources: ResolvedResources;
  healthPath?: string;
  /** app.json's `healthchecks.web` beyond its path: body content, probe timeout, attempts (health-verdict.ts). */
  healthRules?: HealthRules;
  /** The process type (core/formation.ts); unset: `web`, the only one with a port and a health check. */
  process?: string;
  /** The app's persistent volumes (core/app-volumes.ts), mounted in every instance. */
  volumes?: readonly VolumeMount[];
}

/** The slot index a container name ends with (`gasper-<installation>-<app>-<release>-<slot>`). */
export function slotOf(name: string): number | undefined {
  const match = /-(\d+)$/.exec(name.replace(/^\//, ''));
  return match ? Number(match[1]) : undefined;
}

const nameOf = (c: Docker.ContainerInfo) => (c.Names[0] ?? '').replace(/^\//, '');

/**
 * Creates the plan's containers (reusing those an interrupted attempt left with the same spec)
 * in slots the serving containers do not hold (a restart of a release starts its new containers
 * beside the serving ones, in the next round of slots), and removes this release's other idle
 * leftovers.
 * Returns the container names.
 */
export async function prepareInstances(
  ctx: WorkerContext,
  plan: InstancePlan,
  serving: readonly string[],
): Promise<string[]> {
  const { docker } = ctx;
  const servingNames = new Set(serving);
  const processType = plan.process ?? webProcess;
  const ofRelease = (await listManaged(docker, ctx.scope, { app: plan.app })).filter(
    (c) =>
      c.Labels[containerLabels.release] === plan.release &&
      c.Labels[containerLabels.role] === 'app' &&
      (c.Labels[containerLabels.process] ?? webProcess) === processType,
  );
  const used = new Set(ofRelease.filter((c) => servingNames.has(nameOf(c))).flatMap((c) => slotOf(nameOf(c)) ?? []));
  const names = freeSlotsIn(plan.slots, used, plan.count).map((slot) =>
    appContainerName(ctx.scope.installation, plan.app, plan.release, slot, processType),
  );
  const stale = ofRelease.filter((c) => !servingNames.has(nameOf(c)) && !names.includes(nameOf(c)));
  await Promise.all(stale.map((c) => removeContainer(docker, c.Id)));
  await Promise.all(names.map((name) => createInstance(ctx, plan, name)));
  return names;
}

/**
 * The container `name` of the plan's release (not started), on the app's own network (created if
 * missing) and joined to its databases' networks; one with the same spec is reused.
 */
export async function createInstance(ctx: WorkerContext, plan: InstancePlan, name: string): Promise<void> {
  const { docker, options } = ctx;
  const network = await ensureAppNetwork(ctx, plan.app, plan.uid);
  await ensureAppVolumes(ctx, plan);
  await ensureContainer(
    docker,
    containerSpec({
      name,
      image: plan.image,
      app: plan.app,
      release: plan.release,
      ...ctx.scope,
      role: 'app',
      ...(plan.process ? { process: plan.process } : {}),
      releaseDir: plan.releaseDir,
      command: plan.command,
      port: plan.port,
      env: plan.env,
      publishAddress: options.nodeAddress,
      extraCaCerts: options.extraCaCerts,
      resources: plan.resources,
      pidsLimit: options.lifecycle.resources.pidsLimit,
      tmpMb: options.lifecycle.disk.tmpMb,
      ...(plan.launchDir ? { launchDir: plan.launchDir } : {}),
      ...(plan.fromImage ? { fromImage: true } : {}),
      ...(plan.volumes?.length ? { volumes: plan.volumes } : {}),
      network,
    }),
  );
  await joinDatabaseNetworks(docker, name, plan.networks);
}

/** The app's network on this node, created if missing; returns its name. */
export async function ensureAppNetwork(ctx: WorkerContext, app: string, uid: string): Promise<string> {
  const network = appNetwork(ctx.scope, app, uid, ctx.options.networkPool ?? defaultNetworkPool);
  await ensureBridgeNetwork(ctx.docker, network);
  return network.name;
}

/** A new instance that did not come up; `container` names it, for its log tail. */
export class InstanceStartError extends HealthTimeoutError {
  constructor(
    readonly container: string,
    message: string,
    readonly oomKilled: boolean,
  ) {
    super(message);
    this.name = 'InstanceStartError';
  }
}

/** Starts the containers and waits until each passes the health check (web; the other types: until started). */
export async function startInstances(
  ctx: WorkerContext,
  plan: InstancePlan,
  names: readonly string[],
): Promise<Instance[]> {
  if (plan.process && plan.process !== webProcess)
    return Promise.all(names.map((name) => startProcess(ctx, name, plan.process!)));
  return Promise.all(
    names.map((name) =>
      startInstance(ctx, name, {
        port: plan.port,
        healthPath: plan.healthPath,
        ...(plan.healthRules ? { healthRules: plan.healthRules } : {}),
        memoryMb: plan.resources.memoryMb,
      }),
    ),
  );
}

/**
 * Starts one created container and waits until it passes the health check: the start step of a
 * rollout (share-rollout.ts), and the supervisor's restart of a failed instance. An instance that
 * does not come up is an InstanceStartError.
 */
export async function startInstance(
  ctx: WorkerContext,
  name: string,
  app: { port: number; healthPath: string | undefined; healthRules?: HealthRules; memoryMb: number },
): Promise<Instance> {
  const { docker, options } = ctx;
  let port = 0;
  try {
    port = await startAndGetHostPort(docker, name, app.port).catch(async (err) => {
      // An app that exits at once has no published port any more: that is the app's failure.
      const state = await containerState(docker, name).catch(() => undefined);
      if (state && !state.running) throw new HealthTimeoutError('app exited before answering HTTP');
      throw err;
    });
    await waitForHttp({
      address: options.nodeAddress,
      port,
      timeoutMs: options.healthTimeoutMs,
      // The rules need a path (app.json gives both); a path alone is the app's own check.
      check: app.healthPath === undefined ? {} : { path: app.healthPath, ...app.healthRules },
      stillRunning: async () => (await containerState(docker, name)).running,
    });
  } catch (err) {
    if (!(err instanceof HealthTimeoutError)) throw err;
    const oom = (await containerState(docker, name).catch(() => undefined))?.oomKilled ?? false;
    const message = oom
      ? `app was OOM-killed (out of memory: over its ${app.memoryMb} MiB limit) before answering HTTP`
      : err.message;
    throw new InstanceStartError(name, message, oom);
  }
  return { node: options.nodeId, address: options.nodeAddress, port, container: name };
}

/**
 * Starts a created container of a process type other than `web`: no port, no HTTP check, healthy
 * while it runs. One that exits is the supervisor's to restart with backoff, like a web instance
 * that crashes, so the start itself does not wait.
 */
export async function startProcess(ctx: WorkerContext, name: string, process: string): Promise<Instance> {
  try {
    await ctx.docker.getContainer(name).start();
  } catch (err) {
    // Already running (a retried step) is started.
    if ((err as { statusCode?: number }).statusCode !== 304) throw err;
  }
  return { node: ctx.options.nodeId, address: ctx.options.nodeAddress, port: 0, container: name, process };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Established connections to a running container's port, read from its network namespace on
 * this host (`/proc/<pid>/net/tcp*`); undefined when that is not visible (a remote Docker
 * daemon, no permission), in which case only the grace period applies.
 */
async function openConnections(docker: Docker, id: string): Promise<number | undefined> {
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(id).inspect();
  } catch {
    return 0;
  }
  if (!info.State.Running || !info.State.Pid) return 0;
  const read = await tcpTables(info);
  return read?.tables.reduce((sum, table) => sum + establishedOnPort(table, read.port), 0);
}

/**
 * Whether a running container still listens on its app port, read from its network namespace
 * (no request reaches the app, so nothing shows in its logs); undefined when that is not
 * visible from here.
 */
export async function listensOnAppPort(info: Docker.ContainerInspectInfo): Promise<boolean | undefined> {
  const read = await tcpTables(info);
  return read?.tables.some((table) => listeningOnPort(table, read.port));
}

/** The TCP tables of a running container's network namespace and its app port, if this host can see them. */
async function tcpTables(info: Docker.ContainerInspectInfo): Promise<{ port: number; tables: string[] } | undefined> {
  const port = Number(Object.keys(info.Config.ExposedPorts ?? {})[0]?.split('/')[0]);
  if (!port || !info.State.Pid) return undefined;
  // The pid is the daemon's: make sure it is this host's process of this container.
  const cgroup = await fs.readFile(`/proc/${info.State.Pid}/cgroup`, 'utf8').catch(() => '');
  if (!cgroup.includes(info.Id)) return undefined;
  const tables = await Promise.all(
    ['tcp', 'tcp6'].map((f) => fs.readFile(`/proc/${info.State.Pid}/net/${f}`, 'utf8').catch(() => '')),
  );
  return { port, tables };
}

/** SIGTERM, then SIGKILL after `timeoutS`; one already stopped or gone is fine. */
export async function stopContainer(docker: Docker, id: string, timeoutS: number): Promise<void> {
  try {
    await docker.getContainer(id).stop({ t: timeoutS });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 304 && status !== 404) throw err;
  }
}

/**
 * Retires instances the proxy no longer routes to: waits the grace period (the proxy applies
 * the switch within milliseconds, in-flight requests finish), then until they have no open
 * connections (at most the drain timeout), then stops them with SIGTERM and the stop timeout,
 * and removes them.
 */
export async function drainAndRemove(ctx: WorkerContext, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const { drainGraceMs, drainTimeoutMs, stopTimeoutS } = ctx.options.lifecycle;
  await sleep(drainGraceMs);
  const deadline = Date.now() + drainTimeoutMs;
  await Promise.all(
    ids.map(async (id) => {
      for (;;) {
        const open = await openConnections(ctx.docker, id);
        if (!open || Date.now() >= deadline) break;
        await sleep(100);
      }
      await stopContainer(ctx.docker, id, stopTimeoutS);
      await removeContainer(ctx.docker, id);
    }),
  );
}

/**
 * Gasper's app containers of `app` on this node that are not among `keep` (names). One-off run
 * containers are not: a run lives as long as its job (one-off.ts), through deploys and stops.
 */
export async function containersOutside(ctx: WorkerContext, app: string, keep: readonly string[]): Promise<string[]> {
  const all = await listManaged(ctx.docker, ctx.scope, { app });
  return all.filter((c) => !keep.includes(nameOf(c)) && c.Labels[containerLabels.role] !== 'run').map((c) => c.Id);
}
