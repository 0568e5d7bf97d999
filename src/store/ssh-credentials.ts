import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import { addSshKey, setSshPassword } from './lua.ts';

export const sshKeyRecordSchema = z.object({
  id: z.string(),
  type: z.string(),
  fingerprint: z.string(),
  comment: z.string(),
  /** The public key blob, base64. */
  blob: z.string(),
  createdAt: z.string(),
});
export type SshKeyRecord = z.infer<typeof sshKeyRecordSchema>;

export type WriteOutcome = 'written' | 'exists' | 'no-app';

/**
 * An app's SSH credentials: public keys (a hash, id → record) and an optional password, kept
 * only as a scrypt hash (see ssh/password.ts).
 */
export class SshCredentialStore {
  constructor(private readonly redis: Redis) {}

  async addKey(app: string, record: SshKeyRecord): Promise<WriteOutcome> {
    const added = await this.redis.eval(
      addSshKey,
      2,
      keys.app(app),
      keys.appSshKeys(app),
      record.id,
      JSON.stringify(sshKeyRecordSchema.parse(record)),
    );
    return added === -1 ? 'no-app' : added === 1 ? 'written' : 'exists';
  }

  async listKeys(app: string): Promise<SshKeyRecord[]> {
    const raw = await this.redis.hvals(keys.appSshKeys(app));
    return raw
      .map((r) => sshKeyRecordSchema.parse(JSON.parse(r)))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** True when the key existed. */
  async removeKey(app: string, id: string): Promise<boolean> {
    return (await this.redis.hdel(keys.appSshKeys(app), id)) === 1;
  }

  async setPasswordHash(app: string, hash: string): Promise<WriteOutcome> {
    const set = await this.redis.eval(setSshPassword, 2, keys.app(app), keys.appSshPassword(app), hash);
    return set === -1 ? 'no-app' : 'written';
  }

  async passwordHash(app: string): Promise<string | undefined> {
    return (await this.redis.get(keys.appSshPassword(app))) ?? undefined;
  }

  /** True when a password was set. */
  async removePassword(app: string): Promise<boolean> {
    return (await this.redis.del(keys.appSshPassword(app))) === 1;
  }

  /** Removes every SSH credential of the app. Safe to repeat. */
  async removeApp(app: string): Promise<void> {
    await this.redis.del(keys.appSshKeys(app), keys.appSshPassword(app));
  }
}
