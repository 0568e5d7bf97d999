import type Docker from 'dockerode';
import { scopeFilter, type DockerScope } from '../../core/installation.ts';
import type { Logger } from '../../core/log.ts';
import { containerLabels } from '../../core/naming.ts';
import type { AppMetricsStore, ResourceSample } from '../../store/app-metrics.ts';
import { cpuLimitCores, cpuUsage, memoryUsage, type CpuStats, type MemoryStats } from './resource-usage.ts';

export interface MetricsSamplerOptions {
  /** Whose containers to observe: this installation's, on this node. */
  scope: DockerScope;
  /** Pause between two rounds of sampling. Default 5 s. */
  intervalMs?: number;
}

export interface MetricsSamplerHandle {
  /** One round now: every running app container of the node. */
  sampleOnce(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Samples the CPU and memory of this node's running app containers every few seconds into
 * Redis, where `GET /apps/:name/metrics` reads them. CPU is a rate: Docker's one-shot stats
 * carry two cumulative readings about a second apart (`precpu_stats`, `cpu_stats`), and the
 * difference is turned into a share of the container's CPU limit (see resource-usage.ts).
 */
export function startMetricsSampler(
  options: MetricsSamplerOptions,
  deps: { docker: Docker; store: AppMetricsStore; log: Logger },
): MetricsSamplerHandle {
  const { docker, store } = deps;
  const log = deps.log.child({ component: 'metrics-sampler' });
  const limits = new Map<string, number | undefined>();
  let appsSeen = new Set<string>();

  async function sampleContainer(id: string, labels: Record<string, string>, name: string): Promise<void> {
    const container = docker.getContainer(id);
    if (!limits.has(id)) limits.set(id, cpuLimitCores((await container.inspect()).HostConfig));
    const stats = (await container.stats({ stream: false })) as unknown as {
      read?: string;
      cpu_stats?: CpuStats;
      precpu_stats?: CpuStats;
      memory_stats?: MemoryStats;
    };
    // A container that stopped after the listing answers with empty stats (no cpu_stats), not a
    // 404: there is nothing to record, as for a container already gone.
    if (!stats.cpu_stats || !stats.memory_stats) return;
    const sample: ResourceSample = {
      at: stats.read && !stats.read.startsWith('0001') ? stats.read : new Date().toISOString(),
      cpu: cpuUsage(stats.precpu_stats ?? {}, stats.cpu_stats, limits.get(id)) ?? null,
      memory: memoryUsage(stats.memory_stats) ?? null,
    };
    await store.record(
      labels[containerLabels.app]!,
      { instance: name, node: options.scope.node, release: labels[containerLabels.release] ?? '' },
      sample,
    );
  }

  async function sampleOnce(): Promise<void> {
    const running = await docker.listContainers({
      filters: {
        label: scopeFilter(options.scope, { [containerLabels.role]: 'app' }),
        status: ['running'],
      },
    });
    const current = new Map<string, Set<string>>();
    await Promise.all(
      running.map(async (c) => {
        const app = c.Labels[containerLabels.app];
        if (!app) return;
        const name = (c.Names[0] ?? c.Id).replace(/^\//, '');
        current.set(app, (current.get(app) ?? new Set()).add(name));
        await sampleContainer(c.Id, c.Labels, name).catch((err) => {
          // A container stopping between the listing and its stats is routine.
          if ((err as { statusCode?: number }).statusCode !== 404)
            log.warn({ err: (err as Error).message, container: name }, 'cannot sample container');
        });
      }),
    );
    const ids = new Set(running.map((c) => c.Id));
    for (const id of limits.keys()) if (!ids.has(id)) limits.delete(id);
    // Instances that stopped on this node leave the history (an app stopped entirely, too).
    for (const app of new Set([...appsSeen, ...current.keys()])) {
      await store.prune(app, options.scope.node, current.get(app) ?? new Set()).catch(() => {});
    }
    appsSeen = new Set(current.keys());
  }

  let closing = false;
  let wake: () => void = () => {};
  const loop = (async () => {
    while (!closing) {
      await sampleOnce().catch((err) => log.warn({ err: (err as Error).message }, 'metrics round failed'));
      if (closing) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, options.intervalMs ?? 5000).unref();
      });
    }
  })();

  let closed: Promise<void> | undefined;
  return {
    sampleOnce,
    close() {
      closed ??= (async () => {
        closing = true;
        wake();
        await loop;
      })();
      return closed;
    },
  };
}
