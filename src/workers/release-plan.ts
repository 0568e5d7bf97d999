import { resolveResources } from '../core/resources.ts';
import type { AppDocument } from '../store/app-document.ts';
import { maskedValue, type ReleaseConfig, type ReleaseRecord } from '../store/release-records.ts';
import type { WorkerContext } from './context.ts';
import type { InstancePlan } from './instances.ts';

/** What an app's containers run with, from its document and the release's command. */
export function planInstances(
  ctx: WorkerContext,
  doc: AppDocument,
  release: string,
  image: string,
  command: string,
  sealedEnv: Record<string, string> = doc.sealedEnv,
  port: number = doc.port,
): InstancePlan {
  return {
    app: doc.name,
    release,
    releaseDir: ctx.releases.releaseDir(doc.name, release),
    image,
    command,
    env: Object.fromEntries(Object.entries(sealedEnv).map(([k, v]) => [k, ctx.secrets.open(v)])),
    port,
    count: doc.instanceCount ?? 1,
    resources: resolveResources(doc.resources, ctx.options.lifecycle.resources),
    healthPath: doc.healthCheck?.path,
  };
}

/** The snapshot a release record keeps: what ran, with env values masked. */
export function releaseConfig(doc: AppDocument, plan: InstancePlan): ReleaseConfig {
  return {
    runtime: doc.runtime,
    image: plan.image,
    repo: doc.repo,
    build: doc.build ?? [],
    run: plan.command,
    port: plan.port,
    env: Object.fromEntries(Object.keys(doc.sealedEnv).sort().map((k) => [k, maskedValue])),
    instances: plan.count,
    resources: { cpu: plan.resources.cpu, memory: plan.resources.memoryMb },
    healthCheck: doc.healthCheck ?? {},
  };
}

/** Marks `active` the serving release and every other formerly active one `superseded`. */
export async function recordActivation(ctx: WorkerContext, app: string, active: string, patch: Partial<ReleaseRecord>): Promise<void> {
  const now = new Date().toISOString();
  for (const record of await ctx.records.list(app)) {
    if (record.id === active) {
      await ctx.records.put({ ...record, ...patch, status: 'active', timings: { ...record.timings, ...patch.timings, activatedAt: [...record.timings.activatedAt, now] } });
    } else if (record.status === 'active') {
      await ctx.records.put({ ...record, status: 'superseded' });
    }
  }
}

/** Records which release directories pruning removed: those cannot be rolled back to. */
export async function recordPruned(ctx: WorkerContext, app: string, pruned: readonly string[]): Promise<void> {
  for (const id of pruned) await ctx.records.update(app, id, (r) => ({ ...r, onDisk: false }));
}
