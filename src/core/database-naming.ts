/** Names and labels of what a database owns on its node. Pure. */
import crypto from 'node:crypto';
import { appNameProblem } from './naming.ts';

export const databaseLabel = 'io.gasper.database';
export const databaseUidLabel = 'io.gasper.database-uid';

/** Database names follow app names' rules: a DNS label, since DNS answers `<name>.db.<zone>`. */
export function databaseNameProblem(name: string): string | undefined {
  return appNameProblem(name);
}

/** The host name linked apps reach the database by, on its own network (an alias of its container). */
export function databaseHostName(name: string): string {
  return `gasper-db-${name}`;
}

/** The container: unique per installation, since two installations may share a Docker daemon. */
export function databaseContainerName(installation: string, name: string): string {
  return `gasper-${installation}-db-${name}`;
}

/** One volume per incarnation: a database created again under the same name starts empty. */
export function databaseVolumeName(name: string, uid: string): string {
  return `gasper-db-${name}-${uid}`;
}

/** The database's own network: the database and the apps linked to it, nothing else. */
export function databaseNetworkName(name: string, uid: string): string {
  return `gasper-db-${name}-${uid}`;
}

/** Env variable names for a linked database when an app links several: `<NAME>_URL`. */
export function linkedUrlVariable(name: string): string {
  return `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

/** A new backup id: sorts by time, unique enough within one database, safe in job ids and URLs. */
export function newBackupId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .toLowerCase()}-${crypto.randomBytes(2).toString('hex')}`;
}
