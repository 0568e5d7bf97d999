import { z } from 'zod';
import { splitRepoCredentials } from '../../core/repo-url.ts';

/**
 * What Gasper reads of a GitHub `push` payload (https://docs.github.com/webhooks/webhook-events-and-payloads#push).
 * Everything else in the payload is ignored, so new fields GitHub adds never break a delivery.
 */
export const pushPayloadSchema = z.object({
  ref: z.string(),
  after: z.string(),
  deleted: z.boolean().optional(),
  repository: z.object({
    full_name: z.string().optional(),
    default_branch: z.string().optional(),
    clone_url: z.string().optional(),
    ssh_url: z.string().optional(),
    git_url: z.string().optional(),
    html_url: z.string().optional(),
    url: z.string().optional(),
    /**
     * When GitHub received the push: Unix seconds in push payloads (an ISO time in other
     * events). Signed like the rest, and new for every push (a force push back to an old commit
     * too), so it orders pushes: a replayed old delivery is older than the last one deployed.
     */
    pushed_at: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]),
  }),
});
export type PushPayload = z.infer<typeof pushPayloadSchema>;

export type PushDecision = { deploy: true; branch: string; commit: string } | { deploy: false; reason: string };

const zeroSha = /^0{40}$/;
const sha = /^[0-9a-f]{40}$/;

/**
 * A repository URL reduced to `host/path` (lowercase host, no scheme, user, `.git` or trailing
 * slash), so `https://github.com/o/r.git`, `git@github.com:o/r` and `ssh://git@github.com/o/r`
 * compare equal. `file://` URLs keep their path.
 */
export function normalizeRepoUrl(url: string): string {
  const trimmed = url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(trimmed);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return `${scp[1]!.toLowerCase()}/${scp[2]}`;
  try {
    const parsed = new URL(trimmed);
    if (parsed.protocol === 'file:') return `file:${decodeURIComponent(parsed.pathname)}`;
    return `${parsed.hostname.toLowerCase()}${parsed.port ? `:${parsed.port}` : ''}${decodeURIComponent(parsed.pathname)}`;
  } catch {
    return trimmed;
  }
}

/**
 * Whether a push deploys the app: only a new commit on the app's branch (its configured one,
 * else the repository's default branch) of the app's repository. Tags, other branches and
 * deletions are answered as ignored, with the reason.
 */
export function decidePush(app: { repo: { url: string; branch?: string } }, push: PushPayload): PushDecision {
  if (push.deleted || zeroSha.test(push.after)) return { deploy: false, reason: `${push.ref} was deleted` };
  if (push.ref.startsWith('refs/tags/'))
    return { deploy: false, reason: `tag push (${push.ref.slice('refs/tags/'.length)}); only branch pushes deploy` };
  if (!push.ref.startsWith('refs/heads/')) return { deploy: false, reason: `${push.ref} is not a branch` };
  const branch = push.ref.slice('refs/heads/'.length);
  const wanted = app.repo.branch ?? push.repository.default_branch;
  if (!wanted) return { deploy: false, reason: 'the app has no branch and the payload names no default branch' };
  if (branch !== wanted) return { deploy: false, reason: `push to branch ${branch}; the app deploys ${wanted}` };
  const target = normalizeRepoUrl(app.repo.url);
  const r = push.repository;
  const candidates = [r.clone_url, r.ssh_url, r.git_url, r.html_url].filter((u): u is string => Boolean(u));
  if (!candidates.some((u) => normalizeRepoUrl(u) === target)) {
    return {
      deploy: false,
      reason: `push to repository ${r.full_name ?? candidates[0] ?? '(unnamed)'}; the app deploys ${splitRepoCredentials(app.repo.url).url}`,
    };
  }
  if (!sha.test(push.after)) return { deploy: false, reason: `"after" is not a commit id: ${push.after.slice(0, 64)}` };
  return { deploy: true, branch, commit: push.after };
}

/** The pushes an app last deployed: their time, and the commits pushed at that very second. */
export interface LastPush {
  /** `repository.pushed_at`, Unix seconds. */
  pushedAt: number;
  commits: string[];
}

/** `repository.pushed_at` as Unix seconds. */
export function pushedAtSeconds(push: PushPayload): number {
  const at = push.repository.pushed_at;
  return typeof at === 'number' ? at : Math.floor(Date.parse(at) / 1000);
}

export type PushOrder = { deploy: true; lastPush: LastPush } | { deploy: false; reason: string };

/**
 * Whether a signed push is newer than the last one the app deployed from a push, so a captured
 * delivery replayed later (with any delivery id) cannot roll the app back. `pushed_at` has
 * one-second precision: two pushes in the same second both deploy, the same commit at the same
 * second only once. Answers the record to keep when it deploys.
 */
export function orderPush(last: LastPush | undefined, push: PushPayload, commit: string): PushOrder {
  const pushedAt = pushedAtSeconds(push);
  const when = (seconds: number) => new Date(seconds * 1000).toISOString();
  if (!last || pushedAt > last.pushedAt) return { deploy: true, lastPush: { pushedAt, commits: [commit] } };
  if (pushedAt < last.pushedAt) {
    return {
      deploy: false,
      reason: `push of ${when(pushedAt)} is older than the last deployed push (${when(last.pushedAt)}); not deployed again`,
    };
  }
  if (last.commits.includes(commit))
    return { deploy: false, reason: `push of ${commit} at ${when(pushedAt)} was already deployed` };
  // Bounded: a replay could otherwise grow the record (each entry is still a signed push).
  return { deploy: true, lastPush: { pushedAt, commits: [...last.commits, commit].slice(-20) } };
}
