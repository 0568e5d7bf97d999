import crypto from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import { bootstrapAdmin, hasScope, scopeForMethod, type Principal, type Scope } from '../core/access.ts';
import { keys } from '../core/keys.ts';
import { sameDigest, sha256 } from '../core/secret-box.ts';
import type { RateLimiter } from '../store/rate-limits.ts';
import type { TokenStore } from '../store/tokens.ts';
import type { UserStore } from '../store/users.ts';
import { ApiError } from './errors.ts';

/**
 * Makes sure an admin token exists and returns a new one only when it was just generated
 * (to be printed once). Only the token's SHA-256 is stored: tokens are 256-bit random values,
 * so a fast hash suffices (a memory-hard one is for low-entropy passwords). The token acts as
 * the `admin` user, created here too.
 */
export async function ensureAdminToken(redis: Redis, configured: string | undefined): Promise<string | undefined> {
  await redis.set(
    keys.user(bootstrapAdmin.user),
    JSON.stringify({ name: bootstrapAdmin.user, role: 'admin', quotas: {}, createdAt: new Date().toISOString() }),
    'NX',
  );
  await redis.sadd(keys.users, bootstrapAdmin.user);
  if (configured) {
    await redis.set(keys.adminTokenHash, sha256(configured));
    return undefined;
  }
  const token = `gsp_${crypto.randomBytes(32).toString('base64url')}`;
  const created = await redis.set(keys.adminTokenHash, sha256(token), 'NX');
  return created === 'OK' ? token : undefined;
}

export interface AuthDeps {
  redis: Redis;
  users: UserStore;
  tokens: TokenStore;
  /** Counts failed authentications per client address. */
  authFailures: RateLimiter;
  /** Failed authentications allowed per address and minute before 429s. */
  authFailuresPerMinute: number;
}

/**
 * `Authorization: Bearer <token>`: the bootstrap admin token (checked against its stored hash,
 * read per request so rotation applies at once) or a user's API token. Sets the principal.
 *
 * The token is checked first: a valid token is never refused, whatever failures were counted for
 * its address, so a flood of bad tokens (from a client sharing the address, or one that spoofs
 * it) cannot lock the admin out. Only failures are limited: a client past
 * `authFailuresPerMinute` gets 429 for the rest of the minute instead of 401, and its further
 * failures are not counted (the window stays bounded).
 */
export function authenticate(deps: AuthDeps): RequestHandler {
  return async (req, res, next) => {
    const principal = await resolvePrincipal(deps, req.get('authorization'));
    if (principal) {
      res.locals.principal = principal;
      return next();
    }
    const client = req.ip ?? 'unknown';
    const limited = await deps.authFailures.peek(client, deps.authFailuresPerMinute);
    if (!limited.allowed) {
      res.setHeader('retry-after', String(limited.retryAfterSeconds));
      return next(new ApiError('RATE_LIMITED', 'too many failed authentications; try again later'));
    }
    await deps.authFailures.hit(client, deps.authFailuresPerMinute);
    next(
      new ApiError(
        'UNAUTHORIZED',
        req.get('authorization') ? 'invalid token' : 'missing "Authorization: Bearer <token>" header',
      ),
    );
  };
}

export async function resolvePrincipal(
  deps: Pick<AuthDeps, 'redis' | 'users' | 'tokens'>,
  header: string | undefined,
): Promise<Principal | undefined> {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const secret = match[1]!;
  const adminHash = await deps.redis.get(keys.adminTokenHash);
  if (adminHash && sameDigest(sha256(secret), adminHash)) return bootstrapAdmin;
  const token = await deps.tokens.verify(secret);
  if (!token) return undefined;
  const user = await deps.users.get(token.user);
  if (!user) return undefined;
  return { user: user.name, role: user.role, scopes: token.scopes, tokenId: token.id };
}

/** The principal `authenticate` set. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('no principal: authenticate() must run first');
  return principal;
}

/** Reads need the `read` scope, changes `deploy`; `scope` overrides (e.g. `admin`). */
export function requireScope(scope?: Scope): RequestHandler {
  return (req, res, next) => {
    const needed = scope ?? scopeForMethod(req.method);
    const principal = principalOf(res);
    if (!hasScope(principal, needed)) {
      // A member can hold no admin token: asking them for the scope would send them looking for one.
      const why =
        needed === 'admin' && principal.role !== 'admin'
          ? `only admins may do this (you are ${principal.user}, a ${principal.role})`
          : `this token lacks the "${needed}" scope`;
      return next(new ApiError('FORBIDDEN', why));
    }
    next();
  };
}

/** Requests that start jobs, per user and minute. */
export function limitJobCreation(limiter: RateLimiter, perMinute: number): RequestHandler {
  return async (req, res, next) => {
    if (scopeForMethod(req.method) === 'read') return next();
    const decision = await limiter.hit(principalOf(res).user, perMinute);
    if (!decision.allowed) {
      res.setHeader('retry-after', String(decision.retryAfterSeconds));
      return next(new ApiError('RATE_LIMITED', `at most ${perMinute} changes per minute; try again later`));
    }
    next();
  };
}
