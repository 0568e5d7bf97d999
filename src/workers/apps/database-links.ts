import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import { databaseHostName, databaseNetworkName, linkedUrlVariable } from '../../core/database-naming.ts';
import { connectionUrl, engines } from '../../core/engines.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { connectNetwork } from '../../docker/networks.ts';

export interface DatabaseLinks {
  /** DATABASE_URL / REDIS_URL for one database; `<NAME>_URL` each for several. */
  env: Record<string, string>;
  /** Networks the app container joins: those of its databases, where it reaches them by name. */
  networks: string[];
}

/**
 * What an app's linked databases add to its container. The URLs name the database container on
 * its own network, so they work from inside the app whatever host port the engine has. A database
 * gone or being deleted is left out (the API refuses to delete a linked one).
 */
export async function linkedDatabases(
  ctx: { redis: Redis; secrets: SecretBox },
  app: AppDocument,
): Promise<DatabaseLinks> {
  const names = app.databases ?? [];
  const links: DatabaseLinks = { env: {}, networks: [] };
  if (names.length === 0) return links;
  const store = new DatabaseStore(ctx.redis);
  for (const name of names) {
    const db = await store.get(name);
    const engine = db && engines[db.engine];
    if (!db || !engine || db.status === 'deleting') continue;
    const url = connectionUrl(
      engine,
      { database: db.database, user: db.user, password: ctx.secrets.open(db.sealedPassword) },
      databaseHostName(name),
      engine.port,
    );
    links.env[names.length === 1 ? engine.urlVariable : linkedUrlVariable(name)] = url;
    links.networks.push(databaseNetworkName(name, db.uid));
  }
  return links;
}

/** Joins the (created, not necessarily started) app container to its databases' networks. */
export async function joinDatabaseNetworks(
  docker: Docker,
  container: string,
  networks: readonly string[],
): Promise<void> {
  for (const network of networks) await connectNetwork(docker, network, container);
}
