/**
 * How a Dockerfile build's `RUN` steps are held to GASPER_BUILD_PIDS_LIMIT (pure: build-pids.ts
 * does the I/O). The Engine API's build has memory and CPU options but none for pids; it does
 * have `cgroupparent`, the cgroup each step's container is made under. The worker starts a
 * holder container with the pids limit (Docker's own PidsLimit) and passes the holder's cgroup
 * as the build's parent: the kernel's pids controller counts a cgroup's descendants against its
 * `pids.max`, so every step, and all of them together, stay under the holder's limit.
 *
 * That needs a daemon on cgroup v1 with the cgroupfs driver: there a container's cgroup is a
 * plain directory, `<parent>/<id>`, that another container's can be made inside. With the
 * systemd driver a parent must be a slice, and a container's cgroup is a scope, which systemd
 * does not let anything be nested in. On cgroup v2 a cgroup that holds a process (the holder's)
 * cannot have children with controllers enabled (the "no internal processes" rule), so runc
 * cannot make the step's cgroup there.
 */

/** What `docker info` says about the daemon's cgroups. */
export interface DaemonCgroups {
  CgroupVersion?: string;
  CgroupDriver?: string;
}

/** Why the daemon cannot nest a build in a holder's cgroup, or undefined when it can. */
export function nestingProblem(info: DaemonCgroups): string | undefined {
  if (info.CgroupDriver !== 'cgroupfs')
    return `the daemon's cgroup driver is ${info.CgroupDriver ?? 'unknown'}, not cgroupfs: a build's cgroup parent must be a systemd slice, and a container's scope cannot hold one`;
  if (info.CgroupVersion !== '1')
    return `the daemon uses cgroup v${info.CgroupVersion ?? '?'}: a container's cgroup, holding its process, cannot have the build's cgroups inside it`;
  return undefined;
}

/**
 * The holder's pids cgroup from its `/proc/self/cgroup` (cgroup v1, the host's cgroup
 * namespace: the full path, `8:pids:/docker/<id>`); undefined when the file names none or only
 * `/` (a private cgroup namespace hides the path).
 */
export function pidsCgroupOf(procSelfCgroup: string): string | undefined {
  const match = /^\d+:(?:[^:]*,)?pids(?:,[^:]*)?:(\/.+)$/m.exec(procSelfCgroup);
  const cgroup = match?.[1]?.trim();
  return cgroup && cgroup !== '/' ? cgroup : undefined;
}

/**
 * The holder's own process counts too: its limit is one more than the build's, so the steps
 * get exactly GASPER_BUILD_PIDS_LIMIT.
 */
export const holderPidsLimit = (limit: number): number => limit + 1;

/**
 * Whether the build reached its limit, from the holder's `pids.peak` (the most processes its
 * cgroup and those inside it had at once): a fork refused by the limit leaves it at the holder's
 * limit. Undefined when the kernel has no `pids.peak` (before Linux 6.1).
 */
export function reachedLimit(peakText: string, limit: number): boolean | undefined {
  const peak = Number.parseInt(peakText.trim(), 10);
  if (!Number.isFinite(peak)) return undefined;
  return peak >= holderPidsLimit(limit);
}

/** The user's message for a build that failed at its process limit. */
export function pidsLimitMessage(limit: number, failure: string): string {
  return `the build reached its process limit (${limit} processes and threads, GASPER_BUILD_PIDS_LIMIT): ${failure}`;
}
