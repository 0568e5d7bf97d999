import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';

/** A backup of an app's volume: a tar of the volume's files, kept in Redis like database backups. */
export const volumeBackupMetaSchema = z.object({
  id: z.string(),
  volume: z.string(),
  size: z.number().int(),
  createdAt: z.string(),
  /** File name offered on download. */
  filename: z.string(),
});
export type VolumeBackupMeta = z.infer<typeof volumeBackupMetaSchema>;

/** Backups of an app's volumes; they are removed with the app (store/apps.ts `remove`). */
export class VolumeBackupStore {
  constructor(private readonly redis: Redis) {}

  /** Oldest first; of one volume when `volume` is given. */
  async list(app: string, volume?: string): Promise<VolumeBackupMeta[]> {
    const all = await this.redis.hvals(keys.appVolumeBackups(app));
    return all
      .map((raw) => volumeBackupMetaSchema.parse(JSON.parse(raw)))
      .filter((b) => volume === undefined || b.volume === volume)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async meta(app: string, volume: string, id: string): Promise<VolumeBackupMeta | undefined> {
    const raw = await this.redis.hget(keys.appVolumeBackups(app), `${volume}/${id}`);
    return raw ? volumeBackupMetaSchema.parse(JSON.parse(raw)) : undefined;
  }

  async data(app: string, volume: string, id: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(keys.appVolumeBackup(app, volume, id))) ?? undefined;
  }

  /** Stores a backup and drops the volume's oldest beyond `keep`; returns the ids dropped. */
  async put(app: string, meta: VolumeBackupMeta, data: Buffer, keep: number): Promise<string[]> {
    await this.redis
      .multi()
      .set(keys.appVolumeBackup(app, meta.volume, meta.id), data)
      .hset(keys.appVolumeBackups(app), `${meta.volume}/${meta.id}`, JSON.stringify(volumeBackupMetaSchema.parse(meta)))
      .exec();
    const all = await this.list(app, meta.volume);
    const doomed = all.slice(0, Math.max(0, all.length - keep)).map((b) => b.id);
    if (doomed.length) await this.drop(app, meta.volume, doomed);
    return doomed;
  }

  /** Removes backups of a volume (all of them when `ids` is not given). */
  async drop(app: string, volume: string, ids?: readonly string[]): Promise<void> {
    const doomed = ids ?? (await this.list(app, volume)).map((b) => b.id);
    if (doomed.length === 0) return;
    await this.redis
      .multi()
      .hdel(keys.appVolumeBackups(app), ...doomed.map((id) => `${volume}/${id}`))
      .del(...doomed.map((id) => keys.appVolumeBackup(app, volume, id)))
      .exec();
  }
}
