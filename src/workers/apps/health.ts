import http from 'node:http';
import { healthProbeHeader, healthProbeUserAgent } from '../../core/health-probe.ts';

/** Marks the probe in the app's access log (core/health-probe.ts). */
const probeHeaders = { 'user-agent': healthProbeUserAgent, [healthProbeHeader]: '1' };

/**
 * One GET on the published port. Without a health path, any HTTP response to `/` means the app
 * is serving; with one (the app's `healthCheck.path`), the answer must be 2xx or 3xx.
 */
export function probeHttp(address: string, port: number, timeoutMs = 1000, healthPath?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: address, port, path: healthPath ?? '/', timeout: timeoutMs, agent: false, headers: probeHeaders },
      (res) => {
        res.resume();
        resolve(healthPath === undefined || (res.statusCode ?? 500) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export class HealthTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HealthTimeoutError';
  }
}

/**
 * Polls until the app answers HTTP. `stillRunning` is consulted between probes (less often:
 * it costs a Docker call) so an app that exits fails fast instead of waiting out the timeout.
 */
export async function waitForHttp(options: {
  address: string;
  port: number;
  timeoutMs: number;
  /** Health check path; unset: any response on `/`. */
  healthPath?: string;
  stillRunning: () => Promise<boolean>;
  signal?: AbortSignal;
}): Promise<void> {
  const started = Date.now();
  let lastStateCheck = started;
  let interval = 10;
  for (;;) {
    if (await probeHttp(options.address, options.port, 1000, options.healthPath)) return;
    options.signal?.throwIfAborted();
    const now = Date.now();
    if (now - started > options.timeoutMs) {
      throw new HealthTimeoutError(
        options.healthPath
          ? `app did not pass its health check (GET ${options.healthPath} answering 2xx or 3xx) within ${Math.round(options.timeoutMs / 1000)} s`
          : `app did not answer HTTP on its port within ${Math.round(options.timeoutMs / 1000)} s`,
      );
    }
    if (now - lastStateCheck > 300) {
      lastStateCheck = now;
      if (!(await options.stillRunning())) throw new HealthTimeoutError('app exited before answering HTTP');
    }
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(interval * 1.5, 50);
  }
}
