import http from 'node:http';
import { healthProbeHeader, healthProbeUserAgent } from '../../core/health-probe.ts';
import {
  attemptPauseMs,
  bodyLimitBytes,
  defaultProbeTimeoutMs,
  failureMessage,
  judgeProbe,
  outOfAttempts,
  type ProbeOutcome,
  type StartupCheck,
} from './health-verdict.ts';

/** Marks the probe in the app's access log (core/health-probe.ts). */
const probeHeaders = { 'user-agent': healthProbeUserAgent, [healthProbeHeader]: '1' };

/**
 * One GET on the published port: the status and the first `bodyLimitBytes` of the body (read only
 * when `readBody`: the content check), or why there is no answer. The timeout covers the whole
 * probe, body included.
 */
export function probeOnce(
  address: string,
  port: number,
  path: string,
  timeoutMs: number,
  readBody: boolean,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    /** Closes the connection and ends the time limit (the probe is over). */
    const close = () => {
      clearTimeout(timer);
      req.destroy();
    };
    // Also bounds an answer whose body never ends (a stream): the connection is closed then.
    const timer = setTimeout(() => {
      settle({ kind: 'timeout' });
      req.destroy();
    }, timeoutMs);
    const req = http.get({ host: address, port, path, agent: false, headers: probeHeaders }, (res) => {
      const status = res.statusCode ?? 500;
      res.on('close', () => clearTimeout(timer));
      if (!readBody) {
        // The body is drained, not read: the app finishes its answer as to any client.
        res.resume();
        return settle({ kind: 'answer', status, body: '' });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => settle({ kind: 'answer', status, body: Buffer.concat(chunks).toString('utf8') });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= bodyLimitBytes) {
          settle({ kind: 'answer', status, body: Buffer.concat(chunks).subarray(0, bodyLimitBytes).toString('utf8') });
          close();
        }
      });
      res.on('end', done);
      // A body cut short still answered: judged on what came.
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      settle({ kind: 'refused', detail: err.code ?? err.message });
      clearTimeout(timer);
    });
  });
}

/**
 * One GET on the published port. Without a health path, any HTTP response to `/` means the app
 * is serving; with one (the app's `healthCheck.path`), the answer must be 2xx or 3xx.
 */
export async function probeHttp(
  address: string,
  port: number,
  timeoutMs = 1000,
  healthPath?: string,
): Promise<boolean> {
  const check: StartupCheck = healthPath === undefined ? {} : { path: healthPath };
  return judgeProbe(check, await probeOnce(address, port, healthPath ?? '/', timeoutMs, false)).ok;
}

export class HealthTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HealthTimeoutError';
  }
}

/**
 * Polls until the app passes its startup check (health-verdict.ts): until the deadline
 * (`timeoutMs`), or until the check's attempts are used up. `stillRunning` is consulted between
 * probes (less often: it costs a Docker call) so an app that exits fails fast instead of waiting
 * out the timeout.
 */
export async function waitForHttp(options: {
  address: string;
  port: number;
  timeoutMs: number;
  /** The check; `{}`: any response on `/`. */
  check: StartupCheck;
  stillRunning: () => Promise<boolean>;
  signal?: AbortSignal;
}): Promise<void> {
  const { check } = options;
  const started = Date.now();
  let lastStateCheck = started;
  let interval = 10;
  let failed = 0;
  let lastReason: string | undefined;
  for (;;) {
    const outcome = await probeOnce(
      options.address,
      options.port,
      check.path ?? '/',
      check.timeoutMs ?? defaultProbeTimeoutMs,
      check.content !== undefined,
    );
    const verdict = judgeProbe(check, outcome);
    if (verdict.ok) return;
    lastReason = verdict.reason;
    if (verdict.attempt) failed++;
    if (outOfAttempts(check, failed))
      throw new HealthTimeoutError(failureMessage(check, { failedAttempts: failed, lastReason }));
    options.signal?.throwIfAborted();
    const now = Date.now();
    if (now - started > options.timeoutMs)
      throw new HealthTimeoutError(
        failureMessage(check, { failedAttempts: failed, lastReason, deadlineMs: options.timeoutMs }),
      );
    if (now - lastStateCheck > 300) {
      lastStateCheck = now;
      if (!(await options.stillRunning())) throw new HealthTimeoutError('app exited before answering HTTP');
    }
    // A counted attempt waits before the next (an app answering 503 while it warms up); a refused
    // connection is retried soon (the app is about to listen).
    await new Promise((r) =>
      setTimeout(r, verdict.attempt && check.attempts !== undefined ? attemptPauseMs : interval),
    );
    interval = Math.min(interval * 1.5, 50);
  }
}
