import { nodesOf } from '../core/app-placement.ts';
import { deployRequested } from '../core/app-state.ts';
import { releaseId } from '../core/naming.ts';
import type { EnqueuedJob } from '../jobs/enqueue.ts';
import { applyTransition } from '../store/app-state-writes.ts';
import { type ReleaseCause, ReleaseCauseStore } from '../store/release-causes.ts';
import type { ApiDeps } from './deps.ts';

export interface Redeploy {
  release: string;
  job: EnqueuedJob;
}

/**
 * Starts a new release of an existing app, as `POST /apps` starts the first: a new release
 * sequence, `pendingRelease` recorded, a `deploy-app` job on each of the app's nodes. With `commit`, the
 * worker deploys exactly that commit instead of the branch head. `cause` (who asked, and why)
 * goes in the app's release list. Undefined when the app is gone or being deleted. A deploy
 * still running for an older release sees it was superseded.
 */
export async function enqueueRedeploy(
  deps: Pick<ApiDeps, 'apps' | 'enqueue' | 'redis'>,
  name: string,
  cause: Omit<ReleaseCause, 'release' | 'at'>,
  options: { commit?: string } = {},
): Promise<Redeploy | undefined> {
  if (!(await deps.apps.get(name))) return undefined;
  const release = releaseId(await deps.apps.nextReleaseSeq(name));
  // An app that never ran is queued again; a running one keeps serving until the switch.
  const { doc } = await applyTransition(deps.redis, name, deployRequested(release));
  if (!doc || doc.pendingRelease !== release) return undefined;
  const job = await deps.enqueue.deployApp(
    nodesOf(doc),
    {
      app: doc.name,
      uid: doc.uid,
      release,
      ...(options.commit ? { commit: options.commit } : {}),
    },
    doc.owner,
  );
  // Recorded once the job exists, and only for the app that asked (not one deleted meanwhile).
  const stored = await deps.apps.update(name, (d) => (d.uid === doc.uid ? { ...d, lastJob: job.id } : undefined));
  if (stored) await new ReleaseCauseStore(deps.redis).add(name, { release, ...cause });
  return { release, job };
}
