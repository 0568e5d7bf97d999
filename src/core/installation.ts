import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from './keys.ts';
import { containerLabels } from './naming.ts';

/**
 * An installation is one Gasper: one Redis, its nodes, and every Docker object its workers create.
 * Two installations may share a Docker daemon (a test run beside production, two platforms with
 * the same node id), so a node id alone does not say whose a container is. The installation id
 * does: it is created once, on first start, kept in the installation's Redis, and written as a
 * label on everything Gasper creates. Listing, reconciliation, supervision and cleanup filter by
 * it, so they never see (let alone remove) another installation's objects or unlabelled ones.
 */

/** 8 lowercase hex characters: short enough for container names, unlikely to collide on one daemon. */
const installationPattern = /^[0-9a-f]{8}$/;

/** This installation's id, created on first start; concurrent first starts agree on one (SET NX). */
export async function ensureInstallation(redis: Redis): Promise<string> {
  await redis.set(keys.installation, crypto.randomBytes(4).toString('hex'), 'NX');
  const id = await redis.get(keys.installation);
  if (!id || !installationPattern.test(id)) {
    throw new Error(`Redis key ${keys.installation} holds "${id ?? ''}", not an installation id (8 hex characters)`);
  }
  return id;
}

/** Whose Docker objects a worker may see and touch: one installation's, on one node. */
export interface DockerScope {
  installation: string;
  node: string;
}

/** The labels that mark an object as this scope's (with the kind-specific labels beside them). */
export function scopeLabels(scope: DockerScope): Record<string, string> {
  return {
    [containerLabels.managed]: 'true',
    [containerLabels.installation]: scope.installation,
    [containerLabels.node]: scope.node,
  };
}

/** A Docker `label` filter selecting this scope's objects, narrowed by `extra` labels. */
export function scopeFilter(scope: DockerScope, extra: Record<string, string> = {}): string[] {
  return Object.entries({ ...scopeLabels(scope), ...extra }).map(([k, v]) => `${k}=${v}`);
}

/** Whether a Docker object's labels say it belongs to this installation. */
export function ownedBy(installation: string, labels: Record<string, string> | null | undefined): boolean {
  return labels?.[containerLabels.installation] === installation;
}
