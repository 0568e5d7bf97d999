import { UnrecoverableError, type Job } from 'bullmq';
import type { Instance } from '../../events/schemas.ts';
import { nodesOf, shareOf } from '../../core/app-placement.ts';
import { type AppTransition, operationFailed, stopped, switched } from '../../core/app-state.ts';
import type { OperateAppData } from '../../jobs/schemas.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import type { ReleaseRecord } from '../../store/release-records.ts';
import type { WorkerContext } from '../context.ts';
import { explain } from './deploy-app.ts';
import { containersOutside, drainAndRemove, type InstancePlan } from './instances.ts';
import { JobReporter } from '../job-reporter.ts';
import { launcherCommand } from './launcher.ts';
import { checkReleaseImage, planForRelease, recordActivation } from './release-plan.ts';
import { failRollout, RolloutAbandoned, type Rollout } from './rollout.ts';
import { ShareRollout } from './share-rollout.ts';
import { resolveFormation } from '../../core/formation.ts';
import { planProcesses, releaseProcesses, startProcesses } from './process-rollout.ts';
import { describeCheck } from './health-verdict.ts';

export type OperateResult =
  | { outcome: 'restarted' | 'started' | 'rolled-back'; release: string; instances: Instance[]; durationMs: number }
  | { outcome: 'stopped'; containers: number }
  | { outcome: 'unchanged' | 'skipped'; reason: string };

/** Something the supervisor is told when an operation changes which containers it should watch. */
export interface OperationHooks {
  /** Forget crash history and pending restarts of the app (it was stopped, restarted, rolled back). */
  reset(app: string): void;
}

/**
 * Restart, stop, start and rollback: operations on releases already on disk, so none clones or
 * builds. Each node of the app runs its part. Restart, start and rollback start new containers
 * beside the serving ones, wait for their health check, switch the proxy once every node's are
 * healthy, then drain the old ones (zero downtime). Each re-reads the app and converges, so
 * running one twice changes nothing more.
 */
export async function operateApp(
  ctx: WorkerContext,
  job: Job,
  data: OperateAppData,
  hooks: OperationHooks,
): Promise<OperateResult> {
  const report = new JobReporter(job, ctx.log);
  const doc = await ctx.apps.get(data.app);
  if (!doc || doc.uid !== data.uid || doc.status === 'deleting')
    return { outcome: 'skipped', reason: 'app is deleted or being deleted' };
  if (data.op === 'stop') return stopApp(ctx, report, doc, hooks);
  if (shareOf(doc, ctx.options.nodeId) === 0)
    return { outcome: 'skipped', reason: `no instance of the app is placed on node ${ctx.options.nodeId}` };
  if (data.op === 'start' && doc.status === 'running' && doc.instances.length > 0) {
    return { outcome: 'unchanged', reason: 'app is already running' };
  }
  const target = data.op === 'rollback' ? data.release! : doc.release;
  if (!target) throw new UnrecoverableError('the app has no release yet: deploy it first (POST /apps/:name/rebuild)');
  if (data.op === 'rollback' && target === doc.release && doc.status === 'running') {
    return { outcome: 'unchanged', reason: `release ${target} is already running` };
  }
  const record = await ctx.records.get(doc.name, target);
  if (data.op === 'rollback' && (!record?.onDisk || !(await ctx.releases.exists(doc.name, target)))) {
    // A node that joined the app after that release never had it: the other nodes stop waiting.
    const message = `release ${target} is not on disk on node ${ctx.options.nodeId} (only the last ${ctx.options.keepReleases} are kept, and only where it was deployed)`;
    await failRollout(ctx, { app: doc.name, id: `op-${data.seq}` }, message);
    throw new UnrecoverableError(message);
  }

  const started = Date.now();
  const plan = await planForRelease(ctx, doc, target, record);
  try {
    await report.step(
      10,
      `${data.op === 'rollback' ? `rolling back to ${target}` : `${data.op}ing ${target}`}: preparing ${plan.count} instance(s)`,
    );
    const rollout: Rollout = {
      app: doc.name,
      id: `op-${data.seq}`,
      nodes: nodesOf(doc),
      wanted: (d) => d.uid === doc.uid && d.status !== 'deleting',
      timeoutMs: ctx.options.healthTimeoutMs + 120_000,
    };
    await checkReleaseImage(ctx, plan);
    const restored = data.op === 'rollback' && record ? restoredConfig(record) : undefined;
    const commands = releaseProcesses(record, plan);
    // The formation of the app as it will be: a rollback restores nothing of it (it is not a release's).
    const formation = record?.config.processes ? resolveFormation(Object.keys(commands), doc).counts : undefined;
    const instances = await rollOut(ctx, report, doc, plan, rollout, commands, (all) =>
      switched(all, {
        release: plan.release,
        endsPendingRelease: false,
        ...(restored ? { restored } : {}),
        ...(formation ? { formation } : {}),
      }),
    );
    hooks.reset(doc.name);
    if (data.op === 'rollback') await recordActivation(ctx, doc.name, target, {});
    await report.step(100, data.op === 'rollback' ? `rolled back to ${target}` : `${data.op}ed`);
    const outcome = data.op === 'rollback' ? 'rolled-back' : data.op === 'start' ? 'started' : 'restarted';
    return { outcome, release: target, instances, durationMs: Date.now() - started };
  } catch (err) {
    if (err instanceof RolloutAbandoned && err.superseded) return { outcome: 'skipped', reason: err.message };
    const failure = await explain(ctx, err);
    await report.line(`failed: ${failure.message}`);
    const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (final && !(err instanceof RolloutAbandoned))
      await failRollout(ctx, { app: doc.name, id: `op-${data.seq}` }, failure.message);
    // The serving instances (if any) keep serving; the status says why the operation failed.
    if (final) await applyTransition(ctx.redis, doc.name, operationFailed(data.op, failure.message));
    throw failure.permanent ? new UnrecoverableError(failure.message) : err;
  }
}

