import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';

/** Who asked for a release, or for a rollback to it, and why: the app's audit trail. */
export const releaseCauseSchema = z.object({
  release: z.string(),
  /** A user's name; `github` for a push webhook; `gasper` for the platform's own (apps moved off a lost node). */
  by: z.string(),
  /** In words: `first deploy`, `set GREETING`, `push of 3f9c1a2b7e10 to main`, `rollback from r000003`. */
  reason: z.string(),
  at: z.string(),
});
export type ReleaseCause = z.infer<typeof releaseCauseSchema>;

/** Entries kept per app: several per release (coalesced changes, rollbacks), for the 50 release records kept. */
const CAUSES_KEPT = 200;

/**
 * Release causes in one Redis list per app, newest first. An append is one atomic push, so two
 * changes coalesced into one pending release both stay recorded. Written by the API, which
 * knows who asked; the release records (the worker's) say what happened.
 */
export class ReleaseCauseStore {
  constructor(private readonly redis: Redis) {}

  async add(app: string, cause: Omit<ReleaseCause, 'at'>, at = new Date()): Promise<void> {
    const entry = JSON.stringify(releaseCauseSchema.parse({ ...cause, at: at.toISOString() }));
    await this.redis
      .multi()
      .lpush(keys.appReleaseCauses(app), entry)
      .ltrim(keys.appReleaseCauses(app), 0, CAUSES_KEPT - 1)
      .exec();
  }

  /** Each release's causes, oldest first. */
  async byRelease(app: string): Promise<Map<string, ReleaseCause[]>> {
    const entries = await this.redis.lrange(keys.appReleaseCauses(app), 0, -1);
    const causes = new Map<string, ReleaseCause[]>();
    for (const raw of entries.reverse()) {
      // An entry that is not one (written by hand, or by a later version) is left out, not a 500.
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        continue;
      }
      const cause = releaseCauseSchema.safeParse(json);
      if (!cause.success) continue;
      const list = causes.get(cause.data.release) ?? [];
      list.push(cause.data);
      causes.set(cause.data.release, list);
    }
    return causes;
  }
}
