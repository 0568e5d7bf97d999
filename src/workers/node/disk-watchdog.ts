import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { scopeFilter } from '../../core/installation.ts';
import { containerLabels } from '../../core/naming.ts';
import { overDiskLimit } from '../../core/app-state.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import type { WorkerContext } from '../context.ts';
import { planDiskActions, releaseKey, type ContainerUsage, type DiskAction } from './disk-plan.ts';
import { stopContainer } from '../apps/instances.ts';
import { buildCacheFolder } from '../apps/go-cache-plan.ts';
import type { KeyedMutex } from '../keyed-mutex.ts';
import type { SupervisorHandle } from '../apps/supervisor.ts';

export interface DiskWatchdogHandle {
  close(): Promise<void>;
}

/**
 * Size on disk of a directory (`du -sk`: blocks, so sparse files count what they hold); missing:
 * 0. Infinity when du did not finish in time: a directory of millions of files is over any limit.
 */
export function diskUsage(dir: string, timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve) => {
    // du exits 1 when a file vanished while it walked (an app deleting files): its total stands.
    execFile('du', ['-sk', '--', dir], { timeout: timeoutMs }, (err, stdout) => {
      if ((err as { killed?: boolean } | null)?.killed) return resolve(Number.POSITIVE_INFINITY);
      const kib = Number(/^(\d+)/.exec(String(stdout))?.[1] ?? 0);
      resolve(kib * 1024);
    });
  });
}

/**
 * Measures, every `lifecycle.disk.checkIntervalMs`, the disk each release with containers on this
 * node uses (release directory and writable layers, see disk-plan.ts) and acts on releases over
 * `lifecycle.disk.appMb`: a build is killed (the deploy then fails with the reason, through
 * `ctx.killedBuilds`), serving instances are stopped and leave the proxy, and the app is
 * `crashed` when none is left, with the reason in `lastError`. A check, not a quota: between two
 * rounds an app can write more than the limit.
 */
export function startDiskWatchdog(
  ctx: WorkerContext,
  perApp: KeyedMutex,
  supervisor: SupervisorHandle,
): DiskWatchdogHandle {
  const { docker, log, options } = ctx;
  const { disk, stopTimeoutS } = options.lifecycle;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();

  async function measure(): Promise<DiskAction[]> {
    const listed = await docker.listContainers({ all: true, size: true, filters: { label: scopeFilter(ctx.scope) } });
    const containers: ContainerUsage[] = listed.flatMap((c) => {
      const labels = c.Labels ?? {};
      const role = labels[containerLabels.role];
      const app = labels[containerLabels.app];
      const release = labels[containerLabels.release];
      if ((role !== 'app' && role !== 'build') || !app || !release) return [];
      return [
        {
          name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
          app,
          release,
          role,
          running: c.State === 'running',
          layerBytes: (c as { SizeRw?: number }).SizeRw ?? 0,
        },
      ];
    });
    const releaseDirBytes = new Map<string, number>();
    for (const c of containers) {
      const key = releaseKey(c.app, c.release);
      // One du at a time: the watchdog should not itself load the disk it guards.
      if (!releaseDirBytes.has(key))
        releaseDirBytes.set(key, await diskUsage(ctx.releases.releaseDir(c.app, c.release)));
    }
    // The build cache (workers/apps/go-cache.ts) of each app with a build running: it writes there too.
    const buildCacheBytes = new Map<string, number>();
    for (const app of new Set(containers.filter((c) => c.role === 'build' && c.running).map((c) => c.app))) {
      const dir = path.join(ctx.releases.appDir(app), buildCacheFolder);
      if (
        await fs.stat(dir).then(
          () => true,
          () => false,
        )
      )
        buildCacheBytes.set(app, await diskUsage(dir));
    }
    const serving = new Map<string, string | undefined>();
    for (const app of new Set(containers.map((c) => c.app))) {
      const doc = await ctx.apps.get(app);
      if (doc && doc.status !== 'deleting') serving.set(app, doc.release);
    }
    return planDiskActions({
      containers,
      releaseDirBytes,
      buildCacheBytes,
      serving,
      limitBytes: disk.appMb * 1024 * 1024,
      node: options.nodeId,
    });
  }

  async function apply(action: DiskAction): Promise<void> {
    log.warn(
      { app: action.app, release: action.release, usedBytes: action.usedBytes, action: action.kind },
      'over the disk limit',
    );
    if (action.kind === 'kill-build') {
      // Not under the app's lock: the deploy running the build holds it. The reason is set first,
      // so the build that sees its container die reports it.
      ctx.killedBuilds?.set(action.container, action.message);
      await docker
        .getContainer(action.container)
        .kill()
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
          // The build ended meanwhile: no reason may wait for a later attempt's build of that name.
          ctx.killedBuilds?.delete(action.container);
        });
      return;
    }
    await perApp.run(action.app, async () => {
      if (closed) return;
      const doc = await ctx.apps.get(action.app);
      if (!doc || doc.release !== action.release || doc.status === 'deleting') return;
      // Out of the document first (with the event, in one write): the supervisor then sees their
      // exit as no instance of the app's.
      await applyTransition(ctx.redis, action.app, overDiskLimit(action.release, action.containers, action.message));
      supervisor.reset(action.app);
      await Promise.all(action.containers.map((c) => stopContainer(docker, c, stopTimeoutS)));
    });
  }

  /** Apps with a stop waiting for their lock: one at a time each. */
  const stopping = new Set<string>();

  async function check(): Promise<void> {
    const actions = await measure();
    for (const action of actions) {
      if (closed) return;
      const failed = (err: unknown) => log.warn({ err, app: action.app }, 'cannot act on a disk limit');
      if (action.kind === 'kill-build') {
        await apply(action).catch(failed);
      } else if (!stopping.has(action.app)) {
        // Not awaited: a stop waits for the app's lock, which a deploy may hold for minutes, and
        // the other apps' measures and builds must not wait with it.
        stopping.add(action.app);
        void apply(action)
          .catch(failed)
          .finally(() => stopping.delete(action.app));
      }
    }
  }

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      round = check()
        .catch((err) => log.warn({ err }, 'disk check round failed'))
        .finally(schedule);
    }, disk.checkIntervalMs);
    timer.unref();
  };
  schedule();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await round;
    },
  };
}
