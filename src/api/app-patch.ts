import { desiredFormation, formationOrder } from '../core/formation.ts';
import { resolveResources, type ResourcePolicy } from '../core/resources.ts';
import { defaultTokenUser, sealCredentials } from '../core/repo-credentials.ts';
import { normalRepoPath } from '../core/repo-path.ts';
import { sameRepoOrigin } from '../core/repo-url.ts';
import type { AppDocument } from '../store/app-document.ts';
import type { PatchAppRequest } from './app-patch-request.ts';

export interface PatchPlan {
  /** The document with the change applied (unchanged fields kept). */
  next: AppDocument;
  /** Fields whose value actually changed. */
  changed: string[];
  /** Whether running the change needs new containers (a redeploy job). */
  redeploy: boolean;
}

/**
 * Fields whose change needs new containers (another repository, branch or folder: a new clone);
 * the others (the health check, a token the next clone uses) apply as they are saved, except a
 * token given to an app that never ran (planPatch).
 */
const needsContainers = new Set([
  'repo.url',
  'repo.branch',
  'repo.path',
  'env',
  'build',
  'run',
  'instances',
  'processes',
  'resources',
  'runtime',
  'builder',
  'dockerfile',
  'buildArgs',
  'volumes',
]);

/**
 * The document fields `planPatch` may change and a redeploy stores over the app as it is then
 * (routes/app-operations.ts). `https` and `hsts` are not among them: app-edge.ts stores and
 * announces them in one call.
 */
export const patchedFields = [
  'repo',
  'sealedEnv',
  'build',
  'run',
  'runtime',
  'builder',
  'dockerfile',
  'buildArgs',
  'volumes',
  'instanceCount',
  'processes',
  'formationSource',
  'resources',
  'healthCheck',
] as const satisfies readonly (keyof AppDocument)[];

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Applies a PATCH to an app document. Pure (sealing env values is passed in), unit-tested in
 * test/api/app-patch.unit.test.ts. Resources are compared as resolved, so asking for the
 * default explicitly changes nothing.
 */
