import { Counter, Histogram, type Registry } from 'prom-client';

/** Why the proxy answered for an app itself, instead of the app. */
export type ProxyFailure = 'no_instances' | 'unreachable' | 'timeout' | 'aborted';
const failures: readonly ProxyFailure[] = ['no_instances', 'unreachable', 'timeout', 'aborted'];
const statusClasses = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** `404` → `4xx`: classes keep the series per app few and fixed. Pure. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : '5xx';
}

/**
 * The proxy's counters, per app, in a prom-client registry of its process (served at the
 * API's `/metrics` when both run in one process, or at the proxy's metrics port). Label values
 * are app names the route table knows and fixed sets, so a client cannot grow the series.
 */
export class ProxyMetrics {
  private readonly requests: Counter<'app' | 'status'>;
  private readonly errors: Counter<'app' | 'reason'>;
  private readonly duration: Histogram<'app'>;
  private readonly unknownHost: Counter;
  /**
   * Labelled children per app, so the per-request path does not hash label sets: `requests` by
   * status class (index 1 for 1xx … 5 for 5xx). The app name is the route table's own string, so
   * the lookup reuses its cached hash.
   */
  private readonly perApp = new Map<
    string,
    { requests: ({ inc(): void } | undefined)[]; duration: { observe(v: number): void } }
  >();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'gasper_proxy_requests_total',
      help: 'Requests the proxy answered for an app, by status class',
      labelNames: ['app', 'status'],
      registers,
    });
    this.errors = new Counter({
      name: 'gasper_proxy_errors_total',
      help: 'Requests the proxy could not hand to the app, by reason',
      labelNames: ['app', 'reason'],
      registers,
    });
    this.duration = new Histogram({
      name: 'gasper_proxy_request_duration_seconds',
      help: 'Time from a request to the end of its response, per app',
      labelNames: ['app'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.unknownHost = new Counter({
      name: 'gasper_proxy_unknown_host_requests_total',
      help: 'Requests for a host that is no app',
      registers,
    });
  }

  response(app: string, status: number, seconds: number): void {
    let children = this.perApp.get(app);
    if (!children) {
      children = { requests: [], duration: this.duration.labels({ app }) };
      this.perApp.set(app, children);
    }
    const index = status >= 100 && status < 600 ? (status / 100) | 0 : 5;
    let counter = children.requests[index];
    if (!counter) {
      counter = this.requests.labels({ app, status: statusClass(status) });
      children.requests[index] = counter;
    }
    counter.inc();
    children.duration.observe(seconds);
  }

  failure(app: string, reason: ProxyFailure): void {
    this.errors.inc({ app, reason });
  }

  unknown(): void {
    this.unknownHost.inc();
  }

  /** Drops a deleted app's series. */
  forget(app: string): void {
    this.perApp.delete(app);
    for (const status of statusClasses) this.requests.remove({ app, status });
    for (const reason of failures) this.errors.remove({ app, reason });
    this.duration.remove({ app });
  }
}
