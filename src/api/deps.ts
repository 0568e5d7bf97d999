import type { Redis } from 'ioredis';
import type { Logger } from '../core/log.ts';
import type { ResourcePolicy } from '../core/resources.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Enqueuer } from '../jobs/enqueue.ts';
import type { NodeQueues } from '../jobs/queues.ts';
import type { AppStore } from '../store/apps.ts';
import type { NodeStore } from '../store/nodes.ts';

export interface ApiOptions {
  domain: string;
  /** Public port of the proxy, for the URLs the API hands out. */
  proxyPort: number;
  allowLocalRepos: boolean;
  /** Nodes silent for longer are not placed on. */
  nodeTimeoutMs: number;
  /** Largest accepted request body. Default 256 KiB. */
  bodyLimit?: string;
  /** Default and maximum instances, CPU and memory (GASPER_MAX_*). Default core/resources.ts's. */
  resources?: ResourcePolicy;
}

/** What the HTTP layer needs; all of it is Redis-backed, none of it talks to Docker. */
export interface ApiDeps {
  redis: Redis;
  apps: AppStore;
  nodes: NodeStore;
  queues: NodeQueues;
  enqueue: Enqueuer;
  secrets: SecretBox;
  log: Logger;
  options: ApiOptions;
}
