/**
 * What a web instance's startup check asks and what one probe's outcome means for it. Pure: the
 * probing is health.ts's, every rule here a row of test/workers/apps/health-verdict.unit.test.ts.
 *
 * The check is the app's `healthCheck.path` (or app.json's `healthchecks.web.path`) with, from
 * app.json, the text the body must contain, each probe's timeout and how many attempts the
 * deploy allows. An attempt is a probe that reached the app: an answer (wrong status or wrong
 * body) or no answer within the probe's timeout. A refused connection is not one: the app is still
 * starting, and the node's startup deadline (GASPER_HEALTH_TIMEOUT_MS) bounds that wait.
 */

/** The web startup check of one release. */
export interface StartupCheck {
  /** HTTP path probed; unset: any answer on `/` is healthy (content and attempts need a path). */
  path?: string;
  /** Text the answer's body must contain (app.json `healthchecks.web.content`). */
  content?: string;
  /** Milliseconds one probe may take (app.json `timeout`, in seconds there); default 1 s. */
  timeoutMs?: number;
  /** Failed attempts before the deploy fails (app.json `attempts`); unset: until the deadline. */
  attempts?: number;
}

/** How much of the body is read for `content` (a bigger page is not searched further). */
export const bodyLimitBytes = 64 * 1024;
/** How much of the body a failure message shows. */
export const previewBytes = 200;
/** Pause after a failed attempt (not after a refused connection): the app gets time to warm up. */
export const attemptPauseMs = 1000;
export const defaultProbeTimeoutMs = 1000;

/** What one GET gave. */
export type ProbeOutcome =
  | { kind: 'refused'; detail: string }
  | { kind: 'timeout' }
  | { kind: 'answer'; status: number; body: string };

export type ProbeVerdict = { ok: true } | { ok: false; reason: string; attempt: boolean };

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

/** The first `previewBytes` bytes of a body, quoted (control characters escaped). */
export function bodyPreview(body: string): string {
  const bytes = Buffer.from(body, 'utf8');
  const cut =
    bytes.length > previewBytes
      ? bytes
          .subarray(0, previewBytes)
          .toString('utf8')
          .replace(/\uFFFD$/, '')
      : body;
  return JSON.stringify(cut);
}

/** Whether one probe passes the check, and if not, why (in the job log's words). */
export function judgeProbe(check: StartupCheck, outcome: ProbeOutcome): ProbeVerdict {
  const get = `GET ${check.path ?? '/'}`;
  if (outcome.kind === 'refused')
    return { ok: false, reason: `${get} could not connect (${outcome.detail})`, attempt: false };
  if (outcome.kind === 'timeout')
    return {
      ok: false,
      reason: `${get} did not answer within ${seconds(check.timeoutMs ?? defaultProbeTimeoutMs)}`,
      attempt: true,
    };
  // Without a path, any answer means the app serves.
  if (check.path === undefined) return { ok: true };
  if (outcome.status >= 400)
    return { ok: false, reason: `${get} answered ${outcome.status} (2xx or 3xx expected)`, attempt: true };
  if (check.content !== undefined && !outcome.body.includes(check.content))
    return {
      ok: false,
      reason: `${get} answered ${outcome.status} but the body does not contain ${JSON.stringify(check.content)} (first ${previewBytes} bytes: ${bodyPreview(outcome.body)})`,
      attempt: true,
    };
  return { ok: true };
}

/** Whether the check gives up after `failed` attempts. */
export function outOfAttempts(check: StartupCheck, failed: number): boolean {
  return check.attempts !== undefined && failed >= check.attempts;
}

/** What the check waits for, for the job log ("GET /health answering 2xx or 3xx with "ok" in its body…"). */
export function describeCheck(check: StartupCheck): string {
  if (check.path === undefined) return 'HTTP';
  const parts = [`GET ${check.path} answering 2xx or 3xx`];
  if (check.content !== undefined) parts.push(` with ${JSON.stringify(check.content)} in its body`);
  const limits = [
    ...(check.attempts !== undefined ? [`${check.attempts} attempt${check.attempts === 1 ? '' : 's'}`] : []),
    ...(check.timeoutMs !== undefined ? [`${seconds(check.timeoutMs)} each`] : []),
  ];
  if (limits.length) parts.push(` (${limits.join(', ')})`);
  return parts.join('');
}

/** The message of a check that gave up, naming what was checked and the last reason. */
export function failureMessage(
  check: StartupCheck,
  why: { failedAttempts: number; lastReason?: string; deadlineMs?: number },
): string {
  const last = why.lastReason ? `: ${why.lastReason}` : '';
  if (why.deadlineMs === undefined)
    return `app did not pass its health check after ${why.failedAttempts} attempt${why.failedAttempts === 1 ? '' : 's'}${last}`;
  const within = `within ${Math.round(why.deadlineMs / 1000)} s`;
  return check.path === undefined
    ? `app did not answer HTTP on its port ${within}${last}`
    : `app did not pass its health check (${describeCheck(check)}) ${within}${last}`;
}
