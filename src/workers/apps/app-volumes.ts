import type Docker from 'dockerode';
import { appUser } from '../../core/app-user.ts';
import { appVolumeLabels, volumeLabels, type VolumeMount } from '../../core/app-volumes.ts';
import { scopeFilter, scopeLabels } from '../../core/installation.ts';
import { containerLabels } from '../../core/naming.ts';
import { removeVolume } from '../../docker/volumes.ts';
import type { WorkerContext } from '../context.ts';

/** What `ensureAppVolumes` needs of an instance plan. */
export interface VolumeOwner {
  app: string;
  uid: string;
  image: string;
  /** The image's own user (container-spec.ts `fromImage`): the volume is given to it, not Gasper's app user. */
  fromImage?: boolean;
  volumes?: readonly VolumeMount[];
}

/** Marks a volume helper container, with the app it works for (and `volumeLabels.appUid`, its incarnation). */
export const volumeHelperLabel = 'io.gasper.volume-helper';

/**
 * A helper's limits: a `chown` or `find -delete` needs little, and a helper runs the app's image,
 * so a bad one must not take the node's memory, processes or CPU (as containerSpec limits apps).
 */
export const volumeHelperLimits = {
  Memory: 256 * 1024 * 1024,
  MemorySwap: 256 * 1024 * 1024,
  NanoCpus: 500_000_000,
  PidsLimit: 64,
} as const;

/** How long the `chown` of a fresh volume may take (a deploy waits for it) before its helper is killed. */
export const chownTimeoutMs = 60_000;

/** Who a helper works for: its labels let deletion and reconciliation find one left behind. */
export interface HelperOwner {
  app: string;
  uid: string;
}

/** The labels of a volume helper container of one incarnation of an app. */
export function volumeHelperLabels(ctx: Pick<WorkerContext, 'scope'>, owner: HelperOwner): Record<string, string> {
  return { ...scopeLabels(ctx.scope), [volumeHelperLabel]: owner.app, [volumeLabels.appUid]: owner.uid };
}

/**
 * Removes the volume helpers of one incarnation of an app left on this node (a worker that died
 * while one ran): they mount its volumes, which Docker would refuse to remove. Returns how many.
 */
export async function removeVolumeHelpers(ctx: WorkerContext, owner: HelperOwner): Promise<number> {
  const helpers = await ctx.docker.listContainers({
    all: true,
    filters: { label: scopeFilter(ctx.scope, { [volumeHelperLabel]: owner.app, [volumeLabels.appUid]: owner.uid }) },
  });
  for (const h of helpers)
    await ctx.docker
      .getContainer(h.Id)
      .remove({ force: true })
      .catch(() => undefined);
  return helpers.length;
}

const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;

/**
 * Creates the app's Docker volumes on this node that do not exist yet, labelled with the
 * installation, node, app, its uid and the volume's name (what reconciliation and deletion look
 * for). A fresh volume's root belongs to root, and app containers run as an unprivileged user
 * without CAP_CHOWN: so it is handed to the user the app runs as, once, by a short-lived helper
 * container of the app's image. Safe to repeat: an existing volume is left as it is (its data and
 * whatever ownership the app gave its files).
 */
export async function ensureAppVolumes(ctx: WorkerContext, owner: VolumeOwner): Promise<string[]> {
  const created: string[] = [];
  for (const v of owner.volumes ?? []) {
    const exists = await ctx.docker
      .getVolume(v.source)
      .inspect()
      .then(
        () => true,
        (err) => {
          if (statusOf(err) === 404) return false;
          throw err;
        },
      );
    if (exists) continue;
    await ctx.docker.createVolume({
      Name: v.source,
      Labels: { ...scopeLabels(ctx.scope), ...appVolumeLabels(owner.app, owner.uid, v.name) },
    });
    await handVolumeToApp(ctx, owner, v.source);
    created.push(v.source);
  }
  return created;
}

/** The `chown` argument for the user the app's containers run as (a name is resolved in the image). */
export async function volumeOwnerOf(docker: Docker, owner: VolumeOwner): Promise<string | undefined> {
  if (!owner.fromImage) return `${appUser.uid}:${appUser.gid}`;
  const user = (await docker.getImage(owner.image).inspect()).Config?.User ?? '';
  if (user === '' || user === 'root' || user === '0' || user.startsWith('0:')) return undefined;
  return user;
}

