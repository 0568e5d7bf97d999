import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import supertest from 'supertest';

/** One recorded example of a GitHub event from @octokit/webhooks-examples. */
interface EventExamples {
  name: string;
  examples: Record<string, unknown>[];
}
const examples: EventExamples[] = createRequire(import.meta.url)(
  '@octokit/webhooks-examples/api.github.com/index.json',
);

/** A deep copy of a real GitHub payload: the first example of `event` that `match` accepts. */
export function githubExample(event: string, match: (payload: any) => boolean = () => true): any {
  const found = examples.find((e) => e.name === event)?.examples.find(match);
  if (!found) throw new Error(`no @octokit/webhooks-examples payload for ${event}`);
  return structuredClone(found);
}

/**
 * GitHub's branch-push example, adjusted: the ref, the pushed commit, and the repository (every
 * URL field set to `repoUrl`, so a local fixture repository stands in for a GitHub one).
 */
export function pushPayload(options: {
  ref: string;
  after: string;
  repoUrl: string;
  deleted?: boolean;
  pushedAt?: number;
}): any {
  const payload = githubExample('push', (p) => p.ref.startsWith('refs/heads/') && !p.deleted);
  payload.ref = options.ref;
  payload.after = options.after;
  payload.deleted = options.deleted ?? false;
  payload.created = false;
  if (payload.head_commit) payload.head_commit.id = options.after;
  // When GitHub received the push (Unix seconds): it orders pushes.
  if (options.pushedAt !== undefined) payload.repository.pushed_at = options.pushedAt;
  for (const field of ['clone_url', 'ssh_url', 'git_url', 'html_url', 'svn_url'])
    payload.repository[field] = options.repoUrl;
  return payload;
}

/** `sha256=<hex>`: the HMAC-SHA256 of the raw body with the secret, as GitHub computes it. */
export function githubSignature(secret: string, body: string | Buffer): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface Delivery {
  event: string;
  payload: unknown;
  /** Signs with it; omit to send no signature. */
  secret?: string;
  /** Overrides the signature header. */
  signature?: string;
  delivery?: string;
  form?: boolean;
}

/** Sends a delivery the way GitHub does: exact body bytes, signature, event and delivery headers. */
export function deliver(target: Parameters<typeof supertest>[0], path: string, d: Delivery): supertest.Test {
  const json = JSON.stringify(d.payload);
  const body = d.form ? new URLSearchParams({ payload: json }).toString() : json;
  let req = supertest(target)
    .post(path)
    .set('content-type', d.form ? 'application/x-www-form-urlencoded' : 'application/json')
    .set('user-agent', 'GitHub-Hookshot/test')
    .set('x-github-event', d.event)
    .set('x-github-delivery', d.delivery ?? crypto.randomUUID())
    .set('x-github-hook-id', '109948940');
  const signature = d.signature ?? (d.secret ? githubSignature(d.secret, body) : undefined);
  if (signature) req = req.set('x-hub-signature-256', signature);
  return req.send(body);
}
