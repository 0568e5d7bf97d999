/**
 * app.json's `scripts.postdeploy` (Heroku's meaning: once, after the app is created): run after
 * the app's first successful deploy, on the primary node, in a one-off container of the release
 * like the release phase (one-off.ts), its output in the deploy's job log. A failure is said in
 * the job log and the app's `lastError`, and the deploy stands: the release already serves.
 *
 * At most once: a claim on the app document (`postdeploy`, made with compare-and-set before the
 * container starts) is what a retried deploy, a later deploy or another job finds, and none of
 * them runs the command again, even when the claimed run never finished (a worker that died
 * mid-run): a seed script run twice does more harm than one run short, which the job log says.
 */
import type { Job } from 'bullmq';
import { operationFailed } from '../../core/app-state.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import type { WorkerContext } from '../context.ts';
import type { JobReporter } from '../job-reporter.ts';
import type { InstancePlan } from './instances.ts';
import { runOneOff } from './one-off.ts';
import { releaseFailureMessage } from './release-phase.ts';
import { runTimeoutMs } from './run-app.ts';

/** What the app document keeps of its postdeploy run. */
export type PostdeployClaim = NonNullable<AppDocument['postdeploy']>;

export type PostdeployDecision = { run: true } | { run: false; line?: string };

/**
 * Whether this deploy runs the postdeploy command (pure). `firstDeploy`: no other release of the
 * app ever served. A claim means it ran (or started) once already: never again.
 */
export function decidePostdeploy(input: {
  command: string | undefined;
  firstDeploy: boolean;
  claim: PostdeployClaim | undefined;
}): PostdeployDecision {
  const { command, claim } = input;
  if (command === undefined) return { run: false };
  if (claim)
    return {
      run: false,
      line: `app.json: scripts.postdeploy not run: it ran once already (release ${claim.release}, ${claim.startedAt}${claim.exitCode !== undefined ? `, exit code ${claim.exitCode}` : claim.finishedAt ? '' : ', never finished'})`,
    };
  if (!input.firstDeploy)
    return {
      run: false,
      line: 'app.json: scripts.postdeploy not run: it runs only after the first successful deploy of the app',
    };
  return { run: true };
}

/** Whether `release` is the app's first to serve: no other release was ever activated. */
export async function isFirstDeploy(ctx: WorkerContext, doc: AppDocument, release: string): Promise<boolean> {
  if (doc.release !== undefined && doc.release !== release) return false;
  const records = await ctx.records.list(doc.name);
  return !records.some((r) => r.id !== release && r.timings.activatedAt.length > 0);
}

/**
 * Runs app.json's postdeploy once, after the switch (deploy-app.ts). Never throws for the
 * command's failure: the release serves whatever it does.
 */
export async function runPostdeploy(
  ctx: WorkerContext,
  input: { job: Job; report: JobReporter; plan: InstancePlan; doc: AppDocument; release: string; command?: string },
): Promise<void> {
  const { job, report, plan, doc, release, command } = input;
  if (command === undefined) return;
  const fresh = (await ctx.apps.get(doc.name)) ?? doc;
  if (fresh.uid !== doc.uid) return;
  const decision = decidePostdeploy({
    command,
    firstDeploy: await isFirstDeploy(ctx, doc, release),
    claim: fresh.postdeploy,
  });
  if (!decision.run) {
    if (decision.line) await report.line(decision.line);
    return;
  }
  const claim: PostdeployClaim = { release, job: job.id!, startedAt: new Date().toISOString() };
  // The claim first: of two jobs (or attempts) racing here, one runs it.
  const claimed = await ctx.apps.update(doc.name, (d) =>
    d.uid === doc.uid && d.status !== 'deleting' && !d.postdeploy ? { ...d, postdeploy: claim } : undefined,
  );
  if (!claimed || claimed.postdeploy?.job !== claim.job || claimed.postdeploy.startedAt !== claim.startedAt) {
    await report.line('app.json: scripts.postdeploy not run: another job claimed it');
    return;
  }
  await report.line(`app.json: postdeploy: ${command} (once, after the first deploy)`);
  const timeoutMs = runTimeoutMs(ctx);
  let message: string | undefined;
  let exitCode: number | undefined;
  try {
    const result = await runOneOff(ctx, {
      key: `${job.id}-postdeploy`,
      plan,
      command,
      timeoutMs,
      onLine: (line) => report.line(`  ${line}`),
    });
    exitCode = result.exitCode;
    if (result.exitCode !== 0 || result.timedOut)
      message = releaseFailureMessage(command, result, timeoutMs).replace(/^release phase/, 'postdeploy');
    else await report.line(`app.json: postdeploy succeeded in ${result.durationMs} ms`);
  } catch (err) {
    message = `postdeploy (${command}) could not run: ${(err as Error).message}`;
  }
  const finished: PostdeployClaim = {
    ...claim,
    finishedAt: new Date().toISOString(),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(message ? { error: message } : {}),
  };
  await ctx.apps
    .update(doc.name, (d) =>
      d.uid === doc.uid && d.postdeploy?.job === claim.job ? { ...d, postdeploy: finished } : undefined,
    )
    .catch((err) => ctx.log.warn({ err, app: doc.name }, 'cannot record the postdeploy run'));
  if (message) {
    await report.line(`${message}; the deploy stands (the release serves), and postdeploy is not run again`);
    await applyTransition(ctx.redis, doc.name, operationFailed('postdeploy', message)).catch((err) =>
      ctx.log.warn({ err, app: doc.name }, 'cannot record the postdeploy failure'),
    );
  }
}
