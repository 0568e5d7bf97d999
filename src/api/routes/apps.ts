import crypto from 'node:crypto';
import { removeAppSchedulers } from './app-runs.ts';
import { Router, type Response } from 'express';
import { releaseId } from '../../core/naming.ts';
import { runtimes } from '../../core/runtimes.ts';
import { defaultDockerfilePort } from '../../workers/apps/builder-choice.ts';
import { canSee } from '../../core/access.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { DomainStore } from '../../store/domains.ts';
import { principalOf } from '../auth.ts';
import { enforceAppQuotas } from '../quotas.ts';
import { storeEdge } from '../app-edge.ts';
import { createAppRequest } from '../app-request.ts';
import type { ApiDeps } from '../deps.ts';
import { placeApp } from '../cluster/node-placement.ts';
import { nodesOf } from '../../core/app-placement.ts';
import { deletionRequested } from '../../core/app-state.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import { removeAppRecords } from '../../store/record-removal.ts';
import { ApiError, validationError } from '../errors.ts';
import { storedRepo } from '../repo-settings.ts';
import { appView, jobRef, volumesWithUse } from '../views.ts';
import { visibleApp } from '../visible.ts';
import { bumpAccessGeneration } from '../../store/access-watch.ts';
import { ReleaseCauseStore } from '../../store/release-causes.ts';

export function appsRouter(deps: ApiDeps): Router {
  const { apps, enqueue, secrets, options } = deps;
  const view = (doc: AppDocument) => appView(doc, options);
  const createSchema = createAppRequest({ allowLocalRepos: options.allowLocalRepos, resources: options.resources });
  const router = Router();

  const load = (res: Response, name: string) => visibleApp(apps, res, name);

  router.post('/', async (req, res) => {
    const parsed = createSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const body = parsed.data;
    const repo = await storedRepo(body.repo, { allowLocal: options.allowLocalRepos, secrets });
    const principal = principalOf(res);
    await enforceAppQuotas(
      deps,
      principal.user,
      body.name,
      { instanceCount: body.instances, processes: body.processes, resources: body.resources },
      true,
    );
    // Live, non-draining nodes with room, the instances spread over them (node-placement.ts).
    const { node, placement } = await placeApp(deps, body);
    const release = releaseId(1);
    const now = new Date().toISOString();
    const doc: AppDocument = {
      name: body.name,
      uid: crypto.randomBytes(5).toString('hex'),
      owner: principal.user,
      repo,
      runtime: body.runtime,
      ...(body.builder ? { builder: body.builder } : {}),
      ...(body.dockerfile ? { dockerfile: body.dockerfile } : {}),
      ...(body.buildArgs ? { buildArgs: body.buildArgs } : {}),
      build: body.build,
      run: body.run,
      port: body.port ?? (body.runtime ? runtimes[body.runtime]!.defaultPort : defaultDockerfilePort),
      // No port given: an image built from a Dockerfile says its own (EXPOSE).
      ...(body.port === undefined && body.builder !== 'runtime' ? { portFromImage: true } : {}),
      sealedEnv: Object.fromEntries(Object.entries(body.env ?? {}).map(([k, v]) => [k, secrets.seal(v)])),
      node,
      placement,
      status: 'queued',
      pendingRelease: release,
      instances: [],
      instanceCount: body.instances,
      ...(body.processes ? { processes: body.processes } : {}),
      resources: body.resources,
      healthCheck: body.healthCheck,
      ...(body.volumes?.length ? { volumes: body.volumes } : {}),
      ...(body.https !== undefined ? { https: body.https } : {}),
      ...(body.hsts !== undefined ? { hsts: body.hsts } : {}),
      createdAt: now,
      updatedAt: now,
    };
    if (!(await apps.create(doc, 1)))
      throw new ApiError('APP_EXISTS', `app "${body.name}" already exists`, { name: 'already exists' });
    // Before the deploy: the proxy knows how to serve the app by the time it is routed.
    // Announced through the stored document (app-edge.ts): never for an app deleted meanwhile.
    const edgeAnnounced = doc.https !== undefined || doc.hsts !== undefined;
    if (edgeAnnounced) await storeEdge(apps, doc.name, doc, true);
    let job;
    try {
      job = await enqueue.deployApp(nodesOf(doc), { app: doc.name, uid: doc.uid, release }, doc.owner);
    } catch (err) {
      // An announced edge entity is ended by app.removed (removeAppRecords), or it would outlive the app.
      if (edgeAnnounced) {
        await apps.update(doc.name, (d) => ({ ...d, status: 'deleting' }));
        await removeAppRecords(deps.redis, apps, doc.name);
      } else await apps.remove(doc.name);
      throw err;
    }
    const stored = (await apps.update(doc.name, (d) => ({ ...d, lastJob: job.id }))) ?? doc;
    await new ReleaseCauseStore(deps.redis).add(doc.name, { release, by: principal.user, reason: 'first deploy' });
    res
      .status(202)
      .location(`/apps/${doc.name}`)
      .json({ app: view(stored), job: jobRef(job.id) });
  });

  router.get('/', async (_req, res) => {
    const principal = principalOf(res);
    res.json({ apps: (await apps.list()).filter((a) => canSee(principal, a.owner)).map(view) });
  });

  router.get('/:name', async (req, res) => {
    const doc = await load(res, req.params.name);
    // What its volumes use, from the node's last disk measurement (their size is not enforced).
    const volumes = doc.volumes?.length
      ? { volumes: volumesWithUse(doc, (await deps.nodes.get(doc.node))?.diskUse?.appVolumes) }
      : {};
    res.json({ app: { ...view(doc), ...volumes } });
  });

  router.delete('/:name', async (req, res) => {
    await load(res, req.params.name);
    // Intent first: a deploy still running sees `deleting` and does not resurrect the app.
    const { doc } = await applyTransition(deps.redis, req.params.name, deletionRequested());
    if (!doc) throw new ApiError('NOT_FOUND', `app "${req.params.name}" not found`);
    // Its open follows, terminals and SSH sessions end now, not when the job removes it.
    await bumpAccessGeneration(deps.redis, { app: doc.name });
    // Its custom domains go now (routes, certificates, domain.removed events), so they are free
    // for another app at once; the delete job's last step removes any left (store/record-removal.ts).
    await new DomainStore(deps.redis).removeApp(doc.name);
    // Its schedules tick no more (their records go with the app's keys).
    await removeAppSchedulers(deps, doc.name);
    // Every node that may hold its containers: those it is placed on, and those still serving it after a move.
    const job = await enqueue.deleteApp(
      [...new Set([...nodesOf(doc), ...doc.instances.map((i) => i.node)])],
      { app: doc.name, uid: doc.uid },
      doc.owner,
    );
    const stored = await apps.update(doc.name, (d) => ({ ...d, lastJob: job.id }));
    res.status(202).json({ app: view(stored ?? doc), job: jobRef(job.id) });
  });

  return router;
}
