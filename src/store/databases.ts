import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import {
  backupMetaSchema,
  databaseDocumentSchema,
  type BackupMeta,
  type DatabaseDocument,
} from './database-document.ts';
import { DocumentStore } from './document-store.ts';
import { allocatePort } from './lua.ts';

/** Database documents and their backups in Redis (same shape and concurrency rules as AppStore). */
export class DatabaseStore {
  private readonly docs: DocumentStore<DatabaseDocument>;

  constructor(private readonly redis: Redis) {
    this.docs = new DocumentStore(redis, {
      kind: 'database',
      schema: databaseDocumentSchema,
      key: keys.database,
      index: keys.databases,
      nameOf: (doc) => doc.name,
      stampUpdatedAt: true,
    });
  }

  /** False when the name is taken; one script, so two requests for a name cannot both win. */
  async create(doc: DatabaseDocument): Promise<boolean> {
    return this.docs.create(doc);
  }

  async get(name: string): Promise<DatabaseDocument | undefined> {
    return this.docs.get(name);
  }

  async list(): Promise<DatabaseDocument[]> {
    return this.docs.list();
  }

  /** Compare-and-set read-modify-write; `mutate` returns undefined to leave it unchanged. */
  async update(
    name: string,
    mutate: (doc: DatabaseDocument) => DatabaseDocument | undefined,
  ): Promise<DatabaseDocument | undefined> {
    return this.docs.update(name, mutate);
  }

  /** Reserves a host port on the node; undefined when the range is full. */
  async allocatePort(node: string, range: { min: number; max: number }): Promise<number | undefined> {
    const start = range.min + Math.floor(Math.random() * (range.max - range.min + 1));
    const port = Number(
      await this.redis.eval(allocatePort, 1, keys.nodeDatabasePorts(node), range.min, range.max, start),
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
    await this.docs.remove(name, {
      keys: [keys.databaseBackups(name), ...ids.map((id) => keys.databaseBackup(name, id))],
      commands: (multi) => {
        if (doc) multi.srem(keys.nodeDatabasePorts(doc.node), doc.port);
      },
    });
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
