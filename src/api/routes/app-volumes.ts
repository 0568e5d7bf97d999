import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { volumeNameProblem } from '../../core/app-volumes.ts';
import { newBackupId } from '../../core/database-naming.ts';
import { jobAdder } from '../../jobs/enqueue.ts';
import { appVolumeJob } from '../../jobs/schemas.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { VolumeBackupStore, type VolumeBackupMeta } from '../../store/volume-backups.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { jobRefSchema } from '../openapi/core-routes.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { jobRef } from '../views.ts';
import { visibleApp } from '../visible.ts';

type VolumeParams = { name: string; volume: string };

/** The body of `POST /apps/:name/volumes/:volume/restore`. */
const restoreRequest = z.object({ backup: z.string().min(1).max(100) }).strict();

/**
 * An app's volumes beyond its `volumes` field: `DELETE /apps/:name/volumes/:volume` removes the
 * data of a volume the app no longer declares (remove it from `volumes` with a PATCH first, as on
 * Heroku: data is never deleted while mounted), and backups (`POST`, list, download) of a declared
 * one. Jobs run on the app's primary node, where its volumes are.
 */
export function appVolumesRouter(deps: ApiDeps): Router {
  const router = Router();
  const add = jobAdder(deps.redis, deps.queues, deps.options.jobAttempts ?? 3);
  const backups = new VolumeBackupStore(deps.redis);

  // The volume name goes into job ids and Docker names: a bad one (`a:b`) is the caller's mistake, a 400.
  async function load(res: Response, name: string, volume: string): Promise<AppDocument> {
    const problem = volumeNameProblem(volume);
    if (problem) throw new ApiError('VALIDATION_FAILED', `invalid request: volume: ${problem}`, { volume: problem });
    const doc = await visibleApp(deps.apps, res, name);
    if (doc.status === 'deleting') throw new ApiError('APP_BUSY', `app "${name}" is being deleted`);
    return doc;
  }
  function declared(doc: AppDocument, volume: string) {
    if (!doc.volumes?.some((v) => v.name === volume))
      throw new ApiError('NOT_FOUND', `app "${doc.name}" has no volume "${volume}"`);
  }

  router.delete('/:name/volumes/:volume', async (req: Request<VolumeParams>, res) => {
    const doc = await load(res, req.params.name, req.params.volume);
    if (doc.volumes?.some((v) => v.name === req.params.volume))
      throw new ApiError(
        'VOLUME_IN_USE',
        `app "${doc.name}" still mounts volume "${req.params.volume}": stop mounting it first (PATCH /apps/${doc.name} with the volumes without it, or gasper volumes unmount ${doc.name} ${req.params.volume}; its data is kept), then delete its data`,
      );
    const id = `volume-remove-${doc.name}-${doc.uid}-${req.params.volume}-${Date.now()}`;
    const data = { app: doc.name, uid: doc.uid, volume: req.params.volume, op: 'remove' as const };
    const job = await add(doc.node, appVolumeJob, id, data, doc.owner);
    res.status(202).json({ volume: req.params.volume, job: jobRef(job.id) });
  });

  router.post('/:name/volumes/:volume/backups', async (req: Request<VolumeParams>, res) => {
    const doc = await load(res, req.params.name, req.params.volume);
    declared(doc, req.params.volume);
    const backup = newBackupId();
    const data = { app: doc.name, uid: doc.uid, volume: req.params.volume, op: 'backup' as const, backup };
    const id = `volume-backup-${doc.name}-${doc.uid}-${req.params.volume}-${backup}`;
    const job = await add(doc.node, appVolumeJob, id, data, doc.owner);
    res.status(202).json({
      backup: { id: backup, url: `/apps/${doc.name}/volumes/${req.params.volume}/backups/${backup}` },
      job: jobRef(job.id),
    });
  });

  router.post('/:name/volumes/:volume/restore', async (req: Request<VolumeParams>, res) => {
    const doc = await load(res, req.params.name, req.params.volume);
    declared(doc, req.params.volume);
    const parsed = restoreRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const { backup } = parsed.data;
    if (!(await backups.meta(doc.name, req.params.volume, backup))) {
      const message = `no backup "${backup}" of volume "${req.params.volume}"`;
      throw new ApiError('VALIDATION_FAILED', `invalid request: backup: ${message}`, { backup: message });
    }
    // Each request is an attempt of its own: a backup may be restored many times.
    const id = `volume-restore-${doc.name}-${doc.uid}-${req.params.volume}-${backup}-${Date.now()}`;
    const data = { app: doc.name, uid: doc.uid, volume: req.params.volume, op: 'restore' as const, backup };
    const job = await add(doc.node, appVolumeJob, id, data, doc.owner);
    res.status(202).json({ job: jobRef(job.id) });
  });

  router.get('/:name/volumes/:volume/backups', async (req: Request<VolumeParams>, res) => {
    const doc = await load(res, req.params.name, req.params.volume);
    res.json({ backups: (await backups.list(doc.name, req.params.volume)).map(backupView) });
  });

  router.get('/:name/volumes/:volume/backups/:id', async (req: Request<VolumeParams & { id: string }>, res) => {
    const doc = await load(res, req.params.name, req.params.volume);
    const meta = await backups.meta(doc.name, req.params.volume, req.params.id);
    const data = meta && (await backups.data(doc.name, meta.volume, meta.id));
    if (!meta || !data)
      throw new ApiError('NOT_FOUND', `backup "${req.params.id}" of volume "${req.params.volume}" not found`);
    res.status(200).type('application/x-tar').attachment(meta.filename).send(data);
  });
  return router;
}

