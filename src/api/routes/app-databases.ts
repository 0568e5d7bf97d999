import { Router } from 'express';
import { canSee, type Principal } from '../../core/access.ts';
import { releaseId } from '../../core/naming.ts';
import type { EnqueuedJob } from '../../jobs/enqueue.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { principalOf } from '../auth.ts';
import { linkDatabasesRequest } from '../database-request.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { appView, jobRef } from '../views.ts';
import { placeApp } from '../cluster/node-placement.ts';
import { nodesOf, placementOf } from '../../core/app-placement.ts';
import { type ReleaseCause, ReleaseCauseStore } from '../../store/release-causes.ts';

/**
 * A new release of the app, as `POST /apps` makes its first: the next release number becomes the
 * pending one and a deploy job is queued. `mutate` changes the desired state in the same write;
 * `cause` (who asked, and why) goes in the app's release list.
 */
export async function redeployApp(
  deps: ApiDeps,
  name: string,
  cause: Omit<ReleaseCause, 'release' | 'at'>,
  mutate: (doc: AppDocument) => AppDocument = (doc) => doc,
): Promise<{ app: AppDocument; job: EnqueuedJob }> {
  const existing = await deps.apps.get(name);
  if (!existing || existing.status === 'deleting') throw new ApiError('NOT_FOUND', `app "${name}" not found`);
  // Linking a database pins the app to the database's node; unlinking lets it spread again.
  const placed = await placeApp(deps, mutate(existing), { current: placementOf(existing) });
  const release = releaseId(await deps.apps.nextReleaseSeq(name));
  const updated = await deps.apps.update(name, (d) =>
    d.status === 'deleting' ? undefined : { ...mutate(d), ...placed, pendingRelease: release },
  );
  if (!updated || updated.status === 'deleting') throw new ApiError('NOT_FOUND', `app "${name}" not found`);
  const job = await deps.enqueue.deployApp(nodesOf(updated), { app: name, uid: updated.uid, release }, updated.owner);
  const withJob = await deps.apps.update(name, (d) => ({ ...d, lastJob: job.id }));
  // Recorded once the job exists, and only while the app does.
  if (withJob) await new ReleaseCauseStore(deps.redis).add(name, { release, ...cause });
  return { app: withJob ?? updated, job };
}

/**
 * Links the app to exactly `databases` (an empty list unlinks all) and redeploys it: the new release
 * gets DATABASE_URL / REDIS_URL (or `<NAME>_URL` each, for several) and joins their networks.
 * The app's instances move to the databases' node (their network is a bridge of that node), so
 * the databases must share one node, with room for the app there.
 */
export async function linkAppDatabases(
  deps: ApiDeps,
  principal: Principal,
  name: string,
  body: unknown,
): Promise<{ app: AppDocument; job: EnqueuedJob }> {
  const parsed = linkDatabasesRequest.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  const app = await deps.apps.get(name);
  if (!app || app.status === 'deleting' || !canSee(principal, app.owner))
    throw new ApiError('NOT_FOUND', `app "${name}" not found`);
  const store = new DatabaseStore(deps.redis);
  const fields: Record<string, string> = {};
  let firstNode: string | undefined;
  for (const [index, dbName] of parsed.data.databases.entries()) {
    const db = await store.get(dbName);
    // Another user's database is as absent as a missing one.
    if (!db || db.status === 'deleting' || !canSee(principal, db.owner))
      fields[`databases.${index}`] = `no database "${dbName}"`;
    else if (index > 0 && firstNode !== undefined && db.node !== firstNode)
      fields[`databases.${index}`] =
        `"${dbName}" runs on node ${db.node}, "${parsed.data.databases[0]}" on ${firstNode}: an app's databases must share a node`;
    if (index === 0) firstNode = db?.node;
  }
  if (Object.keys(fields).length) {
    const summary = Object.entries(fields)
      .map(([f, m]) => `${f}: ${m}`)
      .join('; ');
    throw new ApiError('VALIDATION_FAILED', `invalid request: ${summary}`, fields);
  }
  const linked = parsed.data.databases;
  const reason = linked.length ? `databases linked: ${linked.join(', ')}` : 'databases unlinked';
  return redeployApp(deps, name, { by: principal.user, reason }, (doc) => ({ ...doc, databases: linked }));
}

/**
 * `PATCH /apps/:name` with `{databases: [...]}`. A body without `databases` passes on to the next
 * `PATCH /apps/:name` handler (the general one), so both can be mounted.
 */
export function appDatabasesRouter(deps: ApiDeps): Router {
  const router = Router();
  router.patch('/:name', async (req, res, next) => {
    if (!req.body || typeof req.body !== 'object' || !('databases' in req.body)) return next();
    const { app, job } = await linkAppDatabases(deps, principalOf(res), req.params.name, req.body);
    res.status(202).json({ app: appView(app, deps.options), job: jobRef(job.id) });
  });
  return router;
}
