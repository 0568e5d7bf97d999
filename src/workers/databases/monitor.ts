import { databaseLabel, databaseUidLabel } from '../../core/database-naming.ts';
import { engines } from '../../core/engines.ts';
import { scopeFilter } from '../../core/installation.ts';
import { publishEvent } from '../../events/stream.ts';
import type { DatabaseWorkerContext } from './context.ts';
import { observeDatabase } from './health.ts';

/** Statuses the monitor owns; the others belong to jobs in flight (provisioning, deleting...). */
const observed = new Set(['running', 'restarting', 'down']);

/**
 * Checks this node's database containers once: Docker restarts one that dies (restart policy
 * `unless-stopped`); this reports it. Status, restart count and the error go to the document, and
 * a new host port (Docker may pick another after a restart) to the event stream.
 */
export async function checkDatabases(ctx: DatabaseWorkerContext): Promise<number> {
  const containers = await ctx.docker.listContainers({
    all: true,
    filters: {
      label: [...scopeFilter({ installation: ctx.options.installation, node: ctx.options.nodeId }), databaseLabel],
    },
  });
  let changed = 0;
  for (const c of containers) {
    const name = c.Labels[databaseLabel]!;
    const doc = await ctx.databases.get(name);
    const engine = doc && engines[doc.engine];
    if (!doc || !engine || !observed.has(doc.status) || doc.uid !== c.Labels[databaseUidLabel]) continue;
    const info = await ctx.docker
      .getContainer(c.Id)
      .inspect()
      .catch(() => undefined);
    if (!info) continue;
    const seen = observeDatabase(info, engine.port);
    const port = seen.port ?? doc.port;
    if (seen.status === doc.status && seen.restarts === (doc.restarts ?? 0) && port === doc.port) continue;
    const stored = await ctx.databases.update(name, (d) =>
      !observed.has(d.status) || d.uid !== doc.uid
        ? undefined
        : {
            ...d,
            status: seen.status,
            restarts: seen.restarts,
            port,
            checkedAt: new Date().toISOString(),
            lastError:
              seen.problem ??
              (seen.restarts > (d.restarts ?? 0) ? `restarted by Docker (${seen.restarts} restarts)` : d.lastError),
          },
    );
    changed++;
    ctx.log.warn({ database: name, status: seen.status, restarts: seen.restarts }, 'database state changed');
    if (stored && port && port !== doc.port) {
      await publishEvent(ctx.redis, {
        type: 'database.state',
        database: name,
        engine: doc.engine,
        node: ctx.options.nodeId,
        address: ctx.options.nodeAddress,
        port,
      });
    }
  }
  return changed;
}

/** Runs `checkDatabases` every `monitorMs` until closed. */
export function startDatabaseMonitor(ctx: DatabaseWorkerContext): { close(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => checkDatabases(ctx)).catch((err) => ctx.log.warn({ err }, 'database check failed'));
  }, ctx.options.monitorMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