/** A rollback restores the release's configuration too, so the app's desired state is what runs. */
function restoredConfig(record: ReleaseRecord): Partial<AppDocument> {
  return {
    commit: record.commit,
    build: record.config.build.length ? record.config.build : undefined,
    // A release that ran the launcher had no `run` of its own: its command came from the repository.
    // A Dockerfile release with no command of its own ran the image's CMD (an empty `run`).
    run: record.config.run === launcherCommand || record.config.run === '' ? undefined : record.config.run,
    port: record.config.port,
    sealedEnv: record.sealedEnv,
  };
}

/**
 * This node's share of the operation (share-rollout.ts), its steps back to back: prepare beside
 * the serving containers, start, switch by `to` once every node's share is healthy, drain.
 */
async function rollOut(
  ctx: WorkerContext,
  report: JobReporter,
  doc: AppDocument,
  plan: InstancePlan,
  rollout: Rollout,
  /** The release's process types and commands: those other than web start after the switch. */
  commands: Readonly<Record<string, string>>,
  to: (all: Instance[]) => AppTransition,
): Promise<Instance[]> {
  const share = new ShareRollout(
    ctx,
    plan,
    doc.instances.map((i) => i.container),
  );
  const names = await share.prepare();
  let all: Instance[];
  try {
    await report.step(
      30,
      `starting ${names.join(', ')}, waiting for ${describeCheck(plan.healthPath === undefined ? {} : { path: plan.healthPath, ...plan.healthRules })}`,
    );
    const instances = await share.start();
    await report.done('new instances are healthy');
    await report.step(
      70,
      rollout.nodes.length > 1
        ? `switching traffic once every node's instances are healthy (${rollout.nodes.join(', ')})`
        : 'switching traffic',
    );
    all = await share.switch(rollout, instances, to);
  } catch (err) {
    await share.discard();
    throw err;
  }
  const others = planProcesses(ctx, doc, plan, commands);
  const processes = others.length
    ? await startProcesses(
        ctx,
        plan.release,
        others,
        doc.instances.map((i) => i.container),
      )
    : { names: [], instances: [] };
  if (processes.names.length) await report.line(`started ${processes.names.join(', ')}`);
  await report.step(85, 'draining the previous instances');
  await share.drain(processes.names);
  return [...all, ...processes.instances];
}

/**
 * Takes this node's instances out of the proxy, lets in-flight requests finish, stops its
 * containers (SIGTERM) and removes them. Each node stops its own; the app is `stopped` from the
 * first, so none of its instances is restarted meanwhile.
 */
async function stopApp(
  ctx: WorkerContext,
  report: JobReporter,
  doc: AppDocument,
  hooks: OperationHooks,
): Promise<OperateResult> {
  await report.step(10, 'taking the app out of the proxy');
  // The document and the event go together: the proxy stops routing here as the app is marked stopped.
  await applyTransition(ctx.redis, doc.name, stopped(ctx.options.nodeId));
  hooks.reset(doc.name);
  await report.step(40, 'draining and stopping the containers');
  const containers = await containersOutside(ctx, doc.name, []);
  await drainAndRemove(ctx, containers);
  await report.step(100, 'stopped');
  return { outcome: 'stopped', containers: containers.length };
}