export function planPatch(
  doc: AppDocument,
  patch: PatchAppRequest,
  seal: (value: string) => string,
  policy: ResourcePolicy,
): PatchPlan {
  const next = structuredClone(doc);
  const changed: string[] = [];
  if (patch.env) {
    const env = { ...next.sealedEnv };
    let envChanged = false;
    for (const [name, value] of Object.entries(patch.env)) {
      if (value === null) {
        if (name in env) {
          delete env[name];
          envChanged = true;
        }
      } else {
        // Sealed values are randomised: a value given again counts as a change (it cannot be compared).
        env[name] = seal(value);
        envChanged = true;
      }
    }
    if (envChanged) {
      next.sealedEnv = env;
      changed.push('env');
    }
  }
  // `[]` (no build at all) differs from `null`/absent (the runtime's default build, decided from the clone).
  if (patch.build !== undefined && !same(patch.build, doc.build)) {
    next.build = patch.build ?? undefined;
    changed.push('build');
  }
  if (patch.run !== undefined && !same(patch.run, doc.run)) {
    next.run = patch.run ?? undefined;
    changed.push('run');
  }
  if (patch.runtime !== undefined && patch.runtime !== doc.runtime) {
    next.runtime = patch.runtime;
    changed.push('runtime');
  }
  if (patch.builder !== undefined && patch.builder !== (doc.builder ?? 'auto')) {
    next.builder = patch.builder;
    changed.push('builder');
  }
  if (patch.dockerfile !== undefined && !same(patch.dockerfile, doc.dockerfile)) {
    next.dockerfile = patch.dockerfile ?? undefined;
    changed.push('dockerfile');
  }
  if (patch.buildArgs !== undefined && !same(patch.buildArgs, doc.buildArgs)) {
    next.buildArgs = patch.buildArgs ?? undefined;
    changed.push('buildArgs');
  }
  if (patch.volumes !== undefined && !same(patch.volumes, doc.volumes ?? [])) {
    next.volumes = patch.volumes.length ? patch.volumes : undefined;
    changed.push('volumes');
  }
  if (patch.instances !== undefined && patch.instances !== (doc.instanceCount ?? 1)) {
    next.instanceCount = patch.instances;
    // `instances` is the web count: a `processes.web` set before follows it.
    if (next.processes?.web !== undefined) next.processes = { ...next.processes, web: patch.instances };
    changed.push('instances');
    // The user's formation now: no longer app.json's (api/app-json-formation.ts).
    next.formationSource = undefined;
  }
  // Merged: types not named keep their count. Compared as resolved, so naming a default changes nothing.
  if (patch.processes !== undefined) {
    const merged = { ...next.processes, ...patch.processes };
    if (
      !same(formationOrder(desiredFormation({ ...next, processes: merged })), formationOrder(desiredFormation(next)))
    ) {
      changed.push('processes');
      next.formationSource = undefined;
    }
    next.processes = merged;
    // A web count of 1 or more is `instances` too (the field older clients read).
    if (patch.processes.web !== undefined && patch.processes.web >= 1) next.instanceCount = patch.processes.web;
  }
  if (patch.resources !== undefined) {
    const merged = { ...doc.resources, ...patch.resources };
    if (!same(resolveResources(merged, policy), resolveResources(doc.resources, policy))) changed.push('resources');
    next.resources = merged;
  }
  if (patch.repo) {
    const { repo, changed: repoChanged } = planRepo(doc.repo, patch.repo, seal);
    next.repo = repo;
    changed.push(...repoChanged);
  }
  if (patch.healthCheck !== undefined && !same(patch.healthCheck.path, doc.healthCheck?.path)) {
    next.healthCheck = patch.healthCheck.path === undefined ? undefined : { path: patch.healthCheck.path };
    changed.push('healthCheck');
  }
  for (const field of ['https', 'hsts'] as const) {
    if (patch[field] !== undefined && !same(patch[field], doc[field])) {
      (next as Record<typeof field, unknown>)[field] = patch[field];
      changed.push(field);
    }
  }
  // An app that never ran (`failed`: its first deploy failed, most often on a clone that a token,
  // or the removal of a wrong one, fixes) has nothing to keep serving: the change deploys it. A
  // running app's token is for its next clone.
  const retriesFirstDeploy = doc.status === 'failed' && changed.includes('repo.token');
  return { next, changed, redeploy: retriesFirstDeploy || changed.some((f) => needsContainers.has(f)) };
}

/**
 * A change of the repository. A token is secret and sealed anew each time: given, it counts as a
 * change. One kept goes only to the server it was given for: a URL on another server drops it
 * (`repo.token` changed), unless the PATCH gives a new one.
 */
function planRepo(
  before: AppDocument['repo'],
  patch: NonNullable<PatchAppRequest['repo']>,
  seal: (value: string) => string,
): { repo: AppDocument['repo']; changed: string[] } {
  const { sealedCredentials, ...repo }: AppDocument['repo'] = { ...before };
  const changed: string[] = [];
  if (patch.url !== undefined && patch.url !== before.url) {
    repo.url = patch.url;
    changed.push('repo.url');
  }
  if (patch.branch !== undefined && (patch.branch ?? undefined) !== before.branch) {
    if (patch.branch === null) delete repo.branch;
    else repo.branch = patch.branch;
    changed.push('repo.branch');
  }
  const path = patch.path === null ? undefined : normalRepoPath(patch.path);
  if (patch.path !== undefined && path !== before.path) {
    if (path === undefined) delete repo.path;
    else repo.path = path;
    changed.push('repo.path');
  }
  // A string, even empty: a URL's `https://<token>@host` gives its token as the user name.
  if (typeof patch.token === 'string') {
    const credentials = { username: patch.username ?? defaultTokenUser, token: patch.token };
    return {
      repo: { ...repo, sealedCredentials: sealCredentials({ seal }, credentials) },
      changed: [...changed, 'repo.token'],
    };
  }
  if (!sealedCredentials) return { repo, changed };
  if (patch.token === null || !sameRepoOrigin(before.url, repo.url))
    return { repo, changed: [...changed, 'repo.token'] };
  return { repo: { ...repo, sealedCredentials }, changed };
}