/** Runs `chown` on the fresh volume's root in a helper container of the app's image (root, CAP_CHOWN only). */
async function handVolumeToApp(ctx: WorkerContext, owner: VolumeOwner, volume: string): Promise<void> {
  const user = await volumeOwnerOf(ctx.docker, owner);
  if (!user) return;
  // A user given by name is looked up in the image's own /etc/passwd, by `id` in the image.
  const numeric = /^\d+(:\d+)?$/.test(user);
  const [name, group] = user.split(':');
  const target = numeric
    ? `chown ${user} /gasper-volume`
    : `chown "$(id -u ${name})":"${group ? `$(getent group ${group} | cut -d: -f3)` : `$(id -g ${name})`}" /gasper-volume`;
  await runHelper(ctx, owner.image, ['sh', '-c', target], [`${volume}:/gasper-volume`], owner, chownTimeoutMs);
}

/**
 * Runs a short command in a throw-away container of `image` as root with only the capabilities
 * it needs (no network, `volumeHelperLimits`), and returns its output; a non-zero exit is an error
 * with that output, and a helper still running after `timeoutMs` is killed and is an error too.
 */
export async function runHelper(
  ctx: WorkerContext,
  image: string,
  cmd: string[],
  binds: string[],
  owner: HelperOwner,
  timeoutMs: number,
  caps: string[] = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'],
): Promise<void> {
  const container = await ctx.docker.createContainer({
    Image: image,
    Entrypoint: [],
    Cmd: cmd,
    User: '0:0',
    // Not labelled as an app container (containerLabels.app): reconciliation, drains and the
    // supervisor never take it for an instance; deletion finds it by volumeHelperLabels.
    Labels: volumeHelperLabels(ctx, owner),
    NetworkDisabled: true,
    HostConfig: {
      Binds: binds,
      AutoRemove: false,
      CapDrop: ['ALL'],
      CapAdd: caps,
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'none',
      ...volumeHelperLimits,
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await container.start();
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const ended = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, timedOut]);
    if (ended === 'timeout') {
      await container.kill().catch(() => undefined);
      throw new Error(`volume helper (${cmd.join(' ')}) was killed after ${Math.round(timeoutMs / 1000)} s`);
    }
    const { StatusCode } = ended;
    if (StatusCode !== 0) {
      const logs = await container.logs({ stdout: true, stderr: true, follow: false });
      throw new Error(
        `volume helper (${cmd.join(' ')}) exited with ${StatusCode}: ${logs.toString('utf8').slice(-500)}`,
      );
    }
  } finally {
    clearTimeout(timer);
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** This scope's Docker volumes of apps (all, or one app's), with their labels. */
export async function listAppVolumes(
  ctx: WorkerContext,
  app?: string,
): Promise<{ name: string; app: string; uid: string; volume: string }[]> {
  const extra: Record<string, string> = app === undefined ? {} : { [containerLabels.app]: app };
  const listed = await ctx.docker.listVolumes({
    filters: JSON.stringify({ label: [...scopeFilter(ctx.scope, extra), volumeLabels.volume] }),
  });
  return (listed.Volumes ?? []).map((v) => ({
    name: v.Name,
    app: v.Labels?.[containerLabels.app] ?? '',
    uid: v.Labels?.[volumeLabels.appUid] ?? '',
    volume: v.Labels?.[volumeLabels.volume] ?? '',
  }));
}

/**
 * Removes the Docker volumes of one incarnation of an app (`uid`) on this node, or only the
 * volume `only`; returns their names. Containers using them must be gone first.
 */
export async function removeAppVolumes(ctx: WorkerContext, app: string, uid: string, only?: string): Promise<string[]> {
  const doomed = (await listAppVolumes(ctx, app)).filter(
    (v) => v.uid === uid && (only === undefined || v.volume === only),
  );
  for (const v of doomed) await removeVolume(ctx.docker, v.name);
  return doomed.map((v) => v.name);
}
