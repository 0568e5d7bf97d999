/**
 * Who may do what: roles, token scopes and ownership. Pure, so the rules are tested with tables
 * (test/core/access.unit.test.ts); the API's middleware only applies them.
 */
export const roles = ['admin', 'member'] as const;
export type Role = (typeof roles)[number];

/** What a token may do: `read` (GET), `deploy` (anything that changes a resource), `admin` (users, queues). */
export const scopes = ['read', 'deploy', 'admin'] as const;
export type Scope = (typeof scopes)[number];

/** The authenticated caller of a request. */
export interface Principal {
  user: string;
  role: Role;
  /** The scopes of the token used; an admin scope counts only for an admin user. */
  scopes: readonly Scope[];
  /** The token's id; undefined for the bootstrap admin token. */
  tokenId?: string;
}

/** The user the bootstrap admin token (GASPER_ADMIN_TOKEN) acts as. */
export const bootstrapAdmin: Principal = Object.freeze({
  user: 'admin',
  role: 'admin',
  scopes: Object.freeze([...scopes]),
});

/** Reads need `read`; every other method changes something and needs `deploy`. */
export function scopeForMethod(method: string): Scope {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'read' : 'deploy';
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  if (scope === 'admin' && principal.role !== 'admin') return false;
  // A broader scope includes the narrower ones: admin ⊃ deploy ⊃ read.
  const rank = (s: Scope) => scopes.indexOf(s);
  return principal.scopes.some((held) => rank(held) >= rank(scope) && (held !== 'admin' || principal.role === 'admin'));
}

/** Members see their own resources only; an admin sees all. Others' resources answer 404, not 403. */
export function canSee(principal: Principal, owner: string | undefined): boolean {
  return principal.role === 'admin' || (owner !== undefined && owner === principal.user);
}

/** Scopes a user of `role` may put on a token. */
export function grantableScopes(role: Role): readonly Scope[] {
  return role === 'admin' ? scopes : scopes.filter((s) => s !== 'admin');
}

/** Per-user limits an admin may set; unset means unlimited. */
export interface Quotas {
  maxApps?: number;
  maxDatabases?: number;
  /** CPUs, summed over the user's instances. */
  maxCpu?: number;
  /** Megabytes, summed over the user's instances. */
  maxMemoryMb?: number;
}

/** Why creating one more resource would break a quota, or undefined when it fits. */
export function quotaProblem(
  quotas: Quotas,
  usage: { apps: number; databases: number },
  adding: 'app' | 'database',
): string | undefined {
  if (adding === 'app' && quotas.maxApps !== undefined && usage.apps >= quotas.maxApps) {
    return `quota reached: at most ${quotas.maxApps} app(s)`;
  }
  if (adding === 'database' && quotas.maxDatabases !== undefined && usage.databases >= quotas.maxDatabases) {
    return `quota reached: at most ${quotas.maxDatabases} database(s)`;
  }
  return undefined;
}

/** CPUs and memory an owner's instances ask for, summed (instances × per-instance limits). */
export interface Demand {
  cpu: number;
  memoryMb: number;
}

/** Why `adding` on top of `current` would break the CPU or memory quota, or undefined. */
export function demandProblem(quotas: Quotas, current: Demand, adding: Demand): string | undefined {
  const cpu = current.cpu + adding.cpu;
  const memoryMb = current.memoryMb + adding.memoryMb;
  if (quotas.maxCpu !== undefined && cpu > quotas.maxCpu + 1e-9) {
    return `quota reached: at most ${quotas.maxCpu} CPU over all instances (${current.cpu} in use, ${adding.cpu} asked)`;
  }
  if (quotas.maxMemoryMb !== undefined && memoryMb > quotas.maxMemoryMb) {
    return `quota reached: at most ${quotas.maxMemoryMb} MiB over all instances (${current.memoryMb} in use, ${adding.memoryMb} asked)`;
  }
  return undefined;
}
