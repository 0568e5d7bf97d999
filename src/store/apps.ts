import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import { appDocumentSchema, type AppDocument } from './app-document.ts';
import { DocumentStore, type UpdateOptions } from './document-store.ts';

/** App documents in Redis: one JSON value per app, plus the set of names. */
export class AppStore {
  private readonly docs: DocumentStore<AppDocument>;

  constructor(private readonly redis: Redis) {
    this.docs = new DocumentStore(redis, {
      kind: 'app',
      schema: appDocumentSchema,
      key: keys.app,
      index: keys.apps,
      nameOf: (doc) => doc.name,
      stampUpdatedAt: true,
    });
  }

  /**
   * Stores a new app whose first release is `releaseSeq`; false when the name is taken. One
   * script, so two requests for one name cannot both win and a loser leaves nothing behind.
   */
  async create(doc: AppDocument, releaseSeq: number): Promise<boolean> {
    return this.docs.create(doc, { [keys.appReleaseSeq(doc.name)]: releaseSeq });
  }

  async get(name: string): Promise<AppDocument | undefined> {
    return this.docs.get(name);
  }

  async list(): Promise<AppDocument[]> {
    return this.docs.list();
  }

  /**
   * Read-modify-write as a compare-and-set, retried on conflict, so the API and a worker
   * updating the same app never lose each other's fields (document-store.ts). `mutate` returns
   * undefined to leave the app unchanged; `options.announce` stores an event with it, in the
   * same Redis call. Resolves to the stored document, or undefined when the app does not exist.
   */
  async update(
    name: string,
    mutate: (doc: AppDocument) => AppDocument | undefined,
    options?: UpdateOptions<AppDocument>,
  ): Promise<AppDocument | undefined> {
    return this.docs.update(name, mutate, options);
  }

  /** Removes every key of the app. */
  async remove(name: string): Promise<void> {
    // Rollouts have one key each (they expire anyway); an app name is a glob without wildcards.
    const rollouts: string[] = [];
    for await (const batch of this.redis.scanStream({ match: keys.appRollout(name, '*'), count: 500 }))
      rollouts.push(...(batch as string[]));
    // Its volumes' backups (store/volume-backups.ts) go with it, as its volumes do.
    for await (const batch of this.redis.scanStream({ match: keys.appVolumeBackup(name, '*', '*'), count: 500 }))
      rollouts.push(...(batch as string[]));
    // Each schedule's run list (its job scheduler goes with the schedule: jobs/schedule-jobs.ts).
    const runs = (await this.redis.hkeys(keys.appSchedules(name))).map((id) => keys.scheduleRuns(name, id));
    await this.docs.remove(name, {
      keys: [
        ...rollouts,
        ...runs,
        keys.appReleaseSeq(name),
        keys.appReleases(name),
        keys.appReleaseCauses(name),
        keys.appOpSeq(name),
        keys.appLogs(name),
        keys.appLogCursors(name),
        keys.appLogBytes(name),
        keys.appMetrics(name),
        keys.appVolumeBackups(name),
        keys.appSchedules(name),
        keys.appTerminalSessions(name),
      ],
    });
  }

  async nextReleaseSeq(name: string): Promise<number> {
    return this.redis.incr(keys.appReleaseSeq(name));
  }
}
