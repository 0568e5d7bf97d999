import type { Redis } from 'ioredis';
import { z } from 'zod';
import { roles } from '../core/access.ts';
import { keys } from '../core/keys.ts';

export const quotasSchema = z
  .object({
    maxApps: z.number().int().min(0).max(100_000),
    maxDatabases: z.number().int().min(0).max(100_000),
    maxCpu: z.number().positive().max(10_000),
    maxMemoryMb: z.number().int().positive().max(100_000_000),
  })
  .partial()
  .strict();

export const userDocumentSchema = z.object({
  name: z.string(),
  role: z.enum(roles),
  quotas: quotasSchema,
  createdAt: z.string(),
});
export type UserDocument = z.infer<typeof userDocumentSchema>;

/** Users in Redis: one JSON value each, plus the set of names. The name is the id. */
export class UserStore {
  constructor(private readonly redis: Redis) {}

  /**
   * False when the name is taken. One script: a user is never stored without being listed
   * (an API process stopped between two commands left exactly that).
   */
  async create(user: UserDocument): Promise<boolean> {
    const created = await this.redis.eval(
      "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then redis.call('SADD', KEYS[2], ARGV[2]) return 1 end return 0",
      2,
      keys.user(user.name),
      keys.users,
      JSON.stringify(userDocumentSchema.parse(user)),
      user.name,
    );
    return created === 1;
  }

  async get(name: string): Promise<UserDocument | undefined> {
    const raw = await this.redis.get(keys.user(name));
    return raw ? userDocumentSchema.parse(JSON.parse(raw)) : undefined;
  }

  async list(): Promise<UserDocument[]> {
    const names = (await this.redis.smembers(keys.users)).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map(keys.user));
    return raws.flatMap((raw) => (raw ? [userDocumentSchema.parse(JSON.parse(raw))] : []));
  }

  async put(user: UserDocument): Promise<void> {
    await this.redis
      .multi()
      .set(keys.user(user.name), JSON.stringify(userDocumentSchema.parse(user)))
      .sadd(keys.users, user.name)
      .exec();
  }

  async remove(name: string): Promise<void> {
    await this.redis.multi().del(keys.user(name)).srem(keys.users, name).exec();
  }
}
