import { placementOf } from '../../core/app-placement.ts';
import { processesStarted } from '../../core/app-state.ts';
import { processSlots, resolveFormation, webProcess } from '../../core/formation.ts';
import type { Instance } from '../../events/schemas.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import type { ReleaseRecord } from '../../store/release-records.ts';
import type { WorkerContext } from '../context.ts';
import { type InstancePlan, prepareInstances, startInstances } from './instances.ts';
import { planForRelease } from './release-plan.ts';

/**
 * The process types other than `web` (core/formation.ts) in a rollout: they start after the
 * switch, so a release whose web instances never became healthy never ran its workers (a queue
 * worker of a failed release would already have consumed jobs), and the previous release's
 * ones are stopped by the drain that follows, as its web instances are.
 */

/** A release's process types and their commands: the record's, or web alone for a release from before process types. */
export function releaseProcesses(record: ReleaseRecord | undefined, web: InstancePlan): Record<string, string> {
  return record?.config.processes ?? { [webProcess]: web.command };
}

/**
 * This node's containers of each type other than `web` that `release` declares and the
 * formation runs here: the web plan's image, env, limits and networks with the type's command,
 * no port, no health check.
 */
export function planProcesses(
  ctx: WorkerContext,
  doc: AppDocument,
  web: InstancePlan,
  commands: Readonly<Record<string, string>>,
): InstancePlan[] {
  const { counts } = resolveFormation(Object.keys(commands), doc);
  return Object.keys(counts)
    .filter((type) => type !== webProcess && counts[type]! > 0)
    .flatMap((type) => {
      const slots = processSlots(placementOf(doc), doc, ctx.options.nodeId, type);
      if (slots.offsets.length === 0) return [];
      // The command is given as it is (not through the launcher, which runs the web command).
      const { launchDir: _launcher, healthPath: _health, healthRules: _rules, ...rest } = web;
      return [{ ...rest, process: type, command: commands[type]!, count: slots.offsets.length, slots }];
    });
}

/**
 * Creates and starts this node's containers of the other process types (beside any serving
 * ones, which the drain then removes) and adds them to the app's instances. Returns their names,
 * for the drain to keep.
 */
export async function startProcesses(
  ctx: WorkerContext,
  release: string,
  plans: readonly InstancePlan[],
  serving: readonly string[],
): Promise<{ names: string[]; instances: Instance[] }> {
  const started = await Promise.all(
    plans.map(async (plan) => {
      const names = await prepareInstances(ctx, plan, serving);
      return { names, instances: await startInstances(ctx, plan, names) };
    }),
  );
  const instances = started.flatMap((s) => s.instances);
  if (instances.length) await applyTransition(ctx.redis, plans[0]!.app, processesStarted(release, instances));
  return { names: started.flatMap((s) => s.names), instances };
}

/**
 * Starts this node's containers of the other process types that the running release should have
 * and the app's instances lack: a deploy whose job failed between the switch and their start is
 * retried as "release already running", and converges here instead of leaving them out.
 * Returns the names started (none when nothing was missing).
 */
export async function ensureProcesses(ctx: WorkerContext, doc: AppDocument): Promise<string[]> {
  if (doc.status !== 'running' || !doc.release) return [];
  const record = await ctx.records.get(doc.name, doc.release);
  if (!record?.config.processes) return [];
  const web = await planForRelease(ctx, doc, doc.release, record);
  const here = doc.instances.filter((i) => i.node === ctx.options.nodeId);
  const missing = planProcesses(ctx, doc, web, record.config.processes).filter(
    (plan) => !here.some((i) => i.process === plan.process),
  );
  if (missing.length === 0) return [];
  return (
    await startProcesses(
      ctx,
      doc.release,
      missing,
      doc.instances.map((i) => i.container),
    )
  ).names;
}
