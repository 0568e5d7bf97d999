import { nodesOf, shareOf, type PlacedApp } from '../core/app-placement.ts';
import { describeNodeDown } from '../core/node-condition.ts';
import { databaseJobNames, deleteDatabaseJob } from './database-jobs.ts';
import { deleteAppJob, deployAppJob, operateAppJob, runAppJob } from './schemas.ts';

/**
 * What becomes of a job queued (or stalled) on a node that is down. Pure: tested in
 * test/jobs/failover-plan.unit.test.ts; api/cluster/job-failover.ts applies it.
 *  - `wait`: left in the node's queue; it runs when the node returns. Database jobs wait (the
 *    data is in a volume on that node), but for a deletion, and so do an app's jobs while the
 *    app is still placed there (no other node had room).
 *  - `fail`: the app was moved to another node (which redeploys it) or is gone: the job can never
 *    do anything useful, so it fails with the reason and where to look instead. A run (`run-app`)
 *    runs on the app's primary node only (its release is there): it waits while the primary is
 *    the down node, and fails once the primary is another (run it again there).
 *  - `delete`: the app or database is being deleted: its records are removed without the node,
 *    whose reconciliation removes its containers, release files, volumes and networks when it
 *    returns.
 *  - `skip`: a deletion for an app or database not marked for deletion (another incarnation): ends
 *    completed with nothing done, as the worker itself would end it.
 */
export type FailoverAction =
  | { action: 'wait'; reason: string }
  | { action: 'fail'; reason: string }
  | { action: 'delete'; result: DeletedWithoutNode }
  | { action: 'skip'; result: { outcome: 'skipped'; reason: string } };

/** The result a deletion finished without its node records on its job. */
export interface DeletedWithoutNode {
  outcome: 'deleted';
  containers: 0;
  /** Why nothing was removed on the node, and when it will be. */
  withoutNode: string;
}

/** The part of an app document the plan reads. */
export interface AppPlacement extends PlacedApp {
  uid: string;
  status: string;
  lastJob?: string | undefined;
}

/** The jobs that work on one app (`data.app`, `data.uid`) on the node they were queued on. */
const appJobNames = new Set<string>([deployAppJob.name, operateAppJob.name, deleteAppJob.name, runAppJob.name]);

export function planFailover(
  job: { id: string; name: string; data: unknown },
  node: { id: string; heartbeatAt: string | null },
  app: AppPlacement | undefined,
  database?: { uid: string; status: string },
): FailoverAction {
  const down = describeNodeDown({ ...node, state: 'down' });
  if (job.name === deleteDatabaseJob.name) {
    // Deleting needs nothing of the data: the records go now, the node's files when it returns.
    const uid = (job.data as { uid?: unknown } | undefined)?.uid;
    if (database && (database.uid !== uid || database.status !== 'deleting')) {
      return { action: 'skip', result: { outcome: 'skipped', reason: 'database is not marked for deletion' } };
    }
    return {
      action: 'delete',
      result: {
        outcome: 'deleted',
        containers: 0,
        withoutNode: `${down}: the database was deleted without it; the node's reconciliation removes its container, volume (the data) and network when it returns`,
      },
    };
  }
  if (databaseJobNames.has(job.name)) {
    return {
      action: 'wait',
      reason: `${down}: database jobs run on the database's node only (its data is in a volume there); this one runs when the node returns`,
    };
  }
  const isAppJob = appJobNames.has(job.name);
  const data = job.data as { app?: unknown; uid?: unknown } | undefined;
  if (!isAppJob || typeof data?.app !== 'string' || typeof data.uid !== 'string') {
    return { action: 'wait', reason: `${down}: the job runs when the node returns` };
  }
  const ours = app !== undefined && app.uid === data.uid;

  if (job.name === deleteAppJob.name) {
    if (app && (!ours || app.status !== 'deleting'))
      return { action: 'skip', result: { outcome: 'skipped', reason: 'app is not marked for deletion' } };
    return {
      action: 'delete',
      result: {
        outcome: 'deleted',
        containers: 0,
        withoutNode: `${down}: the app was deleted without it; the node's reconciliation removes its containers, release files and volumes when it returns`,
      },
    };
  }

  if (!ours) return { action: 'fail', reason: `${down}; the app no longer exists` };
  if (app.status === 'deleting') return { action: 'fail', reason: `${down}; the app is being deleted` };
  if (job.name === runAppJob.name) {
    if (app.node === node.id)
      return { action: 'wait', reason: `${down}: the app's primary node is still this one, so the run waits for it` };
    return {
      action: 'fail',
      reason: `${down}; the app's primary node is now ${app.node}: run the command again to run it there`,
    };
  }
  if (placedOn(app, node.id)) {
    return {
      action: 'wait',
      reason: `${down}: no other node had room for the app, so the job runs when the node returns`,
    };
  }
  const next =
    app.lastJob && app.lastJob !== job.id ? `: see job ${app.lastJob}` : '; deploy it again to start it there';
  const nodes = nodesOf(app);
  return {
    action: 'fail',
    reason: `${down}; the app was moved to node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')}${next}`,
  };
}

/** Whether any instance of the app is (still) placed on `node`. */
export function placedOn(app: PlacedApp, node: string): boolean {
  return shareOf(app, node) > 0;
}
