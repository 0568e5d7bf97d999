/** Names Gasper gives and accepts. Pure: unit-tested in test/core/naming.unit.test.ts. */
import crypto from 'node:crypto';

/** Names that would collide with Gasper's own hosts or confuse users. */
export const reservedAppNames = new Set([
  'api',
  'admin',
  'www',
  'gasper',
  'proxy',
  'dns',
  'ssh',
  'db',
  'ns',
  'ns1',
  'ns2',
  'mail',
  'localhost',
  'status',
]);

const dnsLabel = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Why `name` cannot be an app name, or undefined when it can. */
export function appNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 40) return 'must be 1 to 40 characters';
  if (!dnsLabel.test(name)) return 'must be lowercase letters, digits and inner dashes (a DNS label)';
  if (name.includes('--')) return 'must not contain "--"';
  if (reservedAppNames.has(name)) return `"${name}" is reserved`;
  return undefined;
}

export const containerLabels = {
  managed: 'io.gasper.managed',
  /** The installation (core/installation.ts) whose worker created the object. */
  installation: 'io.gasper.installation',
  app: 'io.gasper.app',
  release: 'io.gasper.release',
  node: 'io.gasper.node',
  role: 'io.gasper.role',
  /** An app container's process type (core/formation.ts); absent on containers from before process types: web. */
  process: 'io.gasper.process',
  specHash: 'io.gasper.spec-hash',
  /**
   * A one-off container of an interactive session (ssh/run-session.ts), not of a job: `ssh`. It
   * lives as long as its lease in Redis (store/run-sessions.ts), which the reconciliation reads.
   */
  session: 'io.gasper.session',
} as const;

/**
 * Container names carry the installation id: Docker names are unique per daemon, and two
 * installations on one daemon may both have an app called `blog`.
 */
export function appContainerName(
  installation: string,
  app: string,
  release: string,
  instance: number,
  /** A process type other than `web` is in the name (`…-r000003-worker-2`); web keeps the name it always had. */
  process?: string,
): string {
  return `gasper-${installation}-${app}-${release}-${process && process !== 'web' ? `${process}-` : ''}${instance}`;
}

/**
 * The process type of an app container, from its name and release (`appContainerName`'s
 * inverse): `web` for `…-r000003-2`, `worker` for `…-r000003-worker-2`. Logs and metrics are
 * tagged with it without storing it apart.
 */
export function processOfContainer(name: string, release: string): string {
  const at = release ? name.lastIndexOf(`-${release}-`) : -1;
  if (at < 0) return 'web';
  const match = /^(.+)-\d+$/.exec(name.slice(at + release.length + 2));
  return match ? match[1]! : 'web';
}

export function buildContainerName(installation: string, app: string, release: string): string {
  return `gasper-${installation}-${app}-${release}-build`;
}

/**
 * A one-off container (workers/apps/one-off.ts), named by the job that runs it (`key`), so a
 * retried job finds its predecessor's container. A job id may hold characters a container name
 * cannot, and any length: it is hashed.
 */
export function runContainerName(installation: string, app: string, key: string): string {
  return `gasper-${installation}-${app}-run-${crypto.createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** Release ids sort by age: `r<seq>` with the sequence zero-padded. */
export function releaseId(seq: number): string {
  return `r${String(seq).padStart(6, '0')}`;
}

export function queueName(nodeId: string): string {
  return `node-${nodeId}`;
}

/**
 * `<app>.<domain>` for the proxy's public port (no port when it is the scheme's default): over
 * HTTPS on `httpsPort` when given (the platform certificate covers `*.<domain>`), else plain HTTP.
 */
export function appUrl(app: string, domain: string, proxyPort: number, httpsPort?: number): string {
  if (httpsPort !== undefined) return `https://${app}.${domain}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
  return `http://${app}.${domain}${proxyPort === 80 ? '' : `:${proxyPort}`}`;
}
