import { Router, type Response } from 'express';
import { z } from 'zod';
import { bootstrapAdmin, grantableScopes, roles, scopes, type Principal } from '../../core/access.ts';
import { appNameProblem } from '../../core/naming.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { quotasSchema, type UserDocument } from '../../store/users.ts';
import { principalOf, requireScope } from '../auth.ts';
import { apiBaseUrl } from '../public-url.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { actorNames } from '../release-reasons.ts';
import { bumpAccessGeneration } from '../../store/access-watch.ts';

const userName = z.string().superRefine((name, ctx) => {
  // User names share the rules of app names: they appear in URLs and labels.
  const problem = appNameProblem(name) ?? (actorNames.has(name) ? `"${name}" is reserved` : undefined);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const createUserRequest = z
  .object({ name: userName, role: z.enum(roles).default('member'), quotas: quotasSchema.optional() })
  .strict();
const updateUserRequest = z
  .object({ role: z.enum(roles), quotas: quotasSchema })
  .partial()
  .strict();
const createTokenRequest = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, 'give the token a name: what it is for (ci, laptop, …)')
      .max(100, 'at most 100 characters'),
    scopes: z.array(z.enum(scopes)).min(1).max(scopes.length).default(['read', 'deploy']),
  })
  .strict();

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

export const userView = (user: UserDocument) => ({
  name: user.name,
  role: user.role,
  quotas: user.quotas,
  createdAt: user.createdAt,
});

/**
 * Users and their API tokens. Admins manage users; everyone manages their own tokens
 * (`/users/me/tokens`). A member asking about another user gets 404, as for any resource.
 */
export function usersRouter(deps: ApiDeps): Router {
  const { users, tokens } = deps;
  const router = Router();

  /** `me` or a name the caller may see; 404 otherwise. */
  async function target(res: Response, name: string): Promise<{ principal: Principal; user: UserDocument }> {
    const principal = principalOf(res);
    const resolved = name === 'me' ? principal.user : name;
    const user = principal.role === 'admin' || resolved === principal.user ? await users.get(resolved) : undefined;
    if (!user) throw new ApiError('NOT_FOUND', `user "${name}" not found`);
    return { principal, user };
  }

  router.post('/', requireScope('admin'), async (req, res) => {
    const body = parse(createUserRequest, req.body);
    const user: UserDocument = {
      name: body.name,
      role: body.role,
      quotas: body.quotas ?? {},
      createdAt: new Date().toISOString(),
    };
    if (!(await users.create(user)))
      throw new ApiError('USER_EXISTS', `user "${body.name}" already exists`, { name: 'already exists' });
    const { secret } = await tokens.issue(
      user.name,
      'initial',
      grantableScopes(user.role).filter((s) => s !== 'admin' || user.role === 'admin'),
    );
    res
      .status(201)
      .location(`/users/${user.name}`)
      .json({ user: userView(user), token: secret, apiUrl: apiBaseUrl(req, deps.options.publicUrl) });
  });

  router.get('/', requireScope('admin'), async (_req, res) => {
    res.json({ users: (await users.list()).map(userView) });
  });

  router.get('/:name', async (req, res) => {
    res.json({ user: userView((await target(res, req.params.name)).user) });
  });

  router.patch('/:name', requireScope('admin'), async (req, res) => {
    const body = parse(updateUserRequest, req.body);
    const { user } = await target(res, String(req.params.name));
    if (user.name === bootstrapAdmin.user && body.role === 'member') {
      throw new ApiError('VALIDATION_FAILED', 'the admin user stays an admin', {
        role: 'the admin user stays an admin',
      });
    }
    const next: UserDocument = {
      ...user,
      ...(body.role ? { role: body.role } : {}),
      ...(body.quotas ? { quotas: body.quotas } : {}),
    };
    await users.put(next);
    // An admin made a member loses the apps of others, open follows and terminals included.
    if (next.role !== user.role) await bumpAccessGeneration(deps.redis, { user: user.name });
    res.json({ user: userView(next) });
  });

  router.delete('/:name', requireScope('admin'), async (req, res) => {
    const { user } = await target(res, String(req.params.name));
    if (user.name === bootstrapAdmin.user)
      throw new ApiError('VALIDATION_FAILED', 'the admin user cannot be deleted', { name: 'is the admin user' });
    const apps = (await deps.apps.list()).filter((app) => app.owner === user.name).length;
    const databases = (await new DatabaseStore(deps.redis).list()).filter((db) => db.owner === user.name).length;
    if (apps + databases > 0) {
      throw new ApiError(
        'USER_HAS_RESOURCES',
        `user "${user.name}" still owns ${apps} app(s) and ${databases} database(s); delete them first`,
      );
    }
    await tokens.revokeAll(user.name);
    await users.remove(user.name);
    // After the removal: a watcher woken by the revocation above may have found the user still there.
    await bumpAccessGeneration(deps.redis, { user: user.name });
    res.status(204).end();
  });

  router.post('/:name/tokens', async (req, res) => {
    const { user } = await target(res, req.params.name);
    const body = parse(createTokenRequest, req.body);
    const allowed = grantableScopes(user.role);
    const refused = body.scopes.filter((s) => !allowed.includes(s));
    if (refused.length) {
      const problem = `not allowed for a ${user.role}: ${refused.join(', ')}`;
      throw new ApiError('VALIDATION_FAILED', `invalid request: scopes: ${problem}`, { scopes: problem });
    }
    const { record, secret } = await tokens.issue(user.name, body.name, body.scopes);
    res.status(201).json({ token: record, secret });
  });

  router.get('/:name/tokens', async (req, res) => {
    const { user } = await target(res, req.params.name);
    res.json({ tokens: await tokens.list(user.name) });
  });

  router.delete('/:name/tokens/:id', async (req, res) => {
    const { user } = await target(res, req.params.name);
    if (!(await tokens.revoke(user.name, req.params.id)))
      throw new ApiError('NOT_FOUND', `token "${req.params.id}" not found`);
    res.status(204).end();
  });

  return router;
}

