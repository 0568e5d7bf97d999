import crypto from 'node:crypto';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { hashPassword } from '../../ssh/password.ts';
import { parsePublicKeyLine } from '../../ssh/public-key.ts';
import { SshCredentialStore, type SshKeyRecord } from '../../store/ssh-credentials.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { visibleApp } from '../visible.ts';

const addKeySchema = z.strictObject({ key: z.string().max(16_384, 'must be at most 16 KiB') });
const passwordSchema = z.strictObject({
  password: z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters'),
});

/** What the API shows of a key: never the blob (it is public, but useless to show twice). */
const keyView = (k: SshKeyRecord) => ({
  id: k.id,
  type: k.type,
  fingerprint: k.fingerprint,
  comment: k.comment,
  createdAt: k.createdAt,
});

/** `/apps/:name/ssh-keys` and `/apps/:name/ssh-password`: who may `ssh <app>@<host>`. */
export function sshCredentialsRouter(deps: ApiDeps): Router {
  const store = new SshCredentialStore(deps.redis);
  const router = Router();
  const noApp = (name: string) => new ApiError('NOT_FOUND', `app "${name}" not found`);

  /** The app, if the caller may see it: another user's app is as absent as a missing one. */
  async function requireApp(res: Response, name: string): Promise<void> {
    const doc = await visibleApp(deps.apps, res, name);
    if (doc.status === 'deleting') throw noApp(name);
  }

  router.post('/:name/ssh-keys', async (req, res) => {
    const name = req.params.name;
    await requireApp(res, name);
    const body = addKeySchema.safeParse(req.body ?? {});
    if (!body.success) throw validationError(body.error);
    const parsed = parsePublicKeyLine(body.data.key);
    if (!parsed.ok)
      throw new ApiError('VALIDATION_FAILED', `invalid request: key: ${parsed.problem}`, { key: parsed.problem });
    // The id follows from the key, so registering the same key twice is detected atomically.
    const id = `key_${crypto.createHash('sha256').update(Buffer.from(parsed.key.blob, 'base64')).digest('hex').slice(0, 16)}`;
    const record: SshKeyRecord = { id, ...parsed.key, createdAt: new Date().toISOString() };
    const outcome = await store.addKey(name, record);
    if (outcome === 'no-app') throw noApp(name);
    if (outcome === 'exists') {
      throw new ApiError('SSH_KEY_EXISTS', `this key (${record.fingerprint}) is already registered as ${id}`, {
        key: 'already registered',
      });
    }
    deps.log.info({ app: name, key: id, fingerprint: record.fingerprint }, 'ssh key added');
    res.status(201).location(`/apps/${name}/ssh-keys/${id}`).json(keyView(record));
  });

  router.get('/:name/ssh-keys', async (req, res) => {
    await requireApp(res, req.params.name);
    res.json({ keys: (await store.listKeys(req.params.name)).map(keyView) });
  });

  router.delete('/:name/ssh-keys/:id', async (req, res) => {
    await requireApp(res, req.params.name);
    if (!(await store.removeKey(req.params.name, req.params.id))) {
      throw new ApiError('NOT_FOUND', `app "${req.params.name}" has no ssh key "${req.params.id}"`);
    }
    deps.log.info({ app: req.params.name, key: req.params.id }, 'ssh key removed');
    res.status(204).end();
  });

  router.put('/:name/ssh-password', async (req, res) => {
    const name = req.params.name;
    await requireApp(res, name);
    const body = passwordSchema.safeParse(req.body ?? {});
    if (!body.success) throw validationError(body.error);
    if ((await store.setPasswordHash(name, await hashPassword(body.data.password))) === 'no-app') throw noApp(name);
    deps.log.info({ app: name }, 'ssh password set');
    res.status(204).end();
  });

  router.delete('/:name/ssh-password', async (req, res) => {
    await requireApp(res, req.params.name);
    if (!(await store.removePassword(req.params.name))) {
      throw new ApiError('NOT_FOUND', `app "${req.params.name}" has no ssh password`);
    }
    deps.log.info({ app: req.params.name }, 'ssh password removed');
    res.status(204).end();
  });

  return router;
}

const sshKeySchema = z.object({
  id: z.string(),
  type: z.string(),
  fingerprint: z.string(),
  comment: z.string(),
  createdAt: z.string(),
});
const app = { name: 'the app name' };
apiRoutes.add(
  {
    method: 'post',
    path: '/apps/:name/ssh-keys',
    summary: 'Register an SSH public key for `ssh <app>@host`',
    tags: ['ssh'],
    auth: 'admin',
    params: app,
    body: addKeySchema,
    responses: {
      201: { description: 'the key', schema: sshKeySchema },
      400: { description: 'not an OpenSSH public key line' },
      409: { description: 'the app already has this key' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/ssh-keys',
    summary: "List the app's SSH keys",
    tags: ['ssh'],
    auth: 'admin',
    params: app,
    responses: { 200: { description: 'the keys', schema: z.object({ keys: z.array(sshKeySchema) }) } },
  },
  {
    method: 'delete',
    path: '/apps/:name/ssh-keys/:id',
    summary: 'Remove an SSH key',
    tags: ['ssh'],
    auth: 'admin',
    params: { ...app, id: 'the key id' },
    responses: { 204: { description: 'removed' }, 404: { description: 'no such key' } },
  },
  {
    method: 'put',
    path: '/apps/:name/ssh-password',
    summary: "Set the app's SSH password (stored as a scrypt hash)",
    tags: ['ssh'],
    auth: 'admin',
    params: app,
    body: passwordSchema,
    responses: { 204: { description: 'set' } },
  },
  {
    method: 'delete',
    path: '/apps/:name/ssh-password',
    summary: "Remove the app's SSH password",
    tags: ['ssh'],
    auth: 'admin',
    params: app,
    responses: { 204: { description: 'removed' }, 404: { description: 'no password is set' } },
  },
);
