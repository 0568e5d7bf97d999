import crypto from 'node:crypto';
import type { ContainerCreateOptions } from 'dockerode';
import { databaseLabel, databaseUidLabel } from '../../core/database-naming.ts';
import type { DatabaseCredentials, Engine } from '../../core/engines.ts';
import { scopeLabels } from '../../core/installation.ts';
import { containerLabels } from '../../core/naming.ts';
import type { DatabaseResources } from '../../store/database-document.ts';

export interface DatabaseSpecInput {
  name: string;
  uid: string;
  installation: string;
  node: string;
  engine: Engine;
  image: string;
  credentials: DatabaseCredentials;
  container: string;
  /** The host name linked apps use: the container's alias on its network. */
  host: string;
  volume: string;
  network: string;
  /** Address the engine's port is published on (the node's address). */
  publishAddress: string;
  /** Host port reserved for the database (stable across restarts and rotations). */
  hostPort: number;
  resources?: DatabaseResources;
}

/** Labels of everything a database owns (container, volume, network), to find and clean them up. */
export function databaseLabels(input: {
  name: string;
  uid: string;
  installation: string;
  node: string;
}): Record<string, string> {
  return {
    ...scopeLabels(input),
    [containerLabels.role]: 'database',
    [databaseLabel]: input.name,
    [databaseUidLabel]: input.uid,
  };
}

/**
 * The Docker create options of a database container. Pure; the hash of the options (a label) lets
 * a retry reuse the container and a rotation, which changes the env, replace it (the volume stays).
 * The container is on its own network only, with its port published on the node's address only.
 */
export function databaseContainerSpec(input: DatabaseSpecInput): ContainerCreateOptions {
  const portKey = `${input.engine.port}/tcp`;
  const spec: ContainerCreateOptions = {
    name: input.container,
    Image: input.image,
    Hostname: input.host,
    Cmd: input.engine.command,
    Env: Object.entries(input.engine.env(input.credentials))
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
    Labels: databaseLabels(input),
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      Mounts: [{ Type: 'volume', Source: input.volume, Target: input.engine.dataPath }],
      NetworkMode: input.network,
      PortBindings: { [portKey]: [{ HostIp: input.publishAddress, HostPort: String(input.hostPort) }] },
      RestartPolicy: { Name: 'unless-stopped' },
      SecurityOpt: ['no-new-privileges'],
      // What official images' entrypoints need to hand the data directory to the server's user.
      CapDrop: ['ALL'],
      CapAdd: ['CHOWN', 'SETUID', 'SETGID', 'DAC_OVERRIDE', 'FOWNER'],
      PidsLimit: 512,
      Memory: input.resources?.memoryMb ? input.resources.memoryMb * 1024 * 1024 : undefined,
      NanoCpus: input.resources?.cpus ? Math.round(input.resources.cpus * 1e9) : undefined,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
    NetworkingConfig: { EndpointsConfig: { [input.network]: { Aliases: [input.host] } } },
  };
  const hash = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  spec.Labels![containerLabels.specHash] = hash;
  return spec;
}
