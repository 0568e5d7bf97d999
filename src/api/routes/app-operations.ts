import { storeEdge } from '../app-edge.ts';
import { Router, type Response } from 'express';
import { keys } from '../../core/keys.ts';
import { releaseId } from '../../core/naming.ts';
import { defaultResourcePolicy } from '../../core/resources.ts';
import { operationJobId } from '../../jobs/enqueue.ts';
import type { AppOperation } from '../../jobs/schemas.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { type ReleaseCause, ReleaseCauseStore } from '../../store/release-causes.ts';
import { ReleaseStore, type ReleaseRecord } from '../../store/release-records.ts';
import { nodesOf, placementOf } from '../../core/app-placement.ts';
import { patchedFields, planPatch } from '../app-patch.ts';
import { desiredFormation, formationOrder } from '../../core/formation.ts';
import { ensureRoomInPlace, holdsCapacity, placeApp } from '../cluster/node-placement.ts';
import { patchAppRequest, rebuildRequest, rollbackRequest } from '../app-patch-request.ts';
import { principalOf } from '../auth.ts';
import { enforceAppQuotas } from '../quotas.ts';
import { patchReason } from '../release-reasons.ts';
import { checkedRepo } from '../repo-settings.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { runtimeOrDockerfile } from '../builder-fields.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { appView, jobRef } from '../views.ts';
import { visibleApp } from '../visible.ts';

/** States in which a job has not started yet: asking again returns it instead of adding one. */
const notStarted = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/**
 * A release as the API shows it: never the sealed env; the build log only when asked for one
 * release; who asked for it and why, oldest first (`causes`: changes coalesced into one deploy,
 * then each rollback to it).
 */
export function releaseView(
  record: ReleaseRecord,
  current: string | undefined,
  withLog: boolean,
  causes: readonly ReleaseCause[] = [],
) {
  const { sealedEnv: _sealed, buildLog, ...rest } = record;
  return {
    ...rest,
    current: record.id === current,
    causes: causes.map(({ by, reason, at }) => ({ by, reason, at })),
    buildLogLines: buildLog.length,
    ...(withLog ? { buildLog } : {}),
  };
}

/**
 * Operations on an app: `PATCH /apps/:name`, restart, stop, start, rebuild, rollback, and its
 * releases. Each operation is a job with a fixed id (202 with where to poll); repeating a
 * request whose job has not started yet returns that job.
 */
