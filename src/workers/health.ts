import http from 'node:http';

/** One GET to `/` on the published port; any HTTP response means the app is serving. */
export function probeHttp(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: address, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
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
  stillRunning: () => Promise<boolean>;
  signal?: AbortSignal;
}): Promise<void> {
  const started = Date.now();
  let lastStateCheck = started;
  let interval = 10;
  for (;;) {
    if (await probeHttp(options.address, options.port)) return;
    options.signal?.throwIfAborted();
    const now = Date.now();
    if (now - started > options.timeoutMs) {
      throw new HealthTimeoutError(`app did not answer HTTP on its port within ${Math.round(options.timeoutMs / 1000)} s`);
    }
    if (now - lastStateCheck > 300) {
      lastStateCheck = now;
      if (!(await options.stillRunning())) throw new HealthTimeoutError('app exited before answering HTTP');
    }
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(interval * 1.5, 50);
  }
}
