import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { scopes } from '../core/access.ts';
import { keys } from '../core/keys.ts';
import { bumpAccessGeneration } from './access-watch.ts';
import { sha256 } from '../core/secret-box.ts';

export const tokenRecordSchema = z.object({
  id: z.string(),
  user: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(scopes)),
  createdAt: z.string(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;

/**
 * API tokens, stored by the SHA-256 of their value: a token is 256 random bits, so a fast hash
 * is enough (a memory-hard one is for low-entropy passwords) and lets every request find its
 * token with one lookup. The value is returned once, by `issue`.
 */
export class TokenStore {
  constructor(private readonly redis: Redis) {}

  async issue(
    user: string,
    name: string,
    tokenScopes: readonly (typeof scopes)[number][],
  ): Promise<{ record: TokenRecord; secret: string }> {
    const secret = `gsp_${crypto.randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      id: `tok_${crypto.randomBytes(6).toString('hex')}`,
      user,
      name,
      scopes: [...tokenScopes],
      createdAt: new Date().toISOString(),
    };
    const hash = sha256(secret);
    await this.redis
      .multi()
      .set(keys.token(hash), JSON.stringify(record))
      .hset(keys.userTokens(user), record.id, hash)
      .exec();
    return { record, secret };
  }

  async verify(secret: string): Promise<TokenRecord | undefined> {
    const raw = await this.redis.get(keys.token(sha256(secret)));
    return raw ? tokenRecordSchema.parse(JSON.parse(raw)) : undefined;
  }

  async list(user: string): Promise<TokenRecord[]> {
    const hashes = Object.values(await this.redis.hgetall(keys.userTokens(user)));
    if (hashes.length === 0) return [];
    const raws = await this.redis.mget(hashes.map(keys.token));
    return raws
      .flatMap((raw) => (raw ? [tokenRecordSchema.parse(JSON.parse(raw))] : []))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** False when the user has no such token. */
  async revoke(user: string, id: string): Promise<boolean> {
    const hash = await this.redis.hget(keys.userTokens(user), id);
    if (!hash) return false;
    await this.redis.multi().del(keys.token(hash)).hdel(keys.userTokens(user), id).exec();
    // Follows opened with it end too (store/access-watch.ts).
    await bumpAccessGeneration(this.redis, { user });
    return true;
  }

  async revokeAll(user: string): Promise<void> {
    const hashes = Object.values(await this.redis.hgetall(keys.userTokens(user)));
    const multi = this.redis.multi();
    for (const hash of hashes) multi.del(keys.token(hash));
    await multi.del(keys.userTokens(user)).exec();
    await bumpAccessGeneration(this.redis, { user });
  }
}