function backupView(meta: VolumeBackupMeta) {
  return { id: meta.id, volume: meta.volume, size: meta.size, createdAt: meta.createdAt };
}

const params = { name: 'the app name', volume: 'the volume name' };
apiRoutes.add(
  {
    method: 'delete',
    path: '/apps/:name/volumes/:volume',
    summary: "Delete the data of a volume the app no longer declares (the Docker volume on the app's node)",
    tags: ['apps'],
    auth: 'admin',
    params,
    responses: {
      202: { description: 'removal enqueued', schema: z.object({ volume: z.string(), job: jobRefSchema }) },
      400: { description: 'not a volume name' },
      404: { description: 'no such app' },
      409: { description: 'the app still declares (mounts) the volume' },
    },
  },
  {
    method: 'post',
    path: '/apps/:name/volumes/:volume/backups',
    summary: 'Back up a volume (a tar kept in Redis, like database backups)',
    tags: ['apps'],
    auth: 'admin',
    params,
    responses: {
      202: {
        description: 'backup enqueued',
        schema: z.object({ backup: z.object({ id: z.string(), url: z.string() }), job: jobRefSchema }),
      },
      400: { description: 'not a volume name' },
      404: { description: 'no such app or volume' },
    },
  },
  {
    method: 'post',
    path: '/apps/:name/volumes/:volume/restore',
    summary: "Replace a volume's files by a backup's (stop the app first for a consistent restore)",
    tags: ['apps'],
    auth: 'admin',
    params,
    body: restoreRequest,
    responses: {
      202: { description: 'restore enqueued', schema: z.object({ job: jobRefSchema }) },
      400: { description: 'not a volume name, or no such backup' },
      404: { description: 'no such app or volume' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/volumes/:volume/backups',
    summary: "List a volume's backups",
    tags: ['apps'],
    auth: 'admin',
    params,
    responses: { 200: { description: 'the backups' } },
  },
  {
    method: 'get',
    path: '/apps/:name/volumes/:volume/backups/:id',
    summary: 'Download a volume backup (tar)',
    tags: ['apps'],
    auth: 'admin',
    params: { ...params, id: 'the backup id' },
    responses: {
      200: { description: 'the tar', contentType: 'application/x-tar' },
      404: { description: 'no such backup' },
    },
  },
);
