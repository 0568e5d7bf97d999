/**
 * What the disk watchdog (disk-watchdog.ts) does about what it measured. Pure: unit-tested with a
 * table in test/workers/node/disk-plan.unit.test.ts.
 *
 * Docker on ext4/overlay2 cannot cap a container's writable layer (`--storage-opt size` needs
 * xfs with project quotas) and a bind-mounted release directory has no quota at all, so the
 * worker measures instead: each release of an app that has containers on the node, counting
 * its release directory (mounted at /app) and the writable layers of its containers. A release
 * over the limit has its build killed, or its serving instances stopped.
 */
export interface ContainerUsage {
  /** Container name, without Docker's leading slash. */
  name: string;
  app: string;
  release: string;
  role: 'app' | 'build';
  running: boolean;
  /** Docker's SizeRw: what the container wrote outside its mounts. */
  layerBytes: number;
}

export interface DiskPlanInput {
  containers: readonly ContainerUsage[];
  /** Size on disk of each release directory, by `app/release`; missing: 0. */
  releaseDirBytes: ReadonlyMap<string, number>;
  /**
   * Size of each app's build cache (Go's, workers/apps/go-cache.ts), by app; missing: 0. Counted
   * for a release whose build is running: the build writes it (it is mounted there, outside the
   * release directory), and without it a build could fill the node's disk past the limit.
   */
  buildCacheBytes?: ReadonlyMap<string, number>;
  /** The release each app serves (its document's `release`); apps without a document are left to reconciliation. */
  serving: ReadonlyMap<string, string | undefined>;
  limitBytes: number;
  /** Named in messages: the node where it was measured. */
  node: string;
}

export type DiskAction =
  | { kind: 'kill-build'; app: string; release: string; container: string; usedBytes: number; message: string }
  | { kind: 'stop-instances'; app: string; release: string; containers: string[]; usedBytes: number; message: string };

export const releaseKey = (app: string, release: string): string => `${app}/${release}`;

const mib = (bytes: number): string => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;

export function planDiskActions(input: DiskPlanInput): DiskAction[] {
  const groups = new Map<string, ContainerUsage[]>();
  for (const c of input.containers) {
    const key = releaseKey(c.app, c.release);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const actions: DiskAction[] = [];
  for (const [key, containers] of groups) {
    const { app, release } = containers[0]!;
    if (!input.serving.has(app)) continue;
    const dirBytes = input.releaseDirBytes.get(key) ?? 0;
    const layerBytes = containers.reduce((sum, c) => sum + c.layerBytes, 0);
    const builds = containers.filter((c) => c.role === 'build' && c.running);
    const cacheBytes = builds.length ? (input.buildCacheBytes?.get(app) ?? 0) : 0;
    const used = dirBytes + layerBytes + cacheBytes;
    if (used <= input.limitBytes) continue;
    // A release directory (or cache) du could not finish counting (millions of small files) is
    // over the limit too: otherwise filling it that way would escape the watchdog.
    const cache = cacheBytes ? `, build cache ${mib(cacheBytes)}` : '';
    const measured =
      Number.isFinite(dirBytes) && Number.isFinite(cacheBytes)
        ? `${mib(used)} of disk on node ${input.node} (release directory ${mib(dirBytes)}, container layers ${mib(layerBytes)}${cache}), over the limit of ${mib(input.limitBytes)} (GASPER_APP_DISK_MB)`
        : `more disk on node ${input.node} than could be counted in time (its ${Number.isFinite(dirBytes) ? 'build cache' : 'release directory'} holds too many files), over the limit of ${mib(input.limitBytes)} (GASPER_APP_DISK_MB)`;
    if (builds.length) {
      // A build of this release: it alone is stopped; the deploy fails and removes what it made.
      for (const b of builds) {
        actions.push({
          kind: 'kill-build',
          app,
          release,
          container: b.name,
          usedBytes: used,
          message: `the build used ${measured}; it was stopped`,
        });
      }
      continue;
    }
    // Instances of a release not yet switched to belong to a running deploy: they are measured
    // again once they serve (or are gone with a failed deploy).
    if (input.serving.get(app) !== release) continue;
    const running = containers.filter((c) => c.role === 'app' && c.running).map((c) => c.name);
    if (running.length === 0) continue;
    actions.push({
      kind: 'stop-instances',
      app,
      release,
      containers: running.sort(),
      usedBytes: used,
      message: `release ${release} used ${measured}; its instances on node ${input.node} were stopped. Redeploy to start from a clean release directory`,
    });
  }
  return actions;
}
