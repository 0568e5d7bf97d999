import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import {
  backupMetaSchema,
  databaseDocumentSchema,
  type BackupMeta,
  type DatabaseDocument,
} from './database-document.ts';

const compareAndSet = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`;
/** Picks a free port of the range for the node, from a random start, and reserves it. */
const allocatePortScript = `local min, max, start = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local size = max - min + 1
for i = 0, size - 1 do
  local port = min + ((start - min + i) % size)
  if redis.call('SADD', KEYS[1], port) == 1 then return port end
end
return 0`;

const createScript = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then redis.call('SADD', KEYS[2], ARGV[2]) return 1 end return 0`;

/** Database documents and their backups in Redis (same shape and concurrency rules as AppStore). */
export class DatabaseStore {
  constructor(private readonly redis: Redis) {}

  /** False when the name is taken; one script, so two requests for a name cannot both win. */
  async create(doc: DatabaseDocument): Promise<boolean> {
    const created = await this.redis.eval(
      createScript,
      2,
      keys.database(doc.name),
      keys.databases,
      JSON.stringify(databaseDocumentSchema.parse(doc)),
      doc.name,
    );
    return created === 1;
  }

  async get(name: string): Promise<DatabaseDocument | undefined> {
    const raw = await this.redis.get(keys.database(name));
    return raw ? databaseDocumentSchema.parse(JSON.parse(raw)) : undefined;
  }

  async list(): Promise<DatabaseDocument[]> {
    const names = (await this.redis.smembers(keys.databases)).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map(keys.database));
    return raws.flatMap((raw) => (raw ? [databaseDocumentSchema.parse(JSON.parse(raw))] : []));
  }

  /** Compare-and-set read-modify-write; `mutate` returns undefined to leave it unchanged. */
  async update(
    name: string,
    mutate: (doc: DatabaseDocument) => DatabaseDocument | undefined,
  ): Promise<DatabaseDocument | undefined> {
    const key = keys.database(name);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const next = mutate(databaseDocumentSchema.parse(JSON.parse(raw)));
      if (!next) return databaseDocumentSchema.parse(JSON.parse(raw));
      next.updatedAt = new Date().toISOString();
      const swapped = await this.redis.eval(
        compareAndSet,
        1,
        key,
        raw,
        JSON.stringify(databaseDocumentSchema.parse(next)),
      );
      if (swapped === 1) return next;
    }
    throw new Error(`database ${name}: too many concurrent updates`);
  }

  /** Reserves a host port on the node; undefined when the range is full. */
  async allocatePort(node: string, range: { min: number; max: number }): Promise<number | undefined> {
    const start = range.min + Math.floor(Math.random() * (range.max - range.min + 1));
    const port = Number(
      await this.redis.eval(allocatePortScript, 1, keys.nodeDatabasePorts(node), range.min, range.max, start),
    );
    return port || undefined;
  }

  async releasePort(node: string, port: number): Promise<void> {
    await this.redis.srem(keys.nodeDatabasePorts(node), port);
  }

  /** Removes the document, its name from the set, its port reservation and every backup. */
  async remove(name: string): Promise<void> {
    const doc = await this.get(name);
    const ids = await this.redis.hkeys(keys.databaseBackups(name));
    const multi = this.redis.multi();
    if (doc) multi.srem(keys.nodeDatabasePorts(doc.node), doc.port);
    await multi
      .del(keys.database(name), keys.databaseBackups(name), ...ids.map((id) => keys.databaseBackup(name, id)))
      .srem(keys.databases, name)
      .exec();
  }

  async listBackups(name: string): Promise<BackupMeta[]> {
    const all = await this.redis.hvals(keys.databaseBackups(name));
    return all
      .map((raw) => backupMetaSchema.parse(JSON.parse(raw)))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async getBackupMeta(name: string, id: string): Promise<BackupMeta | undefined> {
    const raw = await this.redis.hget(keys.databaseBackups(name), id);
    return raw ? backupMetaSchema.parse(JSON.parse(raw)) : undefined;
  }

  async getBackupData(name: string, id: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(keys.databaseBackup(name, id))) ?? undefined;
  }

  /** Stores a backup and drops the oldest beyond `keep`; returns the ids dropped. */
  async putBackup(name: string, meta: BackupMeta, data: Buffer, keep: number): Promise<string[]> {
    await this.redis
      .multi()
      .set(keys.databaseBackup(name, meta.id), data)
      .hset(keys.databaseBackups(name), meta.id, JSON.stringify(backupMetaSchema.parse(meta)))
      .exec();
    const all = await this.listBackups(name);
    const doomed = all.slice(0, Math.max(0, all.length - keep)).map((b) => b.id);
    if (doomed.length) {
      await this.redis
        .multi()
        .hdel(keys.databaseBackups(name), ...doomed)
        .del(...doomed.map((id) => keys.databaseBackup(name, id)))
        .exec();
    }
    return doomed;
  }
}