export function appOperationsRouter(deps: ApiDeps): Router {
  const { apps, enqueue, secrets, options, redis, queues } = deps;
  const records = new ReleaseStore(redis);
  const causes = new ReleaseCauseStore(redis);
  const policy = options.resources ?? defaultResourcePolicy;
  const patchSchema = patchAppRequest({ resources: policy, allowLocalRepos: options.allowLocalRepos });
  const view = (doc: AppDocument) => appView(doc, options);
  const router = Router();

  /** The app, if the caller may see it and it is not being deleted. */
  async function load(res: Response, name: string): Promise<AppDocument> {
    const doc = await visibleApp(apps, res, name);
    if (doc.status === 'deleting') throw new ApiError('APP_BUSY', `app "${name}" is being deleted`);
    return doc;
  }

  /** The job, when it exists and has not started yet. */
  async function notStartedJob(id: string | undefined) {
    if (!id) return undefined;
    const queueName = await redis.get(keys.jobQueue(id));
    const job = queueName ? await queues.byName(queueName).getJob(id) : undefined;
    return job && notStarted.has(await job.getState()) ? job : undefined;
  }

  /** The fields a PATCH sets, over the app as it is now (a worker may have changed the rest). */
  const withSettings = (d: AppDocument, next: AppDocument | undefined): AppDocument => {
    if (!next) return d;
    const settings = Object.fromEntries(patchedFields.map((field) => [field, next[field]]));
    return { ...d, ...settings };
  };

  /**
   * A deploy of the branch head as a new release, unless one not started yet would do the same.
   * A change of instances or resources places the app anew (core/place-instances.ts: its
   * instances stay where they are when they still fit).
   */
  async function redeploy(doc: AppDocument, by: string, reason: string, next?: AppDocument, cache = true) {
    // A change of volumes places the app anew too: an app with volumes runs on one node.
    const resized =
      next &&
      (next.instanceCount !== doc.instanceCount ||
        JSON.stringify(formationOrder(desiredFormation(next))) !==
          JSON.stringify(formationOrder(desiredFormation(doc))) ||
        JSON.stringify(next.resources) !== JSON.stringify(doc.resources) ||
        JSON.stringify(next.volumes ?? []) !== JSON.stringify(doc.volumes ?? []));
    // An app that holds no room (failed, stopped, crashed: no container) asks for it again.
    const placed =
      resized || !holdsCapacity(doc) ? await placeApp(deps, next ?? doc, { current: placementOf(doc) }) : undefined;
    const moves = placed !== undefined && JSON.stringify(placed.placement) !== JSON.stringify(placementOf(doc));
    const pendingJob = doc.pendingRelease ? `deploy-${doc.name}-${doc.uid}-${doc.pendingRelease}` : undefined;
    // A rebuild without the cache is a deploy of its own: a queued one may reuse dependencies.
    if (!moves && cache && pendingJob && (await notStartedJob(pendingJob))) {
      // The queued deploy reads the app when it starts, so it will run the saved change too.
      const stored = next ? await apps.update(doc.name, (d) => withSettings(d, next)) : doc;
      if (stored) await causes.add(doc.name, { release: doc.pendingRelease!, by, reason });
      return { doc: stored ?? doc, job: jobRef(pendingJob) };
    }
    const release = releaseId(await apps.nextReleaseSeq(doc.name));
    const stored = await apps.update(doc.name, (d) => ({
      ...withSettings(d, next),
      ...placed,
      pendingRelease: release,
    }));
    const job = await enqueue.deployApp(
      nodesOf(stored ?? doc),
      { app: doc.name, uid: doc.uid, release, ...(cache ? {} : { cache: false }) },
      doc.owner,
    );
    const withJob = await apps.update(doc.name, (d) => ({ ...d, lastJob: job.id }));
    // Recorded once the job exists, and only while the app does (a delete may have won the race).
    if (withJob) await causes.add(doc.name, { release, by, reason });
    return { doc: withJob ?? stored ?? doc, job: jobRef(job.id) };
  }

  async function operate(doc: AppDocument, op: AppOperation, release?: string) {
    // Its releases are on its nodes: an app that holds no room must find it there again.
    if (op !== 'stop' && !holdsCapacity(doc)) await ensureRoomInPlace(deps, doc);
    const last = doc.lastJob?.startsWith(`${op}-${doc.name}-${doc.uid}-`)
      ? await notStartedJob(doc.lastJob)
      : undefined;
    if (last && (last.data as { release?: string }).release === release)
      return { doc, job: jobRef(last.id!), fresh: false };
    const seq = await redis.incr(keys.appOpSeq(doc.name));
    const data = { app: doc.name, uid: doc.uid, op, seq, ...(release ? { release } : {}) };
    const job = await enqueue.operateApp(nodesOf(doc), data, doc.owner);
    const stored = await apps.update(doc.name, (d) => ({ ...d, lastJob: job.id }));
    // fresh: a new job, for an app still there (a delete may have won the race).
    return { doc: stored ?? doc, job: jobRef(operationJobId(data)), fresh: stored !== undefined };
  }

  router.patch('/:name', async (req, res) => {
    const doc = await load(res, req.params.name);
    const parsed = patchSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const patch = parsed.data.repo
      ? { ...parsed.data, repo: await checkedRepo(parsed.data.repo, doc.repo.url, options) }
      : parsed.data;
    const plan = planPatch(doc, patch, (v) => secrets.seal(v), policy);
    // The runtime builder needs a runtime: the app's, or one given in the same PATCH.
    if (plan.next.builder === 'runtime' && !plan.next.runtime) {
      const message = `builder "runtime" needs a runtime: ${runtimeOrDockerfile}`;
      throw new ApiError('VALIDATION_FAILED', `invalid request: runtime: ${message}`, { runtime: message });
    }
    if (
      plan.changed.includes('instances') ||
      plan.changed.includes('processes') ||
      plan.changed.includes('resources')
    ) {
      await enforceAppQuotas(deps, doc.owner, doc.name, plan.next, false);
    }
    // Stored and announced to the proxies in one Redis call (app-edge.ts), before anything else.
    if (plan.changed.includes('https') || plan.changed.includes('hsts')) await storeEdge(apps, doc.name, plan.next);
    if (plan.redeploy) {
      const reason = patchReason(patch, plan.changed);
      const { doc: stored, job } = await redeploy(doc, principalOf(res).user, reason, plan.next);
      return res.status(202).json({ app: view(stored), changed: plan.changed, redeploy: true, job });
    }
    const stored = plan.changed.length
      ? await apps.update(doc.name, (d) => ({
          ...d,
          healthCheck: plan.next.healthCheck,
          repo: plan.next.repo,
        }))
      : doc;
    res.status(200).json({ app: view(stored ?? doc), changed: plan.changed, redeploy: false });
  });

  router.post('/:name/rebuild', async (req, res) => {
    const doc = await load(res, req.params.name);
    const parsed = rebuildRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const cache = parsed.data.cache !== false;
    const reason = cache ? 'rebuild of the branch head' : 'rebuild without the build cache';
    const { doc: stored, job } = await redeploy(doc, principalOf(res).user, reason, undefined, cache);
    res.status(202).json({ app: view(stored), job });
  });

  for (const op of ['restart', 'stop', 'start'] as const) {
    router.post(`/:name/${op}`, async (req, res) => {
      const doc = await load(res, req.params.name);
      if (op !== 'stop' && !doc.release)
        throw new ApiError(
          'NO_RELEASE',
          `app "${doc.name}" has no release to ${op} yet; POST /apps/${doc.name}/rebuild`,
        );
      const { doc: stored, job } = await operate(doc, op);
      res.status(202).json({ app: view(stored), job });
    });
  }

  router.post('/:name/rollback', async (req, res) => {
    const doc = await load(res, req.params.name);
    const parsed = rollbackRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const all = await records.list(doc.name);
    let target: ReleaseRecord | undefined;
    if (parsed.data.release) {
      target = all.find((r) => r.id === parsed.data.release);
      if (!target)
        throw new ApiError('NOT_FOUND', `app "${doc.name}" has no release ${parsed.data.release}`, {
          release: 'no such release',
        });
      if (target.status === 'failed' || !target.timings.activatedAt.length) {
        throw new ApiError('NO_RELEASE', `release ${target.id} never ran successfully`, {
          release: 'never ran successfully',
        });
      }
    } else {
      // The previous release: the one that served most recently before the current one.
      const lastServed = (r: ReleaseRecord) => r.timings.activatedAt.at(-1) ?? '';
      target = all
        .filter((r) => r.id !== doc.release && r.timings.activatedAt.length > 0 && r.status !== 'failed')
        .sort((a, b) => (lastServed(a) < lastServed(b) ? 1 : -1))[0];
      if (!target) throw new ApiError('NO_RELEASE', `app "${doc.name}" has no previous release to roll back to`);
    }
    if (!target.onDisk) {
      throw new ApiError('RELEASE_NOT_ON_DISK', `release ${target.id} was pruned from disk (GASPER_KEEP_RELEASES)`, {
        release: 'no longer on disk',
      });
    }
    const { doc: stored, job, fresh } = await operate(doc, 'rollback', target.id);
    const reason = doc.release ? `rollback from ${doc.release}` : 'rollback';
    // Once per rollback: the same one asked again while queued, or for an app deleted meanwhile, adds none.
    if (fresh) await causes.add(doc.name, { release: target.id, by: principalOf(res).user, reason });
    res.status(202).json({ app: view(stored), release: target.id, job });
  });

  router.get('/:name/releases', async (req, res) => {
    const doc = await visibleApp(apps, res, req.params.name);
    const [list, byRelease] = await Promise.all([records.list(doc.name), causes.byRelease(doc.name)]);
    res.json({ releases: list.map((r) => releaseView(r, doc.release, false, byRelease.get(r.id))) });
  });

  router.get('/:name/releases/:release', async (req, res) => {
    const doc = await visibleApp(apps, res, req.params.name);
    const record = await records.get(doc.name, req.params.release);
    if (!record) throw new ApiError('NOT_FOUND', `app "${req.params.name}" has no release ${req.params.release}`);
    const byRelease = await causes.byRelease(doc.name);
    res.json({ release: releaseView(record, doc.release, true, byRelease.get(record.id)) });
  });

  return router;
}

