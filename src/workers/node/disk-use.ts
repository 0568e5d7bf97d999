import fs from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { ownedBy } from '../../core/installation.ts';
import { volumeLabels } from '../../core/app-volumes.ts';
import { containerLabels } from '../../core/naming.ts';
import type { Logger } from '../../core/log.ts';
import type { DiskUse } from '../../store/nodes.ts';
import type { ReleaseDirs } from '../apps/releases.ts';
import { diskUsage } from './disk-watchdog.ts';

export interface DiskUseMeterOptions {
  docker: Docker;
  releases: ReleaseDirs;
  scope: { installation: string; node: string };
  /** Between two measures; du and Docker's `df` walk the disk, so minutes rather than seconds. */
  intervalMs: number;
  log: Logger;
}

export interface DiskUseMeterHandle {
  /** The last measure, undefined until the first one ends (the heartbeat reports it as it is). */
  latest(): DiskUse | undefined;
  close(): Promise<void>;
}

/** Sum of `du` over `<app>/releases` (releases) and the rest of each app's directory (caches, launch files). */
async function measureAppDirs(releases: ReleaseDirs): Promise<{ releasesBytes: number; cachesBytes: number }> {
  const appsDir = path.dirname(releases.appDir('x'));
  let releasesBytes = 0;
  let cachesBytes = 0;
  for (const app of await fs.readdir(appsDir).catch(() => [] as string[])) {
    // One du at a time: measuring should not itself load the disk.
    const all = await diskUsage(releases.appDir(app));
    const rel = await diskUsage(path.join(releases.appDir(app), 'releases'));
    if (!Number.isFinite(all) || !Number.isFinite(rel)) continue;
    releasesBytes += rel;
    cachesBytes += Math.max(0, all - rel);
  }
  return { releasesBytes, cachesBytes };
}

/**
 * What this installation's objects take on this node, by category, from Docker's `df`: images
 * (their own layers only, what removing them would free: layers shared with other images, such as
 * the runtime base, are left out), containers' writable layers, volumes (databases' and apps'); and the json-file logs
 * of its containers where the worker may read Docker's directory (as root), else left out.
 */
async function measureDocker(
  docker: Docker,
  scope: { installation: string; node: string },
): Promise<Pick<DiskUse, 'imagesBytes' | 'images' | 'containersBytes' | 'volumesBytes' | 'appVolumes' | 'logsBytes'>> {
  const df = (await docker.df()) as {
    Images?: { Size?: number; SharedSize?: number; Labels?: Record<string, string> | null }[];
    Containers?: { Id: string; SizeRw?: number; Labels?: Record<string, string> | null }[];
    Volumes?: { Labels?: Record<string, string> | null; UsageData?: { Size?: number } | null }[];
  };
  const ours = (labels: Record<string, string> | null | undefined) =>
    ownedBy(scope.installation, labels) && (labels?.[containerLabels.node] ?? scope.node) === scope.node;
  const images = (df.Images ?? []).filter((i) => ours(i.Labels));
  const containers = (df.Containers ?? []).filter((c) => ours(c.Labels));
  const volumes = (df.Volumes ?? []).filter((v) => ours(v.Labels));
  let logsBytes: number | undefined = 0;
  for (const c of containers) {
    const logPath = await docker
      .getContainer(c.Id)
      .inspect()
      .then(
        (i) => i.LogPath,
        () => '',
      );
    const size = logPath
      ? await fs.stat(logPath).then(
          (s) => s.size,
          () => undefined,
        )
      : 0;
    if (size === undefined) {
      logsBytes = undefined;
      break;
    }
    logsBytes += size;
  }
  return {
    imagesBytes: images.reduce((sum, i) => sum + Math.max(0, (i.Size ?? 0) - Math.max(0, i.SharedSize ?? 0)), 0),
    images: images.length,
    containersBytes: containers.reduce((sum, c) => sum + (c.SizeRw ?? 0), 0),
    volumesBytes: volumes.reduce((sum, v) => sum + Math.max(0, v.UsageData?.Size ?? 0), 0),
    appVolumes: volumes
      .filter((v) => v.Labels?.[volumeLabels.volume])
      .map((v) => ({
        app: v.Labels?.[containerLabels.app] ?? '',
        uid: v.Labels?.[volumeLabels.appUid] ?? '',
        volume: v.Labels?.[volumeLabels.volume] ?? '',
        bytes: Math.max(0, v.UsageData?.Size ?? 0),
      })),
    ...(logsBytes !== undefined ? { logsBytes } : {}),
  };
}

/** One measure of this node's disk use by category (`GET /nodes` shows it). */
export async function measureDiskUse(options: Omit<DiskUseMeterOptions, 'intervalMs' | 'log'>): Promise<DiskUse> {
  const dirs = await measureAppDirs(options.releases);
  const dockerUse = await measureDocker(options.docker, options.scope);
  return { measuredAt: new Date().toISOString(), ...dirs, ...dockerUse };
}

/**
 * Measures at start and every `intervalMs`, off the heartbeat's path (a `df` on a busy daemon
 * takes seconds): the heartbeat reports the latest measure.
 */
export function startDiskUseMeter(options: DiskUseMeterOptions): DiskUseMeterHandle {
  let latest: DiskUse | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  const measure = () => {
    round = measureDiskUse(options)
      .then((use) => {
        latest = use;
      })
      .catch((err) => options.log.warn({ err }, 'disk use measure failed'))
      .finally(() => {
        if (closed) return;
        timer = setTimeout(measure, options.intervalMs);
        timer.unref();
      });
  };
  measure();
  return {
    latest: () => latest,
    async close() {
      closed = true;
      clearTimeout(timer);
      await round;
    },
  };
}