const userSchema = z.object({ name: z.string(), role: z.enum(roles), quotas: quotasSchema, createdAt: z.string() });
const tokenSchema = z.object({
  id: z.string(),
  user: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(scopes)),
  createdAt: z.string(),
});
const user = { name: 'a user name, or `me`' };
apiRoutes.add(
  {
    method: 'post',
    path: '/users',
    summary: 'Create a user (admins)',
    tags: ['users'],
    auth: 'admin',
    body: createUserRequest,
    responses: {
      201: {
        description: 'the user and their first token, shown once',
        schema: z.object({
          user: userSchema,
          token: z.string(),
          apiUrl: z.string().describe('where the user signs in: GASPER_API_URL, else the address this request came to'),
        }),
      },
      409: { description: 'the name is taken' },
    },
  },
  {
    method: 'get',
    path: '/users',
    summary: 'List users (admins)',
    tags: ['users'],
    auth: 'admin',
    responses: { 200: { description: 'every user', schema: z.object({ users: z.array(userSchema) }) } },
  },
  {
    method: 'get',
    path: '/users/:name',
    summary: 'Show a user',
    tags: ['users'],
    auth: 'admin',
    params: user,
    responses: {
      200: { description: 'the user', schema: z.object({ user: userSchema }) },
      404: { description: 'no such user (or not yours)' },
    },
  },
  {
    method: 'patch',
    path: '/users/:name',
    summary: "Change a user's role or quotas (admins)",
    tags: ['users'],
    auth: 'admin',
    params: user,
    body: updateUserRequest,
    responses: {
      200: { description: 'the user', schema: z.object({ user: userSchema }) },
      404: { description: 'no such user' },
    },
  },
  {
    method: 'delete',
    path: '/users/:name',
    summary: 'Delete a user and their tokens (admins)',
    tags: ['users'],
    auth: 'admin',
    params: user,
    responses: { 204: { description: 'deleted' }, 409: { description: 'the user still owns apps' } },
  },
  {
    method: 'post',
    path: '/users/:name/tokens',
    summary: 'Create an API token',
    tags: ['users'],
    auth: 'admin',
    params: user,
    body: createTokenRequest,
    responses: {
      201: {
        description: 'the token; its secret is shown once',
        schema: z.object({ token: tokenSchema, secret: z.string() }),
      },
    },
  },
  {
    method: 'get',
    path: '/users/:name/tokens',
    summary: 'List API tokens (never their secrets)',
    tags: ['users'],
    auth: 'admin',
    params: user,
    responses: { 200: { description: 'the tokens', schema: z.object({ tokens: z.array(tokenSchema) }) } },
  },
  {
    method: 'delete',
    path: '/users/:name/tokens/:id',
    summary: 'Revoke an API token',
    tags: ['users'],
    auth: 'admin',
    params: { ...user, id: 'the token id' },
    responses: { 204: { description: 'revoked' }, 404: { description: 'no such token' } },
  },
);
