import type { Redis } from 'ioredis';
import { z } from 'zod';
import { roles } from '../core/access.ts';
import { keys } from '../core/keys.ts';
import { DocumentStore } from './document-store.ts';

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
  private readonly docs: DocumentStore<UserDocument>;

  constructor(redis: Redis) {
    this.docs = new DocumentStore(redis, {
      kind: 'user',
      schema: userDocumentSchema,
      key: keys.user,
      index: keys.users,
      nameOf: (user) => user.name,
    });
  }

  /**
   * False when the name is taken. One script: a user is never stored without being listed
   * (an API process stopped between two commands left exactly that).
   */
  async create(user: UserDocument): Promise<boolean> {
    return this.docs.create(user);
  }

  async get(name: string): Promise<UserDocument | undefined> {
    return this.docs.get(name);
  }

  async list(): Promise<UserDocument[]> {
    return this.docs.list();
  }

  async put(user: UserDocument): Promise<void> {
    await this.docs.put(user);
  }

  async remove(name: string): Promise<void> {
    await this.docs.remove(name);
  }
}
