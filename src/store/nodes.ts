import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';

export const nodeDocumentSchema = z.object({
  id: z.string(),
  address: z.string(),
  capacity: z.object({ cpus: z.number(), memoryBytes: z.number() }),
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
  constructor(private readonly redis: Redis) {}

  async put(node: NodeDocument): Promise<void> {
    await this.redis.multi().set(keys.node(node.id), JSON.stringify(node)).sadd(keys.nodes, node.id).exec();
  }

  async list(): Promise<NodeDocument[]> {
    const ids = (await this.redis.smembers(keys.nodes)).sort();
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map(keys.node));
    return raws.flatMap((raw) => (raw ? [nodeDocumentSchema.parse(JSON.parse(raw))] : []));
  }
}
