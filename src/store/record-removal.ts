import type { Redis } from 'ioredis';
import { publishEvent } from '../events/stream.ts';
import type { AppStore } from './apps.ts';
import type { DatabaseStore } from './databases.ts';
import { DomainStore } from './domains.ts';
import { SshCredentialStore } from './ssh-credentials.ts';

/**
 * The last step of deleting an app, wherever it runs (a node's delete job, or the API finishing
 * the deletion of a node that is down): its route goes (tombstone event), then its custom
 * domains (the API removed them when the deletion began; any added meanwhile go here), its SSH
 * credentials and every key of its own. Safe to repeat.
 */
export async function removeAppRecords(redis: Redis, apps: AppStore, name: string): Promise<void> {
  await publishEvent(redis, { type: 'app.removed', app: name });
  await new DomainStore(redis).removeApp(name);
  await new SshCredentialStore(redis).removeApp(name);
  await apps.remove(name);
}

/** The last step of deleting a database, on its node or without it: its DNS name and every key of its own. */
export async function removeDatabaseRecords(redis: Redis, databases: DatabaseStore, name: string): Promise<void> {
  await publishEvent(redis, { type: 'database.removed', database: name });
  await databases.remove(name);
}
