/**
 * An app's persistent volumes: what a user may ask for, and the names and labels of the Docker
 * volumes that hold them. Pure: tested in test/core/app-volumes.unit.test.ts.
 *
 * A volume belongs to one incarnation of an app (its uid) in one installation: the Docker name
 * holds both, so two installations on one daemon, or an app deleted and created again under the
 * same name, never share data. Volumes are local to a node: an app with one runs all its instances
 * on that node (its primary), and a drain or a node failure leaves it there (`volumeStaysReason`).
 */
import { z } from 'zod';
import { appNameProblem, containerLabels } from './naming.ts';

/** Paths a volume may not hide: the release (/app), the system, Gasper's own mounts. */
const forbiddenPaths = [
  '/',
  '/app',
  '/proc',
  '/sys',
  '/dev',
  '/etc',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/usr',
  '/boot',
  '/run',
  '/var/run',
  '/tmp',
];
/** Paths under which a volume may not go either (a mount inside the release or the system). */
const forbiddenPrefixes = [
  '/app/',
  '/proc/',
  '/sys/',
  '/dev/',
  '/etc/',
  '/usr/',
  '/bin/',
  '/sbin/',
  '/lib/',
  '/boot/',
  '/run/',
  '/tmp/',
];

/** At most this many volumes per app. */
export const maxVolumes = 10;

/** Why `path` cannot be a volume's mount path, or undefined when it can. */
export function volumePathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path (starting with /)';
  if (path.length > 200) return 'must be at most 200 characters';
  if (!/^[A-Za-z0-9._/-]+$/.test(path)) return 'must be letters, digits, ".", "_", "-" and "/"';
  if (path.split('/').some((part) => part === '.' || part === '..')) return 'must not contain "." or ".." segments';
  const normal = path.replace(/\/+$/, '') || '/';
  if (normal !== path || path.includes('//')) return 'must be normalized (no trailing or doubled "/")';
  if (forbiddenPaths.includes(normal) || forbiddenPrefixes.some((p) => normal.startsWith(p)))
    return `must not be ${normal === '/' ? '/' : `${normal} or under a system path`} (the release is at /app; /proc, /sys, /dev, /etc, /usr, /tmp… belong to the container)`;
  return undefined;
}

/** Volume names follow app names' rules (a DNS label), so they read well in Docker names. */
export function volumeNameProblem(name: string): string | undefined {
  if (name.length > 30) return 'must be 1 to 30 characters';
  const problem = appNameProblem(name);
  // App names reserve some words (api, www…); a volume has no host name, so only the shape matters.
  return problem?.includes('reserved') ? undefined : problem;
}

const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

/** One volume as an app declares it. `size` (MiB) is recorded and watched, not enforced by Docker. */
export const appVolumeSchema = z
  .object({
    name: checked(volumeNameProblem),
    path: checked(volumePathProblem),
    size: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024)
      .optional()
      .describe(
        'MiB the volume is expected to stay under: reported when exceeded, not enforced (see the volumes guide)',
      ),
  })
  .strict();
export type AppVolume = z.infer<typeof appVolumeSchema>;

/** The `volumes` field of `POST /apps` and `PATCH /apps/:name`: unique names and paths, none nested in another. */
export const appVolumesField = z
  .array(appVolumeSchema)
  .max(maxVolumes)
  .superRefine((volumes, ctx) => {
    volumes.forEach((v, i) => {
      if (volumes.findIndex((o) => o.name === v.name) !== i)
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `volume name "${v.name}" is used twice` });
      const other = volumes.findIndex(
        (o, j) => j !== i && (o.path === v.path || v.path.startsWith(`${o.path}/`) || o.path.startsWith(`${v.path}/`)),
      );
      if (other !== -1 && other < i)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'path'],
          message: `path "${v.path}" is the same as or nested with volume "${volumes[other]!.name}" (${volumes[other]!.path})`,
        });
    });
  });

/** Labels of an app volume besides the scope's (core/installation.ts). */
export const volumeLabels = {
  /** The volume's name within the app. */
  volume: 'io.gasper.volume',
  /** The app's incarnation (its uid): a re-created app never sees the first one's data. */
  appUid: 'io.gasper.app-uid',
} as const;

/** The Docker volume of an app's volume: `gasper-<installation>-<app>-<uid>-v-<volume>`. */
export function appVolumeName(installation: string, app: string, uid: string, volume: string): string {
  return `gasper-${installation}-${app}-${uid}-v-${volume}`;
}

/** The labels of an app's Docker volume (the scope's are added by the caller). */
export function appVolumeLabels(app: string, uid: string, volume: string): Record<string, string> {
  return { [containerLabels.app]: app, [volumeLabels.appUid]: uid, [volumeLabels.volume]: volume };
}

/** What a container mounts: a Docker volume at a path. */
export interface VolumeMount {
  /** The volume's name within the app. */
  name: string;
  /** The Docker volume (`appVolumeName`). */
  source: string;
  /** Where it is mounted in the container. */
  target: string;
}

/** The mounts of an app's containers (instances and one-off runs): every volume it declares. */
export function appVolumeMounts(
  installation: string,
  app: { name: string; uid: string; volumes?: readonly AppVolume[] | undefined },
): VolumeMount[] {
  return (app.volumes ?? []).map((v) => ({
    name: v.name,
    source: appVolumeName(installation, app.name, app.uid, v.name),
    target: v.path,
  }));
}

/** Why an app with volumes stays on its node when the node is drained or lost. */
export const volumeStaysReason =
  'its volumes are Docker volumes on this node, and Gasper does not move them: to move the app, back up its volumes, remove them from the app, and restore the data elsewhere';
