import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import { DocumentStore } from './document-store.ts';

/**
 * What this installation takes on a node's disk, by category, in bytes (workers/node/disk-use.ts,
 * every GASPER_DISK_USE_INTERVAL_MS): release directories; the rest of the apps' directories
 * (build caches, launch files); images (their own layers, not those shared with the runtime
 * image); containers' writable layers; volumes (databases'); containers' Docker logs, only where
 * the worker can read Docker's directory.
 */
export const diskUseSchema = z.object({
  measuredAt: z.string(),
  releasesBytes: z.number(),
  cachesBytes: z.number(),
  imagesBytes: z.number(),
  images: z.number().int(),
  containersBytes: z.number(),
  volumesBytes: z.number(),
  /** Each app volume's size (core/app-volumes.ts), for its `usedBytes` in `GET /apps/:name`. */
  appVolumes: z.array(z.object({ app: z.string(), uid: z.string(), volume: z.string(), bytes: z.number() })).optional(),
  logsBytes: z.number().optional(),
});
export type DiskUse = z.infer<typeof diskUseSchema>;

export const nodeDocumentSchema = z.object({
  id: z.string(),
  address: z.string(),
  /** `diskBytes`: size of the filesystem holding the state directory (releases, volumes' host side). */
  capacity: z.object({ cpus: z.number(), memoryBytes: z.number(), diskBytes: z.number().optional() }),
  /** Measured at the heartbeat: load average over the last minute per CPU, memory in use, disk free. */
  usage: z
    .object({ load1PerCpu: z.number(), memoryUsedBytes: z.number(), diskFreeBytes: z.number().optional() })
    .optional(),
  /** Gasper's running containers on the node and the limits they were given (Docker NanoCpus, Memory). */
  allocations: z.object({ containers: z.number().int(), cpu: z.number(), memoryBytes: z.number() }).optional(),
  diskUse: diskUseSchema.optional(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
  /**
   * Docker endpoint of this node's daemon (DOCKER_HOST syntax), advertised so that the SSH
   * service of another node can exec into its containers. Whoever reaches it controls the node.
   */
  docker: z.string().optional(),
});
export type NodeDocument = z.infer<typeof nodeDocumentSchema>;

/** Node registrations; a worker rewrites its own document on every heartbeat. */
export class NodeStore {
  private readonly docs: DocumentStore<NodeDocument>;

  constructor(private readonly redis: Redis) {
    this.docs = new DocumentStore(redis, {
      kind: 'node',
      schema: nodeDocumentSchema,
      key: keys.node,
      index: keys.nodes,
      nameOf: (node) => node.id,
    });
  }

  async put(node: NodeDocument): Promise<void> {
    await this.docs.put(node);
  }

  async get(id: string): Promise<NodeDocument | undefined> {
    return this.docs.get(id);
  }

  async list(): Promise<NodeDocument[]> {
    return this.docs.list();
  }

  /**
   * Forgets a retired node: its document, state, drain mark and last reconciliation. Its queue
   * and the deletions recorded for it stay: a worker that comes back registers anew and cleans up.
   */
  async remove(id: string): Promise<void> {
    await this.docs.remove(id, {
      keys: [keys.nodeState(id), keys.nodeReconcile(id)],
      commands: (multi) => multi.srem(keys.nodesDraining, id),
    });
  }

  /** Drained nodes take nothing new; kept apart from the document, which heartbeats rewrite. */
  async setDraining(id: string, draining: boolean): Promise<void> {
    if (draining) await this.redis.sadd(keys.nodesDraining, id);
    else await this.redis.srem(keys.nodesDraining, id);
  }

  async draining(): Promise<Set<string>> {
    return new Set(await this.redis.smembers(keys.nodesDraining));
  }

  /** Records the node's state and returns the previous one (null: never decided), atomically. */
  async swapState(id: string, state: 'up' | 'down'): Promise<string | null> {
    return this.redis.set(keys.nodeState(id), state, 'GET');
  }

  async states(ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const values = await this.redis.mget(ids.map(keys.nodeState));
    return new Map(ids.flatMap((id, i) => (values[i] ? [[id, values[i]!] as const] : [])));
  }
}
