import { placementOf } from '../core/app-placement.ts';
import { keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';
import type { AppDocument } from '../store/app-document.ts';
import { placeApp } from './cluster/node-placement.ts';
import type { ApiDeps } from './deps.ts';
import { enforceAppQuotas } from './quotas.ts';
import { enqueueRedeploy } from './redeploy.ts';
import { platformActor } from './release-reasons.ts';

/** The redeploys that apply app.json's formation (the platform's, after a deploy read it). */
const appJsonCause = { by: platformActor, reason: "the formation of the repository's app.json" };

type Deps = Pick<ApiDeps, 'apps' | 'nodes' | 'enqueue' | 'redis' | 'options' | 'users'>;

const words = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts)
    .map(([t, n]) => `${t} ×${n}`)
    .join(', ');

/**
 * Applies the app.json formations that first deploys asked for (workers/apps/app-json-formation.ts),
 * where placement is decided: as `PATCH /apps/:name {"processes": …}` would, the owner's quotas
 * are checked, the containers placed, and the branch head redeployed, with `processes` set and
 * `formationSource: "app.json"`. An app that got a formation of its own meanwhile keeps it; one
 * over its quotas or without room keeps one web, and `lastError` says why. Each app is taken out of
 * the set once handled, so a failure is not tried again and again; safe with several API processes
 * (the document's compare-and-set lets one apply it). Run by the node monitor's check.
 */
export async function applyAppJsonFormations(deps: Deps, log: Logger): Promise<void> {
  for (const name of await deps.redis.smembers(keys.appJsonFormations)) {
    await applyOne(deps, name).catch((err) =>
      log.warn({ err, app: name }, 'cannot apply the app.json formation; tried again at the next check'),
    );
  }
}

async function applyOne(deps: Deps, name: string): Promise<void> {
  const doc = await deps.apps.get(name);
  const ask = doc?.formationAsk;
  const done = () => deps.redis.srem(keys.appJsonFormations, name);
  if (!doc || doc.status === 'deleting') return void (await done());
  if (!ask) {
    // Applied by an earlier check whose redeploy could not be enqueued (the app is still in the
    // set): enqueued now. At worst a second deploy of the same branch head.
    if (doc.formationSource === 'app.json') await enqueueRedeploy(deps, name, appJsonCause);
    return void (await done());
  }
  const dropAsk = (lastError?: string) =>
    deps.apps.update(name, (d) =>
      d.uid === doc.uid && d.formationAsk
        ? { ...d, formationAsk: undefined, ...(lastError ? { lastError } : {}) }
        : undefined,
    );
  if (doc.instanceCount !== undefined || doc.processes !== undefined) {
    await dropAsk();
    return void (await done());
  }
  const next: AppDocument = { ...doc, processes: ask.processes };
  let placed: { node: string; placement: string[] };
  try {
    await enforceAppQuotas(deps, doc.owner, name, next, false);
    placed = await placeApp(deps, next, { current: placementOf(doc) });
  } catch (err) {
    await dropAsk(`app.json formation ${words(ask.processes)} not applied: ${(err as Error).message}`);
    return void (await done());
  }
  const stored = await deps.apps.update(name, (d) =>
    d.uid === doc.uid &&
    d.status !== 'deleting' &&
    d.instanceCount === undefined &&
    d.processes === undefined &&
    d.formationAsk !== undefined
      ? { ...d, ...placed, processes: ask.processes, formationSource: 'app.json', formationAsk: undefined }
      : undefined,
  );
  if (stored?.formationSource === 'app.json' && stored.processes) await enqueueRedeploy(deps, name, appJsonCause);
  await done();
}
