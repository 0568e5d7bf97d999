import crypto from 'node:crypto';
import express, { Router, type Request, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../../core/keys.ts';
import { sameDigest, sha256 } from '../../core/secret-box.ts';
import { hasScope } from '../../core/access.ts';
import { resolvePrincipal, type AuthDeps } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';

export const sessionCookie = 'gasper_admin';
/** A browser session lasts 12 hours. */
export const sessionTtlSeconds = 12 * 3600;

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

async function isAdminToken(redis: Redis, token: string): Promise<boolean> {
  const stored = await redis.get(keys.adminTokenHash);
  return Boolean(stored) && sameDigest(sha256(token), stored!);
}

/**
 * Admin routes a browser opens (Bull Board): the admin Bearer token, or a session cookie from
 * `POST /admin/login`. The cookie is a random 256-bit value; Redis keeps only its SHA-256, with
 * the admin token hash it was issued under, so rotating the admin token ends every session.
 * A browser without either is sent to the login form; other clients get 401.
 */
export function requireAdminOrSession(
  auth: Pick<AuthDeps, 'redis' | 'users' | 'tokens'>,
  loginPath: string,
): RequestHandler {
  const { redis } = auth;
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (header) {
      // Any admin's token with the admin scope, not only the bootstrap one.
      const principal = await resolvePrincipal(auth, header);
      if (principal && hasScope(principal, 'admin')) return next();
      return next(
        new ApiError(
          principal ? 'FORBIDDEN' : 'UNAUTHORIZED',
          principal ? 'the queues are for admins' : 'invalid token',
        ),
      );
    }
    const session = cookieValue(req, sessionCookie);
    if (session && /^[A-Za-z0-9_-]{43}$/.test(session)) {
      const [issuedUnder, current] = await redis.mget(keys.adminSession(sha256(session)), keys.adminTokenHash);
      if (issuedUnder && current && issuedUnder === current) return next();
    }
    if (req.method === 'GET' && req.accepts(['json', 'html']) === 'html') return res.redirect(303, loginPath);
    next(new ApiError('UNAUTHORIZED', `sign in at ${loginPath} or send "Authorization: Bearer <token>"`));
  };
}

const loginPage = (message = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gasper admin sign-in</title></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 4rem auto">
  <h1>Gasper admin</h1>
  ${message ? `<p role="alert" style="color: #b00">${message}</p>` : ''}
  <form method="post" action="/admin/login">
    <label>Admin token <input name="token" type="password" autocomplete="current-password" required style="width: 100%"></label>
    <p><button type="submit">Sign in</button></p>
  </form>
</body></html>
`;

export const loginRequestSchema = z.object({ token: z.string().min(1).max(512) }).strict();

apiRoutes.add(
  {
    method: 'get',
    path: '/admin/login',
    summary: 'Sign-in form for the admin pages (Bull Board)',
    tags: ['admin'],
    auth: 'none',
    responses: { 200: { description: 'an HTML form', schema: z.string(), contentType: 'text/html' } },
  },
  {
    method: 'post',
    path: '/admin/login',
    summary: 'Exchange the admin token for a session cookie',
    tags: ['admin'],
    auth: 'none',
    description: 'Sets `gasper_admin` (HttpOnly, SameSite=Strict, Path=/admin, 12 h) and redirects to /admin/queues.',
    body: loginRequestSchema,
    bodyContentType: 'application/x-www-form-urlencoded',
    responses: { 303: { description: 'signed in: redirect to /admin/queues' }, 401: { description: 'wrong token' } },
  },
  {
    method: 'post',
    path: '/admin/logout',
    summary: 'End the browser session',
    tags: ['admin'],
    auth: 'none',
    responses: { 303: { description: 'signed out: redirect to /admin/login' } },
  },
);

/**
 * `GET/POST /admin/login`, `POST /admin/logout`. The token travels in a POST body, never in a
 * URL (URLs end up in histories and access logs).
 */
export function adminSessionRouter(redis: Redis): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  router.get('/login', (_req, res) => {
    res.type('html').set('cache-control', 'no-store').send(loginPage());
  });

  router.post('/login', form, async (req, res) => {
    const parsed = loginRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success || !(await isAdminToken(redis, parsed.data.token))) {
      res.status(401).type('html').send(loginPage('That is not the admin token.'));
      return;
    }
    const session = crypto.randomBytes(32).toString('base64url');
    await redis.set(keys.adminSession(sha256(session)), sha256(parsed.data.token), 'EX', sessionTtlSeconds);
    res.cookie(sessionCookie, session, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/admin',
      maxAge: sessionTtlSeconds * 1000,
    });
    res.redirect(303, '/admin/queues');
  });

  router.post('/logout', async (req, res) => {
    const session = cookieValue(req, sessionCookie);
    if (session) await redis.del(keys.adminSession(sha256(session)));
    res.clearCookie(sessionCookie, { path: '/admin' });
    res.redirect(303, '/admin/login');
  });

  return router;
}
