import { z } from 'zod';

export const databaseStatuses = [
  'queued',
  'provisioning',
  'running',
  'restarting',
  'down',
  'failed',
  'deleting',
] as const;
export type DatabaseStatus = (typeof databaseStatuses)[number];

export const databaseResourcesSchema = z
  .object({
    /** Memory limit of the container, in MiB. */
    memoryMb: z
      .number()
      .int()
      .min(32)
      .max(1024 * 1024)
      .optional(),
    /** CPU share of the container (1.5 = one and a half cores). */
    cpus: z.number().min(0.05).max(256).optional(),
  })
  .strict();
export type DatabaseResources = z.infer<typeof databaseResourcesSchema>;

export const backupMetaSchema = z.object({
  id: z.string(),
  size: z.number().int(),
  createdAt: z.string(),
  /** File name offered on download. */
  filename: z.string(),
});
export type BackupMeta = z.infer<typeof backupMetaSchema>;

/**
 * A database as Redis keeps it: the desired state written by the API (engine, resources, the
 * sealed password) and the observed state written by the node worker (status, host port, health).
 * The password is sealed (core/secret-box.ts) and opened only by the worker.
 */
export const databaseDocumentSchema = z.object({
  name: z.string(),
  /** Identity of this incarnation of the name (see the app document). */
  uid: z.string(),
  /** The user who owns the database (see the app document). */
  owner: z.string().default('admin'),
  engine: z.string(),
  node: z.string(),
  database: z.string(),
  user: z.string(),
  sealedPassword: z.string(),
  /** Bumped by each rotation; the rotation job converges to it. */
  passwordVersion: z.number().int(),
  resources: databaseResourcesSchema.optional(),
  status: z.enum(databaseStatuses),
  /**
   * Node address and host port the engine is published on. The API reserves the port (per node),
   * so the URL handed out at creation is final, and it stays the same across restarts.
   */
  host: z.string(),
  port: z.number().int(),
  container: z.string().optional(),
  /** When the engine first accepted a login. */
  provisionedAt: z.string().optional(),
  /** Restarts Docker made since the last provision (the monitor reports them). */
  restarts: z.number().int().optional(),
  checkedAt: z.string().optional(),
  lastError: z.string().optional(),
  lastJob: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DatabaseDocument = z.infer<typeof databaseDocumentSchema>;
