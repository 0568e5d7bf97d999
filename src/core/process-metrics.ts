import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One prom-client registry per process: the services running in it register their own metrics
 * (the proxy's counters) and the API serves it at `/metrics`. Node's runtime metrics (CPU,
 * memory, event loop lag, GC) come with it, prefixed `gasper_`.
 */
export function createProcessMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gasper_' });
  return registry;
}
