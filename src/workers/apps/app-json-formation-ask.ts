import { keys } from '../../core/keys.ts';
import type { AppDocument } from '../../store/app-document.ts';
import type { WorkerContext } from '../context.ts';
import type { JobReporter } from '../job-reporter.ts';
import type { AppJson } from './app-json.ts';
import { decideAppJsonFormation } from './app-json-formation.ts';
import { isFirstDeploy } from './postdeploy.ts';

/**
 * The first deploy's part of app.json's formation (app-json-formation.ts): records the ask on the
 * app (compare-and-set: only while the app still has no formation of its own) and names the app
 * in the set the control plane reads. Safe to repeat: a retried deploy finds the ask made.
 */
export async function askAppJsonFormation(
  ctx: WorkerContext,
  doc: AppDocument,
  release: string,
  appJson: AppJson,
  report: Pick<JobReporter, 'line'>,
): Promise<void> {
  const fresh = (await ctx.apps.get(doc.name)) ?? doc;
  if (fresh.uid !== doc.uid) return;
  const decision = decideAppJsonFormation({
    formation: appJson.formation,
    app: fresh,
    firstDeploy: await isFirstDeploy(ctx, doc, release),
  });
  if (decision.ask) {
    const ask = decision.ask;
    const stored = await ctx.apps.update(doc.name, (d) =>
      d.uid === doc.uid &&
      d.status !== 'deleting' &&
      d.instanceCount === undefined &&
      d.processes === undefined &&
      d.formationAsk === undefined
        ? { ...d, formationAsk: { processes: ask, release } }
        : undefined,
    );
    // A PATCH that came meanwhile wins (unchanged: no ask); a retry's ask is already there.
    if (!stored?.formationAsk) {
      await report.line('app.json: formation not applied: the app got a formation of its own meanwhile');
      return;
    }
    await ctx.redis.sadd(keys.appJsonFormations, doc.name);
  }
  if (decision.line) await report.line(decision.line);
}