const appName = { name: 'the app name' };
const accepted = (what: string) => ({
  202: { description: `${what} enqueued: poll the job` },
  404: { description: 'no such app' },
});
apiRoutes.add(
  {
    method: 'patch',
    path: '/apps/:name',
    summary: 'Change an app',
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    description:
      'env (merged; null removes a variable), build, run, instances, resources, healthCheck, builder, dockerfile, buildArgs, ' +
      'repo (url, branch, path: a redeploy from them; a token alone is saved for the next clone, and one kept goes only to ' +
      'the server it was given for). A change that needs new containers ' +
      'answers 202 with the redeploy job; one that does not answers 200. A body of `{databases: [...]}` alone links exactly those ' +
      'databases (DATABASE_URL / REDIS_URL, or `<NAME>_URL` each) and redeploys.',
    body: patchAppRequest(),
    responses: {
      200: { description: 'saved, no redeploy needed' },
      ...accepted('redeploy'),
      400: { description: 'a field is invalid' },
    },
  },
  ...(['restart', 'stop', 'start'] as const).map((op) => ({
    method: 'post' as const,
    path: `/apps/:name/${op}`,
    summary: `${op[0]!.toUpperCase()}${op.slice(1)} the app`,
    tags: ['apps'],
    auth: 'admin' as const,
    params: appName,
    responses: accepted(op),
  })),
  {
    method: 'post',
    path: '/apps/:name/rebuild',
    summary: 'Rebuild the app',
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    description:
      "Clones the branch head and builds a new release. An unchanged lockfile reuses the previous release's " +
      'node_modules unless the body says `{"cache": false}`.',
    body: rebuildRequest,
    responses: { ...accepted('rebuild'), 400: { description: 'a field is invalid' } },
  },
  {
    method: 'post',
    path: '/apps/:name/rollback',
    summary: 'Go back to the previous (or a named) release, without cloning or building',
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    body: rollbackRequest,
    responses: {
      ...accepted('rollback'),
      409: { description: 'no release to go back to, or its directory was pruned' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/releases',
    summary: "The app's releases, newest first (env values masked), with who asked for each and why",
    tags: ['apps'],
    auth: 'admin',
    params: appName,
    description:
      '`causes` (oldest first): `{by, reason, at}` for the request that made the release, a change coalesced into it ' +
      'and each rollback to it; `by` is a user, `github` (a push) or `gasper` (a lost node, app.json).',
    responses: { 200: { description: 'the releases' }, 404: { description: 'no such app' } },
  },
  {
    method: 'get',
    path: '/apps/:name/releases/:release',
    summary: 'One release, with its build log and who asked for it and why (`causes`, as in the list)',
    tags: ['apps'],
    auth: 'admin',
    params: { ...appName, release: 'the release id' },
    responses: { 200: { description: 'the release' }, 404: { description: 'no such release' } },
  },
);
