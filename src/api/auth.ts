import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import { sameDigest, sha256 } from '../core/secret-box.ts';
import { ApiError } from './errors.ts';

/**
 * Makes sure an admin token exists and returns a new one only when it was just generated
 * (to be printed once). Only the token's SHA-256 is stored: tokens are 256-bit random values,
 * so a fast hash suffices (a memory-hard one is for low-entropy passwords).
 */
export async function ensureAdminToken(redis: Redis, configured: string | undefined): Promise<string | undefined> {
  if (configured) {
    await redis.set(keys.adminTokenHash, sha256(configured));
    return undefined;
  }
  const token = `gsp_${crypto.randomBytes(32).toString('base64url')}`;
  const created = await redis.set(keys.adminTokenHash, sha256(token), 'NX');
  return created === 'OK' ? token : undefined;
}

/** `Authorization: Bearer <token>` checked against the stored hash (read per request: rotation applies at once). */
export function requireAdmin(redis: Redis): RequestHandler {
  return async (req, _res, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match) return next(new ApiError('UNAUTHORIZED', 'missing "Authorization: Bearer <token>" header'));
    const stored = await redis.get(keys.adminTokenHash);
    if (!stored || !sameDigest(sha256(match[1]!), stored)) return next(new ApiError('UNAUTHORIZED', 'invalid token'));
    next();
  };
}
