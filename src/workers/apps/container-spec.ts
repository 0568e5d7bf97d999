import crypto from 'node:crypto';
import type { ContainerCreateOptions } from 'dockerode';
import { appUser } from '../../core/app-user.ts';
import { scopeLabels } from '../../core/installation.ts';
import { containerLabels } from '../../core/naming.ts';
import { dockerLimits, type ResolvedResources } from '../../core/resources.ts';
import type { VolumeMount } from '../../core/app-volumes.ts';

/** Where the extra CA bundle appears inside build and app containers. */
export const containerCaPath = '/etc/gasper/extra-ca.crt';
/** Where the release's launch directory (see launcher.ts) appears in app containers. */
export const containerLaunchDir = '/etc/gasper/launch';

export interface ContainerSpecInput {
  name: string;
  image: string;
  app: string;
  release: string;
  /** The installation (core/installation.ts) and node whose container this is: its labels. */
  installation: string;
  node: string;
  /**
   * `app`: an instance (port published for `web`); `build`: sleeps, build commands are exec'd;
   * `run`: a one-off command (one-off.ts), which is an app container without a port: same image,
   * env, mounts, limits and hardening.
   */
  role: 'app' | 'build' | 'run';
  /**
   * App containers: the process type (core/formation.ts), in the `io.gasper.process` label.
   * Default `web`, the only type with a published port; the others get none (their env still has PORT).
   */
  process?: string;
  releaseDir: string;
  /** Shell command: the container's main process (app), or none (build: sleeps, commands are exec'd). */
  command?: string;
  port: number;
  env: Record<string, string>;
  /** Address host ports are published on (the node's address). */
  publishAddress: string;
  extraCaCerts?: string;
  /** App containers: the release's launch directory (see launcher.ts), mounted read-only. */
  launchDir?: string;
  /** CPU and memory limits (swap disabled): the app's, or the build's own (GASPER_BUILD_*); unset: none. */
  resources?: ResolvedResources;
  /** Default 1024. */
  pidsLimit?: number;
  /**
   * App containers: the size of the tmpfs at /tmp, MiB (GASPER_TMP_MB), so scratch files cost
   * memory the app is limited in rather than the node's disk; unset: none. Builds keep /tmp on
   * their writable layer, which the disk watchdog measures: package caches live there (HOME=/tmp)
   * and would otherwise eat the build's memory.
   */
  tmpMb?: number;
  /** The app's own bridge network (docker/networks.ts); unset: Docker's default bridge, shared by every container. */
  network?: string;
  /**
   * App containers of an image built from the app's Dockerfile: the image's own CMD/ENTRYPOINT
   * (unless `command` is given), working directory and user, and no release mounted at /app (it
   * would hide what the image put there). Limits and hardening are the same.
   */
  fromImage?: boolean;
  /**
   * App containers (instances and one-off runs): the app's persistent volumes (core/app-volumes.ts
   * `appVolumeMounts`), read-write at their paths. Builds never mount them: a build must not
   * depend on (or change) data that a rollback keeps.
   */
  volumes?: readonly VolumeMount[];
  /**
   * One-off containers of an interactive session (ssh/run-session.ts): stdin kept open for the
   * client (closed after it detaches), a TTY when the client asked for one, and the session's
   * label (`io.gasper.session`).
   */
  interactive?: { tty: boolean; session: string };
  /**
   * Builds only: `host:container` binds of the app's build cache (go-cache.ts), read-write.
   * Instances and one-off runs never mount it: what a build cached is not the running app's.
   */
  buildCacheBinds?: readonly string[];
}

/** Env pointing every common TLS client at the extra CA bundle (node, OpenSSL, git, pip, requests). */
export function caEnv(path: string): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: path,
    SSL_CERT_FILE: path,
    GIT_SSL_CAINFO: path,
    PIP_CERT: path,
    REQUESTS_CA_BUNDLE: path,
  };
}

/**
 * The Docker create options for an app or build container. Pure: the same input gives the same
 * options, and their hash, kept as a label, tells a retry whether an existing container is the
 * one it would create (reuse) or a stale one (replace).
 */
export function containerSpec(input: ContainerSpecInput): ContainerCreateOptions {
  const env: Record<string, string> = {
    HOME: '/tmp',
    ...input.env,
    PORT: String(input.port),
    ...(input.extraCaCerts ? caEnv(containerCaPath) : {}),
  };
  const runsCommand = input.role !== 'build';
  const own = input.fromImage === true && runsCommand;
  const binds = own ? [] : [`${input.releaseDir}:/app`];
  if (input.extraCaCerts) binds.push(`${input.extraCaCerts}:${containerCaPath}:ro`);
  if (input.launchDir && input.role === 'app' && !own) binds.push(`${input.launchDir}:${containerLaunchDir}:ro`);
  if (input.role === 'build') binds.push(...(input.buildCacheBinds ?? []));
  const portKey = `${input.port}/tcp`;
  const processType = input.process ?? 'web';
  const published = input.role === 'app' && processType === 'web';
  const spec: ContainerCreateOptions = {
    name: input.name,
    Image: input.image,
    ...(own
      ? input.command
        ? // The image's ENTRYPOINT is replaced: `ENTRYPOINT ["node"]` with a run command would run `node sh -c …`.
          { Entrypoint: ['sh', '-c'], Cmd: [input.command] }
        : {}
      : {
          Cmd: runsCommand ? ['sh', '-c', input.command ?? ''] : ['sleep', 'infinity'],
          WorkingDir: '/app',
          User: `${appUser.uid}:${appUser.gid}`,
        }),
    Env: Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
    Labels: {
      ...scopeLabels(input),
      [containerLabels.app]: input.app,
      [containerLabels.release]: input.release,
      [containerLabels.role]: input.role,
      ...(input.role === 'app' ? { [containerLabels.process]: processType } : {}),
      ...(input.interactive ? { [containerLabels.session]: input.interactive.session } : {}),
    },
    ...(input.interactive
      ? {
          Tty: input.interactive.tty,
          OpenStdin: true,
          StdinOnce: true,
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
        }
      : {}),
    ExposedPorts: published ? { [portKey]: {} } : undefined,
    HostConfig: {
      Binds: binds,
      ...(input.volumes?.length && input.role !== 'build'
        ? {
            Mounts: input.volumes.map((v) => ({
              Type: 'volume' as const,
              Source: v.source,
              Target: v.target,
              ReadOnly: false,
            })),
          }
        : {}),
      // exec: apps may run binaries they unpack into /tmp; Docker's default for a tmpfs is noexec.
      ...(input.tmpMb && runsCommand
        ? { Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${input.tmpMb}m,mode=1777` } }
        : {}),
      ...(input.network ? { NetworkMode: input.network } : {}),
      PortBindings: published ? { [portKey]: [{ HostIp: input.publishAddress, HostPort: '' }] } : undefined,
      // Docker never restarts containers itself: the worker's supervisor does, with backoff and
      // crash-loop detection (workers/apps/supervisor.ts), which Docker's policies cannot give up on.
      RestartPolicy: { Name: 'no' },
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      PidsLimit: input.pidsLimit ?? 1024,
      ...(input.resources ? dockerLimits(input.resources, input.pidsLimit ?? 1024) : {}),
      Init: false,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
  const hash = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  spec.Labels![containerLabels.specHash] = hash;
  return spec;
}
