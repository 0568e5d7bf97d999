import { isDeepStrictEqual } from 'node:util';
import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import { eventRecord, STREAM_MAXLEN } from '../events/stream.ts';
import { type DomainDocument, domainDocumentSchema, domainStateOf, isVerified } from './domain-document.ts';
import { createDomain, removeDomain, updateDomain } from './lua.ts';

export type CreateDomainResult = 'created' | 'taken' | 'limit' | 'no-app';

function eventArgs(event: Parameters<typeof eventRecord>[0]): string[] {
  const { entity, payload, tombstone } = eventRecord(event);
  return [entity, payload, tombstone ? '1' : '0', String(STREAM_MAXLEN)];
}

/**
 * Custom domains in Redis: one JSON document per domain, the set of all and a set per app. Every
 * write also publishes the domain's event (`domain.state`, or `domain.removed`) in the same
 * script, so the proxy's view follows the documents exactly. The only write path: the API's
 * domain routes and the certificates service both go through it.
 */
export class DomainStore {
  constructor(private readonly redis: Redis) {}

  /**
   * Stores a new domain and announces it when it needs no ownership proof (the proxy routes it at
   * once); one awaiting its proof is announced by the update that records it. `taken` when any app holds
   * the domain already; `limit` when the app has `limit` domains (0: no limit); `no-app` when the
   * app is gone, being deleted, or another incarnation (`appUid`). Atomic: two requests for one
   * domain, or for the last free slot of an app, cannot both win, and a deletion of the app
   * cannot leave a domain behind.
   */
  async create(doc: DomainDocument, limit: number): Promise<CreateDomainResult> {
    const parsed = domainDocumentSchema.parse(doc);
    const result = await this.redis.eval(
      createDomain,
      6,
      keys.eventsLatest,
      keys.events,
      keys.domain(parsed.domain),
      keys.domains,
      keys.appDomains(parsed.app),
      keys.app(parsed.app),
      ...eventArgs(domainStateOf(parsed)),
      JSON.stringify(parsed),
      parsed.domain,
      limit,
      parsed.appUid,
      isVerified(parsed) ? '1' : '0',
    );
    return result as CreateDomainResult;
  }

  async get(domain: string): Promise<DomainDocument | undefined> {
    const raw = await this.redis.get(keys.domain(domain));
    return raw ? domainDocumentSchema.parse(JSON.parse(raw)) : undefined;
  }

  /** The app's domains, by name. */
  async listByApp(app: string): Promise<DomainDocument[]> {
    return this.read(await this.redis.smembers(keys.appDomains(app)));
  }

  /** How many domains these apps have in all (an owner's count against GASPER_DOMAINS_PER_OWNER). */
  async countOfApps(apps: readonly string[]): Promise<number> {
    if (apps.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const app of apps) pipeline.scard(keys.appDomains(app));
    const counts = (await pipeline.exec()) ?? [];
    return counts.reduce((sum, [, count]) => sum + (typeof count === 'number' ? count : 0), 0);
  }

  /** Every domain of the installation (renewals, the proxy's start), by name. */
  async list(): Promise<DomainDocument[]> {
    return this.read(await this.redis.smembers(keys.domains));
  }

  private async read(domains: string[]): Promise<DomainDocument[]> {
    if (domains.length === 0) return [];
    const raws = await this.redis.mget(domains.sort().map(keys.domain));
    return raws.flatMap((raw) => (raw ? [domainDocumentSchema.parse(JSON.parse(raw))] : []));
  }

  /**
   * Read-modify-write as a compare-and-set, retried on conflict (as AppStore.update). `mutate`
   * returns undefined to leave the document unchanged; it may not move the domain to another app.
   * Publishes `domain.state` in the same call when what the proxy sees (app, certificate version)
   * changes, or when the domain has just been verified; never while it awaits its ownership proof.
   * `also` is one more key written in the same call, only if the document is (the certificate of
   * this very document). Resolves to the stored document, or undefined when the domain does not exist.
   */
  async update(
    domain: string,
    mutate: (doc: DomainDocument) => DomainDocument | undefined,
    also?: () => { key: string; value: string },
  ): Promise<DomainDocument | undefined> {
    const key = keys.domain(domain);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const current = domainDocumentSchema.parse(JSON.parse(raw));
      const next = mutate(structuredClone(current));
      if (!next) return current;
      if (next.domain !== current.domain || next.app !== current.app || next.appUid !== current.appUid) {
        throw new Error(`domain ${domain}: an update cannot change its name or app`);
      }
      next.updatedAt = new Date().toISOString();
      const parsed = domainDocumentSchema.parse(next);
      const event = domainStateOf(parsed);
      const announce =
        isVerified(parsed) && (!isVerified(current) || !isDeepStrictEqual(event, domainStateOf(current)));
      const extra = also?.();
      const swapped = await this.redis.eval(
        updateDomain,
        extra ? 4 : 3,
        keys.eventsLatest,
        keys.events,
        key,
        ...(extra ? [extra.key] : []),
        ...eventArgs(event),
        raw,
        JSON.stringify(parsed),
        announce ? '1' : '0',
        ...(extra ? [extra.value] : []),
      );
      if (swapped === 1) return parsed;
    }
    throw new Error(`domain ${domain}: too many concurrent updates`);
  }

  /**
   * Removes the domain, its stored certificate, and announces `domain.removed`, in one call; only
   * while it belongs to `app` (and to that incarnation when `appUid` is given). False when it did not.
   */
  async remove(domain: string, app: string, appUid?: string): Promise<boolean> {
    const removed = await this.redis.eval(
      removeDomain,
      6,
      keys.eventsLatest,
      keys.events,
      keys.domain(domain),
      keys.domains,
      keys.appDomains(app),
      keys.certificate(domain),
      ...eventArgs({ type: 'domain.removed', domain }),
      domain,
      app,
      appUid ?? '',
    );
    return removed === 1;
  }

  /** Removes every domain of an app (its deletion); safe to repeat. Resolves to the domains removed. */
  async removeApp(app: string): Promise<string[]> {
    const removed: string[] = [];
    for (const domain of (await this.redis.smembers(keys.appDomains(app))).sort()) {
      if (await this.remove(domain, app)) removed.push(domain);
      // A member whose document went (or moved) is stale: drop it so the set empties.
      else await this.redis.srem(keys.appDomains(app), domain);
    }
    return removed;
  }
}
