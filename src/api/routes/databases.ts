import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { canSee } from '../../core/access.ts';
import { newBackupId } from '../../core/database-naming.ts';
import { engineIdentifiers } from '../../core/engines.ts';
import { createDatabaseEnqueuer } from '../../jobs/database-enqueue.ts';
import type { DatabaseDocument } from '../../store/database-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { createDatabaseRequest, restoreRequest } from '../database-request.ts';
import { backupView, credentialsView, databaseView } from '../database-views.ts';
import { principalOf } from '../auth.ts';
import { chooseNode as chooseNodeFor, databaseDemand } from '../cluster/node-placement.ts';
import { enforceDatabaseQuota } from '../quotas.ts';
import { loadNodeConditions } from '../cluster/node-conditions.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { jobRef } from '../views.ts';
import { redeployApp } from './app-databases.ts';
import { z } from 'zod';
import { apiRoutes } from '../openapi/registry.ts';

export const defaultDatabasePorts = { min: 15000, max: 19999 };

/** 192 random bits, base64url: safe in URLs, SQL literals and shell words without quoting. */
export function newDatabasePassword(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/**
 * `/databases`: records intent in Redis and enqueues jobs on the database's node; never talks to
 * Docker. The password is in the answer of the creation and of a rotation, and nowhere else.
 */
export function databasesRouter(deps: ApiDeps): Router {
  const { apps, nodes, secrets, options } = deps;
  const databases = new DatabaseStore(deps.redis);
  const enqueue = createDatabaseEnqueuer(deps.redis, deps.queues, options.jobAttempts ?? 3);
  const router = Router();

  /** The database, if the caller may see it: another user's is as absent as a missing one. */
  async function load(res: Response, name: string): Promise<DatabaseDocument> {
    const doc = await databases.get(name);
    if (!doc || doc.status === 'deleting' || !canSee(principalOf(res), doc.owner))
      throw new ApiError('NOT_FOUND', `database "${name}" not found`);
    return doc;
  }

  function requireRunning(doc: DatabaseDocument): void {
    if (doc.status !== 'running')
      throw new ApiError('DATABASE_NOT_RUNNING', `database "${doc.name}" is ${doc.status}, not running`);
  }

  /** The node with room for the database, chosen like an app's (node-placement.ts), and its address. */
  async function chooseNode(resources: DatabaseDocument['resources']): Promise<{ id: string; address: string }> {
    const id = await chooseNodeFor(deps, databaseDemand(resources));
    const node = (await nodes.list()).find((n) => n.id === id);
    if (!node) throw new ApiError('NO_NODE_AVAILABLE', `node ${id} left while the database was being placed`);
    return { id, address: node.address };
  }

  router.post('/', async (req, res) => {
    const parsed = createDatabaseRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const body = parsed.data;
    const principal = principalOf(res);
    await enforceDatabaseQuota(deps, databases, principal.user);
    if (await databases.get(body.name))
      throw new ApiError('DATABASE_EXISTS', `database "${body.name}" already exists`, { name: 'already exists' });
    const node = await chooseNode(body.resources);
    const port = await databases.allocatePort(node.id, options.databasePorts ?? defaultDatabasePorts);
    if (!port) throw new ApiError('NO_DATABASE_PORT', `node ${node.id} has no free database port left`);
    const password = newDatabasePassword();
    const now = new Date().toISOString();
    const doc: DatabaseDocument = {
      name: body.name,
      uid: crypto.randomBytes(5).toString('hex'),
      owner: principal.user,
      engine: body.engine,
      node: node.id,
      ...engineIdentifiers(body.name),
      sealedPassword: secrets.seal(password),
      passwordVersion: 1,
      resources: body.resources,
      status: 'queued',
      host: node.address,
      port,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await databases.create(doc))) {
      await databases.releasePort(node.id, port);
      throw new ApiError('DATABASE_EXISTS', `database "${body.name}" already exists`, { name: 'already exists' });
    }
    let job;
    try {
      job = await enqueue.provision(node.id, { database: doc.name, uid: doc.uid }, doc.owner);
    } catch (err) {
      await databases.remove(doc.name);
      throw err;
    }
    const stored = (await databases.update(doc.name, (d) => ({ ...d, lastJob: job.id }))) ?? doc;
    res
      .status(202)
      .location(`/databases/${doc.name}`)
      .json({
        database: databaseView(stored),
        job: jobRef(job.id),
        credentials: credentialsView(stored, password),
      });
  });

  router.get('/', async (_req, res) => {
    const principal = principalOf(res);
    const nodeOf = await loadNodeConditions(deps);
    res.json({
      databases: (await databases.list())
        .filter((d) => canSee(principal, d.owner))
        .map((d) => databaseView(d, nodeOf(d.node))),
    });
  });

  router.get('/:name', async (req, res) => {
    const doc = await load(res, req.params.name);
    res.json({ database: databaseView(doc, (await loadNodeConditions(deps))(doc.node)) });
  });

  router.delete('/:name', async (req, res) => {
    const name = req.params.name;
    const existing = await databases.get(name);
    if (!existing || !canSee(principalOf(res), existing.owner))
      throw new ApiError('NOT_FOUND', `database "${name}" not found`);
    const linked = (await apps.list()).filter((a) => a.databases?.includes(name)).map((a) => a.name);
    if (linked.length) {
      throw new ApiError(
        'DATABASE_LINKED',
        `database "${name}" is linked to ${linked.join(', ')}; unlink it first (PATCH /apps/:name)`,
      );
    }
    // Intent first: a provision still running sees `deleting` and does not mark it running.
    const doc = await databases.update(name, (d) => ({ ...d, status: 'deleting' }));
    if (!doc) throw new ApiError('NOT_FOUND', `database "${name}" not found`);
    const job = await enqueue.remove(doc.node, { database: doc.name, uid: doc.uid }, doc.owner);
    const stored = await databases.update(name, (d) => ({ ...d, lastJob: job.id }));
    res.status(202).json({ database: databaseView(stored ?? doc), job: jobRef(job.id) });
  });

  router.post('/:name/rotate-password', async (req, res) => {
    const current = await load(res, req.params.name);
    const password = newDatabasePassword();
    const doc = await databases.update(current.name, (d) =>
      d.status === 'deleting'
        ? undefined
        : { ...d, sealedPassword: secrets.seal(password), passwordVersion: d.passwordVersion + 1 },
    );
    if (!doc || doc.status === 'deleting') throw new ApiError('NOT_FOUND', `database "${current.name}" not found`);
    const job = await enqueue.rotatePassword(
      doc.node,
      { database: doc.name, uid: doc.uid, version: doc.passwordVersion },
      doc.owner,
    );
    const stored = (await databases.update(doc.name, (d) => ({ ...d, lastJob: job.id }))) ?? doc;
    // Linked apps get the new URL in a new release; until the rotation job has run, it may be refused.
    const redeployed: string[] = [];
    for (const app of await apps.list()) {
      if (app.databases?.includes(doc.name) && app.status !== 'deleting') {
        await redeployApp(deps, app.name, {
          by: principalOf(res).user,
          reason: `the password of database ${doc.name} rotated`,
        });
        redeployed.push(app.name);
      }
    }
    res.status(202).json({
      database: databaseView(stored),
      job: jobRef(job.id),
      credentials: credentialsView(stored, password),
      redeployedApps: redeployed,
    });
  });

  router.post('/:name/backups', async (req, res) => {
    const doc = await load(res, req.params.name);
    requireRunning(doc);
    const backup = newBackupId();
    const job = await enqueue.backup(doc.node, { database: doc.name, uid: doc.uid, backup }, doc.owner);
    res
      .status(202)
      .json({ backup: { id: backup, url: `/databases/${doc.name}/backups/${backup}` }, job: jobRef(job.id) });
  });

  router.get('/:name/backups', async (req, res) => {
    const doc = await load(res, req.params.name);
    res.json({ backups: (await databases.listBackups(doc.name)).map(backupView) });
  });

  router.get('/:name/backups/:id', async (req: Request<{ name: string; id: string }>, res) => {
    const doc = await load(res, req.params.name);
    const meta = await databases.getBackupMeta(doc.name, req.params.id);
    const data = meta && (await databases.getBackupData(doc.name, meta.id));
    if (!meta || !data)
      throw new ApiError('NOT_FOUND', `backup "${req.params.id}" of database "${doc.name}" not found`);
    res.status(200).type('application/octet-stream').attachment(meta.filename).send(data);
  });

  router.post('/:name/restore', async (req, res) => {
    const doc = await load(res, req.params.name);
    const parsed = restoreRequest.safeParse(req.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    if (!(await databases.getBackupMeta(doc.name, parsed.data.backup))) {
      throw new ApiError(
        'VALIDATION_FAILED',
        `invalid request: backup: no backup "${parsed.data.backup}" of "${doc.name}"`,
        {
          backup: `no backup "${parsed.data.backup}" of "${doc.name}"`,
        },
      );
    }
    requireRunning(doc);
    const attempt = crypto.randomBytes(3).toString('hex');
    const job = await enqueue.restore(
      doc.node,
      { database: doc.name, uid: doc.uid, backup: parsed.data.backup },
      attempt,
      doc.owner,
    );
    const stored = (await databases.update(doc.name, (d) => ({ ...d, lastJob: job.id }))) ?? doc;
    res.status(202).json({ database: databaseView(stored), job: jobRef(job.id) });
  });

  return router;
}

const databaseSchema = z
  .object({
    name: z.string(),
    engine: z.string(),
    status: z.string(),
    node: z.string(),
    host: z.string(),
    port: z.number().int(),
    database: z.string().nullable(),
    user: z.string().nullable(),
    internalHost: z.string(),
    nodeState: z
      .object({
        id: z.string(),
        state: z.enum(['up', 'down', 'unknown']),
        draining: z.boolean(),
        heartbeatAt: z.string().nullable(),
        message: z.string().nullable(),
      })
      .nullable()
      .describe('the node holding the data; while it is down, status is "unavailable"'),
  })
  .describe('never the password');
const credentialsSchema = z.object({ password: z.string(), url: z.string() }).describe('shown in this answer only');
const jobRefSchema = z.object({ id: z.string(), url: z.string() });
const db = { name: 'the database name' };
apiRoutes.add(
  {
    method: 'post',
    path: '/databases',
    summary: 'Create a database',
    tags: ['databases'],
    auth: 'admin',
    body: createDatabaseRequest,
    description: 'Enqueues its provisioning on a node. The password and the connection URL are in this answer only.',
    responses: {
      202: {
        description: 'stored, provisioning enqueued',
        schema: z.object({ database: databaseSchema, job: jobRefSchema, credentials: credentialsSchema }),
      },
      400: { description: 'a field is invalid' },
      409: { description: 'the name is taken' },
    },
  },
  {
    method: 'get',
    path: '/databases',
    summary: 'List databases',
    tags: ['databases'],
    auth: 'admin',
    responses: {
      200: {
        description: "the caller's databases (all, for admins)",
        schema: z.object({ databases: z.array(databaseSchema) }),
      },
    },
  },
  {
    method: 'get',
    path: '/databases/:name',
    summary: 'Show a database',
    tags: ['databases'],
    auth: 'admin',
    params: db,
    responses: {
      200: { description: 'the database', schema: z.object({ database: databaseSchema }) },
      404: { description: 'no such database' },
    },
  },
  {
    method: 'delete',
    path: '/databases/:name',
    summary: 'Delete a database (container, volume, network, keys)',
    tags: ['databases'],
    auth: 'admin',
    params: db,
    responses: { 202: { description: 'deletion enqueued' }, 409: { description: 'still linked to an app' } },
  },
  {
    method: 'post',
    path: '/databases/:name/rotate-password',
    summary: 'Rotate the password',
    tags: ['databases'],
    auth: 'admin',
    params: db,
    description: 'The new password and URL are in this answer only; linked apps are redeployed with the new URL.',
    responses: {
      202: {
        description: 'rotation enqueued',
        schema: z.object({
          database: databaseSchema,
          job: jobRefSchema,
          credentials: credentialsSchema,
          redeployedApps: z.array(z.string()),
        }),
      },
    },
  },
  {
    method: 'post',
    path: '/databases/:name/backups',
    summary: 'Back up (pg_dump, mysqldump, Redis RDB)',
    tags: ['databases'],
    auth: 'admin',
    params: db,
    responses: {
      202: {
        description: 'backup enqueued',
        schema: z.object({ backup: z.object({ id: z.string(), url: z.string() }), job: jobRefSchema }),
      },
    },
  },
  {
    method: 'get',
    path: '/databases/:name/backups',
    summary: 'List backups',
    tags: ['databases'],
    auth: 'admin',
    params: db,
    responses: {
      200: {
        description: 'the backups',
        schema: z.object({
          backups: z.array(z.object({ id: z.string(), size: z.number().int(), createdAt: z.string() })),
        }),
      },
    },
  },
  {
    method: 'get',
    path: '/databases/:name/backups/:id',
    summary: 'Download a backup',
    tags: ['databases'],
    auth: 'admin',
    params: { ...db, id: 'the backup id' },
    responses: {
      200: { description: 'the backup file', contentType: 'application/octet-stream' },
      404: { description: 'no such backup' },
    },
  },
  {
    method: 'post',
    path: '/databases/:name/restore',
    summary: 'Restore a backup',
    tags: ['databases'],
    auth: 'admin',
    params: db,
    body: restoreRequest,
    responses: { 202: { description: 'restore enqueued' }, 400: { description: 'no such backup' } },
  },
);
