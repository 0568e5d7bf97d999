import { z } from 'zod';

/**
 * State events, published by node workers and consumed by the proxy and DNS. Each event carries
 * the whole current state of one entity (level, not edge), so a consumer that applies the latest
 * event per entity is correct whatever it missed before.
 */
export const instanceSchema = z
  .object({
    node: z.string(),
    /** Address the instance is reachable on: the node's address, never a container IP. */
    address: z.string(),
    /** The published host port; 0 for a process type other than `web`, which has none. */
    port: z.number().int().min(0).max(65535),
    container: z.string(),
    /** The process type (core/formation.ts); absent: `web`. Only `web` instances are routed. */
    process: z.string().optional(),
  })
  // Only a type other than web goes without a port: a web instance on port 0 would be routed nowhere.
  .refine((i) => i.port >= 1 || (i.process !== undefined && i.process !== 'web'), {
    message: 'a web instance has a port from 1 to 65535',
    path: ['port'],
  });
export type Instance = z.infer<typeof instanceSchema>;

export const appInstancesEvent = z.object({
  type: z.literal('app.instances'),
  app: z.string(),
  release: z.string(),
  instances: z.array(instanceSchema),
  /**
   * false: the release runs no web process (its Procfile declares none, or web is scaled to 0),
   * so the proxy answers 503 "no web process" rather than "no running instance". Absent: it does.
   */
  web: z.boolean().optional(),
});

export const appRemovedEvent = z.object({
  type: z.literal('app.removed'),
  app: z.string(),
});

/**
 * Where a database runs: DNS answers `<database>.db.<zone>` with its node's address. Published by
 * the node worker that provisions it.
 */
export const databaseStateEvent = z.object({
  type: z.literal('database.state'),
  database: z.string(),
  engine: z.string(),
  node: z.string(),
  address: z.string(),
  port: z.number().int().min(1).max(65535),
});

export const databaseRemovedEvent = z.object({
  type: z.literal('database.removed'),
  database: z.string(),
});

/**
 * A node's liveness, published on each change by the API's node monitor (src/api/cluster/node-monitor.ts):
 * the proxy stops sending to instances on a node that is `down`.
 */
export const nodeStateEvent = z.object({
  type: z.literal('node.state'),
  node: z.string(),
  state: z.enum(['up', 'down']),
  address: z.string(),
});

/**
 * A custom domain of an app (src/store/domains.ts), published by whoever changes it (the
 * certificates service, the API's domain routes): the proxy routes `domain` to `app`, and serves
 * the certificate stored for it (src/store/certificates.ts) when `certificate` is set. `version`
 * changes whenever the stored certificate does, so a proxy reloads it only then.
 */
export const domainStateEvent = z.object({
  type: z.literal('domain.state'),
  domain: z.string(),
  app: z.string(),
  certificate: z.object({ version: z.string(), notAfter: z.string() }).optional(),
});

/**
 * How the proxy serves an app over HTTPS, as set on the app (`https`, `hsts` of POST/PATCH /apps):
 * `redirect` answers plain HTTP with 308 to https (ACME challenges excepted), `hsts` adds
 * Strict-Transport-Security to its HTTPS answers. Published by the API when they change. An
 * entity of its own (`edge:<app>`), not a field of app.instances: the API owns these settings and
 * changes them without a deploy, while app.instances is the workers' observed state; app.removed
 * ends it too (see `endedEntities`).
 */
export const appEdgeEvent = z.object({
  type: z.literal('app.edge'),
  app: z.string(),
  https: z.enum(['allow', 'redirect']),
  hsts: z.boolean(),
});

export const domainRemovedEvent = z.object({
  type: z.literal('domain.removed'),
  domain: z.string(),
});

export const eventSchema = z.discriminatedUnion('type', [
  appInstancesEvent,
  appRemovedEvent,
  databaseStateEvent,
  databaseRemovedEvent,
  nodeStateEvent,
  domainStateEvent,
  domainRemovedEvent,
  appEdgeEvent,
]);
export type GasperEvent = z.infer<typeof eventSchema>;
export type AppInstancesEvent = z.infer<typeof appInstancesEvent>;
export type DatabaseStateEvent = z.infer<typeof databaseStateEvent>;
export type NodeStateEvent = z.infer<typeof nodeStateEvent>;
export type DomainStateEvent = z.infer<typeof domainStateEvent>;
export type AppEdgeEvent = z.infer<typeof appEdgeEvent>;

/** The entity an event describes; the latest event per entity is kept as a snapshot. */
export function entityOf(event: GasperEvent): string {
  if (event.type === 'node.state') return `node:${event.node}`;
  // Before 'app' in event: a domain event names its app, but the domain is the entity.
  if (event.type === 'domain.state' || event.type === 'domain.removed') return `domain:${event.domain}`;
  if (event.type === 'app.edge') return `edge:${event.app}`;
  return 'app' in event ? `app:${event.app}` : `database:${event.database}`;
}

/** Events that end an entity: its snapshot entry is dropped instead of replaced. */
export function isTombstone(event: GasperEvent): boolean {
  return event.type === 'app.removed' || event.type === 'database.removed' || event.type === 'domain.removed';
}

/** Entities a tombstone ends besides its own: an app's edge settings go with the app. */
export function endedEntities(event: GasperEvent): string[] {
  return event.type === 'app.removed' ? [`edge:${event.app}`] : [];
}
