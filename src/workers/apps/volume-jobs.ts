import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { newBackupId } from '../../core/database-naming.ts';
import { appVolumeName } from '../../core/app-volumes.ts';
import { listManaged } from '../../docker/containers.ts';
import type { AppVolumeData } from '../../jobs/schemas.ts';
import { VolumeBackupStore } from '../../store/volume-backups.ts';
import type { WorkerContext } from '../context.ts';
import { JobReporter } from '../job-reporter.ts';
import { removeAppVolumes, runHelper, volumeHelperLabels, volumeHelperLimits } from './app-volumes.ts';
import { runTimeoutMs } from './run-app.ts';

export type VolumeJobResult =
  | { outcome: 'removed'; volumes: string[] }
  | { outcome: 'backed-up'; backup: string; size: number }
  | { outcome: 'restored'; backup: string }
  | { outcome: 'skipped'; reason: string };

/** Where a backup helper mounts the volume; the tar's top folder has its base name. */
const helperPath = '/gasper-volume';

/** The limits of volume backups: those of database backups (GASPER_DB_BACKUP_MAX_BYTES, GASPER_DB_BACKUPS_KEPT). */
export interface VolumeBackupLimits {
  maxBytes: number;
  kept: number;
}

/** Runs an `app-volume` job (jobs/schemas.ts) on the app's primary node. Safe to repeat. */
export async function runVolumeJob(
  ctx: WorkerContext,
  job: Job,
  data: AppVolumeData,
  limits: VolumeBackupLimits,
): Promise<VolumeJobResult> {
  const report = new JobReporter(job, ctx.log);
  const doc = await ctx.apps.get(data.app);
  if (!doc || doc.uid !== data.uid) return { outcome: 'skipped', reason: 'the app no longer exists' };
  if (data.op === 'remove') {
    // Declared again meanwhile: its data is in use, not to be removed.
    if (doc.volumes?.some((v) => v.name === data.volume))
      return { outcome: 'skipped', reason: `the app declares volume "${data.volume}" again` };
    await report.step(10, `removing volume ${data.volume}`);
    const removed = await removeAppVolumes(ctx, data.app, data.uid, data.volume);
    await new VolumeBackupStore(ctx.redis).drop(data.app, data.volume);
    await report.step(100, removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove on this node');
    return { outcome: 'removed', volumes: removed };
  }
  const backups = new VolumeBackupStore(ctx.redis);
  if (data.op === 'restore') {
    const tar = data.backup ? await backups.data(data.app, data.volume, data.backup) : undefined;
    if (!tar) throw new UnrecoverableError(`backup ${data.backup ?? ''} of volume "${data.volume}" no longer exists`);
    if (!doc.volumes?.some((v) => v.name === data.volume))
      throw new UnrecoverableError(`app "${data.app}" has no volume "${data.volume}"`);
    await report.step(10, `restoring ${data.backup} (${tar.length} bytes) into volume ${data.volume}`);
    await restoreVolume(ctx, data, tar);
    await report.step(100, 'restored');
    return { outcome: 'restored', backup: data.backup! };
  }
  const id = data.backup ?? newBackupId();
  if (await backups.meta(data.app, data.volume, id)) return { outcome: 'skipped', reason: 'backup exists' };
  if (!doc.volumes?.some((v) => v.name === data.volume))
    throw new UnrecoverableError(`app "${data.app}" has no volume "${data.volume}"`);
  await report.step(10, `archiving volume ${data.volume}`);
  const tar = await archiveVolume(ctx, data, limits.maxBytes);
  const meta = {
    id,
    volume: data.volume,
    size: tar.length,
    createdAt: new Date().toISOString(),
    filename: `${data.app}-${data.volume}-${id}.tar`,
  };
  const dropped = await backups.put(data.app, meta, tar, limits.kept);
  if (dropped.length) await report.line(`dropped older backup(s) ${dropped.join(', ')}`);
  await report.step(100, `backed up ${tar.length} bytes`);
  return { outcome: 'backed-up', backup: id, size: tar.length };
}

/** The volume's Docker name and an image to make helpers of (one of the app's containers' on this node). */
async function volumeAndImage(ctx: WorkerContext, data: AppVolumeData): Promise<{ volume: string; image: string }> {
  const volume = appVolumeName(ctx.scope.installation, data.app, data.uid, data.volume);
  const exists = await ctx.docker
    .getVolume(volume)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (!exists)
    throw new UnrecoverableError(
      `volume "${data.volume}" has no data on node ${ctx.options.nodeId} yet: the app was never started with it`,
    );
  const image = (await listManaged(ctx.docker, ctx.scope, { app: data.app }))[0]?.Image;
  if (!image)
    throw new UnrecoverableError(
      `app "${data.app}" has no container on node ${ctx.options.nodeId} to reach its volume with: start it first`,
    );
  return { volume, image };
}

/** A helper container (never started) of `image` with the volume at `helperPath`: Docker's archive API works on it. */
function helperContainer(ctx: WorkerContext, image: string, volume: string, data: AppVolumeData, readOnly: boolean) {
  return ctx.docker.createContainer({
    Image: image,
    Entrypoint: [],
    Cmd: ['true'],
    Labels: volumeHelperLabels(ctx, data),
    NetworkDisabled: true,
    HostConfig: {
      Binds: [`${volume}:${helperPath}${readOnly ? ':ro' : ''}`],
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      ...volumeHelperLimits,
    },
  });
}

/**
 * A tar of the volume, through Docker's archive API on a helper container that is never started
 * (so the app's image needs no `tar`), the volume mounted read-only. Over `maxBytes` the backup
 * fails (it would not fit in Redis).
 */
async function archiveVolume(ctx: WorkerContext, data: AppVolumeData, maxBytes: number): Promise<Buffer> {
  const { volume, image } = await volumeAndImage(ctx, data);
  const helper = await helperContainer(ctx, image, volume, data, true);
  try {
    const stream = (await helper.getArchive({ path: `${helperPath}/.` })) as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes)
        throw new UnrecoverableError(
          `the backup of volume "${data.volume}" is over ${maxBytes} bytes (GASPER_DB_BACKUP_MAX_BYTES)`,
        );
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  } finally {
    await helper.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * Replaces the volume's files by the backup's: empties it (a helper of the app's image running
 * `find … -delete` as root, so the image needs `sh` and `find`), then extracts the tar through
 * Docker's archive API (owners and modes as in the backup). The app keeps running meanwhile:
 * stop it first for a consistent restore.
 */
async function restoreVolume(ctx: WorkerContext, data: AppVolumeData, tar: Buffer): Promise<void> {
  const { volume, image } = await volumeAndImage(ctx, data);
  await runHelper(
    ctx,
    image,
    ['sh', '-c', `find ${helperPath} -mindepth 1 -delete`],
    [`${volume}:${helperPath}`],
    data,
    // Emptying a large volume may take long; one-off containers' limit bounds it (GASPER_RUN_TIMEOUT_S).
    runTimeoutMs(ctx),
  );
  const helper = await helperContainer(ctx, image, volume, data, false);
  try {
    await helper.putArchive(tar, { path: helperPath });
  } finally {
    await helper.remove({ force: true }).catch(() => undefined);
  }
}
