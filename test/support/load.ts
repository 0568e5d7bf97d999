import http from 'node:http';
import https from 'node:https';

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** Failures by cause (status code or error code), for the assertion message. */
  failures: Record<string, number>;
  /** Distinct bodies seen, in order of first appearance. */
  bodies: string[];
  /** Per request: start time (ms since `origin`) and latency (ms). */
  samples: { at: number; ms: number; ok: boolean }[];
  /** performance.now() when the load started. */
  origin: number;
}

/**
 * Sends GET requests through the proxy on 127.0.0.1 at a fixed rate, with keep-alive like a
 * browser, until `until` resolves or `maxMs` passes (bounded either way), then waits for the
 * requests in flight.
 */
export async function loadThroughProxy(options: {
  proxyPort: number;
  host: string;
  path?: string;
  ratePerSecond: number;
  until: Promise<unknown>;
  maxMs: number;
  /** Over HTTPS to this port instead, trusting `ca`, with SNI from `host`. */
  https?: { port: number; ca: string | Buffer };
}): Promise<LoadResult> {
  const tls = options.https;
  const agent = tls
    ? new https.Agent({ keepAlive: true, maxSockets: 32, ca: tls.ca })
    : new http.Agent({ keepAlive: true, maxSockets: 32 });
  const get = tls ? https.get : http.get;
  const started = performance.now();
  const result: LoadResult = { sent: 0, ok: 0, failed: 0, failures: {}, bodies: [], samples: [], origin: started };
  const inFlight = new Set<Promise<void>>();
  let done = false;
  void options.until.finally(() => (done = true));
  const fail = (cause: string) => {
    result.failed++;
    result.failures[cause] = (result.failures[cause] ?? 0) + 1;
  };
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const sample = { at: t0 - started, ms: 0, ok: false };
      result.samples.push(sample);
      const req = get(
        {
          host: '127.0.0.1',
          port: tls ? tls.port : options.proxyPort,
          ...(tls ? { servername: options.host.replace(/:\d+$/, '') } : {}),
          path: options.path ?? '/',
          headers: { host: options.host },
          agent,
          timeout: 10_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            sample.ms = performance.now() - t0;
            if (res.statusCode === 200) {
              result.ok++;
              sample.ok = true;
              const first = body.split(' ')[0]!;
              if (!result.bodies.includes(first)) result.bodies.push(first);
            } else fail(`HTTP ${res.statusCode}`);
            resolve();
          });
          res.on('error', (err) => {
            fail((err as NodeJS.ErrnoException).code ?? err.message);
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        sample.ms = performance.now() - t0;
        fail((err as NodeJS.ErrnoException).code ?? err.message);
        resolve();
      });
    });
  const interval = 1000 / options.ratePerSecond;
  while (!done && performance.now() - started < options.maxMs) {
    // Fixed rate: the n-th request leaves at n × interval, whatever the previous ones took.
    const due = started + result.sent * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    result.sent++;
    const p = one().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  agent.destroy();
  return result;
}
