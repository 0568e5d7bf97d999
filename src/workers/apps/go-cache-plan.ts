/**
 * The Go build cache of an app (pure: go-cache.ts does the I/O): one directory per app and
 * incarnation on each node, `<state>/apps/<app>/build-cache/<uid>/go`, mounted into the app's Go
 * build containers only (never its instances or one-off runs), holding GOCACHE (compiled
 * packages) and GOMODCACHE (downloaded modules). No module proxy is reachable from these nodes,
 * so the build cache is what makes a rebuild fast: only the packages whose inputs changed compile
 * again.
 *
 * Kept per app, not keyed by go.sum as the other installs are (deps-reuse-plan.ts): Go's caches
 * are content-addressed. A GOCACHE entry is found by the hash of everything its action read
 * (sources, flags, the toolchain's own version), and a GOMODCACHE module lives at its
 * module@version path and is checked against go.sum's hash before use, so a stale entry is never
 * used, only left unused. A key on go.sum would throw away everything still valid whenever one
 * line of go.sum changed. Go trims GOCACHE entries unused for five days itself; GOMODCACHE grows
 * with the modules the app ever used, until `cache: false` or the app's deletion drops it.
 */

/** Where the cache appears in the build container. */
export const goCacheMount = '/var/cache/gasper/go';

/** The directory, under the app's directory, that holds its incarnations' build caches. */
export const buildCacheFolder = 'build-cache';

/**
 * The build env pointing Go at the cache. The app's env wins (an app that sets GOCACHE or
 * GOFLAGS keeps its own): `-modcacherw` leaves the module cache writable, so the worker can
 * remove it without making its read-only folders writable first.
 */
export function goCacheEnv(appEnv: Record<string, string>): Record<string, string> {
  return {
    GOCACHE: `${goCacheMount}/build`,
    GOMODCACHE: `${goCacheMount}/mod`,
    GOFLAGS: '-modcacherw',
    ...appEnv,
  };
}

/**
 * Cache folders under `build-cache/` that belong to another incarnation of the app's name (an
 * app deleted and created again, perhaps by another owner, on a node where the first one's
 * directory stayed): removed before a build, never mounted.
 */
export function staleCacheDirs(names: readonly string[], uid: string): string[] {
  return names.filter((n) => n !== uid).sort();
}

export type GoCachePlan = { empty: boolean; line: string };

/**
 * What the build starts from: the cache as the app's earlier builds left it, or nothing when
 * the rebuild asked for `cache: false` (the cache is emptied, and this build fills it again).
 */
export function planGoCache(input: { cache: boolean; bytes: number; entries: number }): GoCachePlan {
  if (!input.cache)
    return { empty: true, line: 'go cache: cache: false: building from an empty GOCACHE and GOMODCACHE' };
  if (input.entries === 0)
    return { empty: false, line: 'go cache: empty (the first Go build of this app on this node)' };
  const mib = (input.bytes / 1024 / 1024).toFixed(1);
  return {
    empty: false,
    line: `go cache: reused from this app's earlier builds on this node (${mib} MiB in GOCACHE and GOMODCACHE)`,
  };
}
