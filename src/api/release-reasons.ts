import type { PatchAppRequest } from './app-patch-request.ts';

/**
 * Why a PATCH made a release, in words for the release list (store/release-causes.ts): the
 * variables set and unset by name (never their values), as the request named them (an unset of
 * a name the app did not have is still what was asked), the new counts, then the other fields
 * changed. Pure: test/api/release-reasons.unit.test.ts.
 */
export function patchReason(patch: PatchAppRequest, changed: readonly string[]): string {
  const parts: string[] = [];
  const others: string[] = [];
  for (const field of changed) {
    if (field === 'env' && patch.env) {
      const names = (unset: boolean) =>
        Object.entries(patch.env ?? {})
          .filter(([, value]) => (value === null) === unset)
          .map(([name]) => name);
      if (names(false).length) parts.push(`set ${names(false).join(', ')}`);
      if (names(true).length) parts.push(`unset ${names(true).join(', ')}`);
    } else if (field === 'processes' && patch.processes)
      parts.push(
        `scaled ${Object.entries(patch.processes)
          .map(([type, count]) => `${type}=${count}`)
          .join(' ')}`,
      );
    else if (field === 'instances' && patch.instances !== undefined) parts.push(`scaled web=${patch.instances}`);
    else others.push(field);
  }
  if (others.length) parts.push(`changed ${others.join(', ')}`);
  return parts.join('; ') || 'redeploy';
}

/** A push webhook's release: the commit and branch, as GitHub named them. */
export function pushReason(commit: string, branch: string): string {
  return `push of ${commit.slice(0, 12)} to ${branch}`;
}

/** The platform's own user in the release list: apps moved off a lost node, app.json applied. */
export const platformActor = 'gasper';
/** A push webhook's user in the release list. */
export const webhookActor = 'github';
/** Names no user may take: a release they asked for would read as the platform's or a push's. */
export const actorNames: ReadonlySet<string> = new Set([platformActor, webhookActor]);
