import { demandProblem, quotaProblem, type Demand } from '../core/access.ts';
import { formationTotal } from '../core/formation.ts';
import { defaultResourcePolicy, resolveResources } from '../core/resources.ts';
import type { AppDocument } from '../store/app-document.ts';
import type { DatabaseStore } from '../store/databases.ts';
import { DomainStore } from '../store/domains.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError } from './errors.ts';

type Scale = Pick<AppDocument, 'instanceCount' | 'processes' | 'resources'>;

/**
 * Checks an app's owner's quotas before the app is created (`creating`) or rescaled: the number
 * of apps, and the CPUs and memory of all the owner's instances with this app at `scale`.
 * Throws QUOTA_EXCEEDED; a quota left unset is no limit.
 */
export async function enforceAppQuotas(
  deps: Pick<ApiDeps, 'users' | 'apps' | 'options'>,
  owner: string,
  app: string,
  scale: Scale,
  creating: boolean,
): Promise<void> {
  const quotas = (await deps.users.get(owner))?.quotas ?? {};
  if (Object.keys(quotas).length === 0) return;
  const policy = deps.options.resources ?? defaultResourcePolicy;
  const demand = (s: Scale): Demand => {
    const r = resolveResources(s.resources, policy);
    // Every process type's containers count, each with the app's limits.
    const n = formationTotal(s);
    return { cpu: r.cpu * n, memoryMb: r.memoryMb * n };
  };
  const others = (await deps.apps.list()).filter((a) => a.owner === owner && a.name !== app);
  const problem =
    (creating ? quotaProblem(quotas, { apps: others.length, databases: 0 }, 'app') : undefined) ??
    demandProblem(
      quotas,
      others
        .map(demand)
        .reduce((a, b) => ({ cpu: a.cpu + b.cpu, memoryMb: a.memoryMb + b.memoryMb }), { cpu: 0, memoryMb: 0 }),
      demand(scale),
    );
  if (problem) throw new ApiError('QUOTA_EXCEEDED', problem);
}

/** Checks the owner's database count quota before a database is created. */
export async function enforceDatabaseQuota(deps: ApiDeps, databases: DatabaseStore, owner: string): Promise<void> {
  const quotas = (await deps.users.get(owner))?.quotas ?? {};
  const owned = (await databases.list()).filter((d) => d.owner === owner).length;
  const problem = quotaProblem(quotas, { apps: 0, databases: owned }, 'database');
  if (problem) throw new ApiError('QUOTA_EXCEEDED', problem);
}

/** Custom domains of all of the owner's apps (GASPER_DOMAINS_PER_OWNER); not atomic with an add: a bound. */
export async function ownedDomainCount(deps: ApiDeps, owner: string): Promise<number> {
  const apps = (await deps.apps.list()).filter((a) => a.owner === owner).map((a) => a.name);
  return new DomainStore(deps.redis).countOfApps(apps);
}
