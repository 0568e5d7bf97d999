/**
 * What to do when an instance crashed or was found unhealthy: restart it after a delay that
 * doubles with each recent crash, or give up once it crashed too often within the window (a
 * crash loop). Pure: the supervisor keeps the history and the clock; unit-tested in
 * test/workers/apps/crash-policy.unit.test.ts.
 */
export interface CrashPolicy {
  /** Delay before the first restart; doubled for each further crash in the window. */
  backoffMs: number;
  backoffMaxMs: number;
  /** Crashes within `windowMs` that make a crash loop. */
  maxCrashes: number;
  windowMs: number;
}

export type CrashDecision =
  | { action: 'restart'; delayMs: number; recentCrashes: number }
  | { action: 'give-up'; recentCrashes: number };

/** Crash times still inside the window, oldest first (the history to keep). */
export function recentCrashes(history: readonly number[], now: number, windowMs: number): number[] {
  return history.filter((t) => t <= now && now - t < windowMs).sort((a, b) => a - b);
}

/** `history` holds earlier crash times; the crash being decided on happens at `now`. */
export function decideRestart(history: readonly number[], now: number, policy: CrashPolicy): CrashDecision {
  const recent = recentCrashes(history, now, policy.windowMs).length + 1;
  if (recent >= policy.maxCrashes) return { action: 'give-up', recentCrashes: recent };
  const delayMs = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** (recent - 1));
  return { action: 'restart', delayMs, recentCrashes: recent };
}
