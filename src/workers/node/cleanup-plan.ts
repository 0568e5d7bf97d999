/**
 * Which old releases' objects a node removes (GASPER_KEEP_RELEASES). Pure: table-tested in
 * test/workers/node/cleanup-plan.unit.test.ts; release-cleanup.ts lists and removes.
 *
 * Per app, the releases kept are the newest `keep` seen on the node (release ids sort by age) among
 * those that could be rolled back to, plus the serving and the pending (deploying) one whatever their
 * age. A release whose record says it never served (building, starting, cancelled, failed: leftovers
 * of a cancelled or crashed deploy) is not ranked, so it cannot push the real rollback target out;
 * a release without a record (older than the records, or its record pruned) is ranked, as nothing
 * says it never served. Everything else of the
 * app's on this node goes: its release directory, its images (a Dockerfile build's, whatever
 * builder made them: any image labelled with this installation, the app and the release) and its
 * stopped containers. Running containers are reconcile.ts's (it drains nothing, but knows when a
 * rollback's young containers are still starting). An app being deleted is left to its delete
 * job; an app without a document keeps nothing (its images would otherwise stay forever, its
 * directories and containers are reconcile.ts's).
 */
export interface ReleaseObject {
  app: string;
  release: string;
}

export interface ObservedImage extends ReleaseObject {
  id: string;
}

export interface ObservedReleaseContainer extends ReleaseObject {
  id: string;
  running: boolean;
}

export interface CleanupInput {
  /** Releases kept per app besides the serving and the pending one (GASPER_KEEP_RELEASES, ≥ 1). */
  keep: number;
  /** The app documents, by name: `deleting` apps are left alone. */
  apps: ReadonlyMap<string, { release?: string; pendingRelease?: string; deleting: boolean }>;
  /** Release record statuses per app and release (release-records.ts); absent: no record. */
  statuses?: ReadonlyMap<string, ReadonlyMap<string, string>>;
  dirs: readonly ReleaseObject[];
  images: readonly ObservedImage[];
  containers: readonly ObservedReleaseContainer[];
}

export interface CleanupPlan {
  /** Release ids kept, per app with a document, newest first. */
  kept: Map<string, string[]>;
  dirs: ReleaseObject[];
  /** Containers first: Docker refuses to remove an image a container (even stopped) uses. */
  containers: ObservedReleaseContainer[];
  images: ObservedImage[];
}

export function planCleanup(input: CleanupInput): CleanupPlan {
  const seen = new Map<string, Set<string>>();
  const note = (o: ReleaseObject) => {
    if (!seen.has(o.app)) seen.set(o.app, new Set());
    seen.get(o.app)!.add(o.release);
  };
  for (const o of [...input.dirs, ...input.images, ...input.containers]) note(o);

  const kept = new Map<string, string[]>();
  for (const [app, releases] of seen) {
    const doc = input.apps.get(app);
    if (!doc) continue;
    const status = input.statuses?.get(app);
    // The serving release counts among the newest whatever its record says: right after a switch
    // (when the deploy cleans up) its record may still read `starting`.
    const ranked = [...releases].filter((r) => {
      const s = status?.get(r);
      return r === doc.release || s === undefined || s === 'active' || s === 'superseded';
    });
    const newest = ranked.sort().reverse().slice(0, Math.max(1, input.keep));
    const always = [doc.release, doc.pendingRelease].filter((r): r is string => !!r);
    kept.set(app, [...new Set([...newest, ...always])].sort().reverse());
  }

  /** Whether `o` may be removed: a document exists and does not keep it, or (images) none exists. */
  const doomed = (o: ReleaseObject, orphanToo: boolean): boolean => {
    const doc = input.apps.get(o.app);
    if (!doc) return orphanToo;
    if (doc.deleting) return false;
    return !kept.get(o.app)!.includes(o.release);
  };
  return {
    kept,
    dirs: input.dirs.filter((d) => doomed(d, false)),
    containers: input.containers.filter((c) => !c.running && doomed(c, false)),
    images: input.images.filter((i) => doomed(i, true)),
  };
}
