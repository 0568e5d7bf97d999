import type { Job } from 'bullmq';
import type { DeleteAppData } from '../../jobs/schemas.ts';
import { listManaged, removeContainer } from '../../docker/containers.ts';
import type { WorkerContext } from '../context.ts';
import { JobReporter } from '../job-reporter.ts';
import { listAppNetworks, removeUnusedNetwork } from '../../docker/networks.ts';
import { removeAppRecords } from '../../store/record-removal.ts';
import { scopeFilter } from '../../core/installation.ts';
import { containerLabels } from '../../core/naming.ts';
import { removeImage } from './dockerfile-build.ts';
import { removeAppVolumes, removeVolumeHelpers } from './app-volumes.ts';

/** Tries of the app network's removal while a container of an ending job still holds it, and the pause between. */
const networkRetries = 10;
const networkRetryMs = 500;

export type DeleteResult = { outcome: 'deleted'; containers: number } | { outcome: 'skipped'; reason: string };

/**
 * Removes everything of an app on this node: containers (all releases, builds included), images
 * built from its Dockerfile, its volumes (the data), its network,
 * release directories, its route (tombstone event) and its keys. Safe to repeat.
 */
export async function deleteApp(ctx: WorkerContext, job: Job, data: DeleteAppData): Promise<DeleteResult> {
  const report = new JobReporter(job, ctx.log);
  const doc = await ctx.apps.get(data.app);
  // A newer app of the same name (created after this deletion finished once) is not ours to delete.
  if (doc && (doc.uid !== data.uid || doc.status !== 'deleting')) {
    return { outcome: 'skipped', reason: 'app is not marked for deletion' };
  }

  await report.step(10, 'removing containers');
  const removeContainers = async () => {
    const containers = await listManaged(ctx.docker, ctx.scope, { app: data.app });
    await Promise.all(containers.map((c) => removeContainer(ctx.docker, c.Id)));
    return containers.length;
  };
  const removedContainers = await removeContainers();
  await report.line(`removed ${removedContainers} container(s)`);
  // Its network too, now that no container of the app uses it. A job of the app still ending (a
  // redeploy draining its previous instances) may attach or hold a container after the listing
  // above: those go too, and the removal is tried again for a few seconds before it is left to
  // the node's reconcile.
  for (const network of await listAppNetworks(ctx.docker, ctx.scope, data.app)) {
    if (network.uid !== data.uid) continue;
    let removed = await removeUnusedNetwork(ctx.docker, network.id);
    for (let attempt = 1; !removed && attempt <= networkRetries; attempt++) {
      await new Promise((r) => setTimeout(r, networkRetryMs));
      await removeContainers();
      removed = await removeUnusedNetwork(ctx.docker, network.id);
    }
    await report.line(
      removed
        ? `removed network ${network.name}`
        : `network ${network.name} is still in use; the node's reconcile removes it once it is not`,
    );
  }

  // Its volumes (the data: deleting the app is what removes it), this incarnation's only.
  // A volume helper left by a worker that died mounts a volume: Docker would refuse to remove it.
  const helpers = await removeVolumeHelpers(ctx, data);
  if (helpers) await report.line(`removed ${helpers} volume helper container(s)`);
  const removedVolumes = await removeAppVolumes(ctx, data.app, data.uid);
  if (removedVolumes.length) await report.line(`removed volume(s) ${removedVolumes.join(', ')}`);

  // Images built from the app's Dockerfile on this node (labelled with the installation and app).
  const images = await ctx.docker.listImages({
    filters: JSON.stringify({ label: scopeFilter(ctx.scope, { [containerLabels.app]: data.app }) }),
  });
  for (const image of images) await removeImage(ctx.docker, image.Id);
  if (images.length) await report.line(`removed ${images.length} image(s)`);

  await report.step(50, 'removing release directories');
  await ctx.releases.removeApp(data.app);

  await report.step(80, 'removing route and records');
  await removeAppRecords(ctx.redis, ctx.apps, data.app);
  await report.step(100, 'deleted');
  return { outcome: 'deleted', containers: removedContainers };
}
