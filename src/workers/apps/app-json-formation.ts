/**
 * app.json's `formation` (Heroku's `{"web": {"quantity": 2}, "worker": {"quantity": 1}}`): what
 * the app's first deploy does with it. Heroku applies it when the app is created (app setup) and
 * never again; Gasper, whose API places an app before anything is cloned, asks for it once, at
 * the end of the app's first successful deploy, and only when the app has no formation of its own
 * (neither `instances` nor `processes` given at creation nor by a PATCH since: the user's wins).
 * The control plane then checks the owner's quotas, places the containers and redeploys
 * (api/app-json-formation.ts). Pure: test/workers/apps/app-json-formation.unit.test.ts.
 */
import type { AppJson } from './app-json.ts';

export type FormationDecision = { ask?: Record<string, number>; line?: string };

const words = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts)
    .map(([t, n]) => `${t} ×${n}`)
    .join(', ');

/** Whether this deploy asks for app.json's formation, and what the job log says. */
export function decideAppJsonFormation(input: {
  formation: AppJson['formation'];
  /** The app's own formation fields, as the user set them. */
  app: {
    instanceCount?: number | undefined;
    processes?: Readonly<Record<string, number>> | undefined;
    /** `app.json`: its processes are app.json's formation, applied after the first deploy. */
    formationSource?: 'app.json' | undefined;
    /** Asked already, not applied yet. */
    formationAsk?: unknown;
  };
  /** No other release of the app ever served. */
  firstDeploy: boolean;
}): FormationDecision {
  const asked = Object.fromEntries(Object.entries(input.formation).map(([t, f]) => [t, f.quantity]));
  if (Object.keys(asked).length === 0) return {};
  const said = `app.json: formation ${words(asked)}`;
  if (input.app.formationSource === 'app.json')
    return { line: `${said}: applied (the app's processes come from app.json; PATCH processes to change them)` };
  if (input.app.formationAsk !== undefined) return { line: `${said}: asked already, the control plane applies it` };
  if (input.app.instanceCount !== undefined || input.app.processes !== undefined)
    return {
      line: `${said} not applied: the app has its own (instances or processes, given at creation or by PATCH), which wins`,
    };
  if (!input.firstDeploy)
    return {
      line: `${said} not applied: it applies after the app's first deploy only, as on Heroku (PATCH /apps/:name {"processes": …} to scale)`,
    };
  // The app's formation now is the default: one web, nothing else.
  const same = Object.entries(asked).every(([t, n]) => n === (t === 'web' ? 1 : 0));
  if (same) return { line: `${said}: what the app runs already` };
  return {
    ask: asked,
    line: `${said} asked (the app has no formation of its own): the control plane checks the quotas, places it and redeploys`,
  };
}
