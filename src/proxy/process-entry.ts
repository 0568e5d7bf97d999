/**
 * One proxy process of a group (proxy/processes.ts forks this file with node:cluster): it waits
 * for its options from the primary, runs `startProxy` (whose listens the cluster shares between
 * the processes), follows the event stream itself, and answers the primary's metrics requests.
 */
import { Registry } from 'prom-client';
import { createLogger, type Logger } from '../core/log.ts';
import type { GasperEvent } from '../events/schemas.ts';
import { startProxy, type ProxyHandle } from './index.ts';
import { preciseNow, primaryMessage, type PrimaryMessage, type ProcessMessage } from './process-messages.ts';

if (!process.send) {
  console.error('proxy/process-entry.ts runs as a proxy process forked by proxy/processes.ts');
  process.exit(2);
}

const send = (message: ProcessMessage) => {
  if (process.connected) process.send!(message);
};
const registry = new Registry();
let handle: Promise<ProxyHandle> | undefined;
let log: Logger | undefined;
let closing = false;

/** The handle's numeric fields (port, metricsPort, and any port startProxy adds): what the primary reports. */
function portsOf(proxy: ProxyHandle): Record<string, number> {
  return Object.fromEntries(Object.entries(proxy).filter(([, value]) => typeof value === 'number'));
}

async function start(message: Extract<PrimaryMessage, { type: 'start' }>): Promise<ProxyHandle> {
  log = createLogger(message.logLevel).child({ proxyProcess: message.index });
  const onEvent = message.reportEvents
    ? (event: GasperEvent) => send({ type: 'applied', event, at: preciseNow() })
    : undefined;
  return startProxy(message.options, { log, metrics: registry, onEvent });
}

async function close(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  const proxy = await handle?.catch(() => undefined);
  await proxy?.close().catch((err) => log?.error({ err }, 'proxy close failed'));
  process.exit(code);
}

process.on('message', (raw) => {
  const parsed = primaryMessage.safeParse(raw);
  if (!parsed.success) return;
  const message = parsed.data;
  if (message.type === 'start' && !handle) {
    handle = start(message);
    handle.then(
      (proxy) => send({ type: 'ready', ports: portsOf(proxy) }),
      (err: Error) => {
        send({ type: 'failed', error: err.message });
        void close(1);
      },
    );
  } else if (message.type === 'metrics') {
    registry.getMetricsAsJSON().then(
      (metrics) => send({ type: 'metrics', id: message.id, metrics }),
      () => send({ type: 'metrics', id: message.id, metrics: [] }),
    );
  } else if (message.type === 'close') void close(0);
});
send({ type: 'loaded' });
// The primary is gone (killed, crashed): nobody would restart or close this process.
process.on('disconnect', () => void close(0));
process.on('SIGTERM', () => void close(0));
// SIGINT from a terminal reaches the whole process group: the primary decides when to close.
process.on('SIGINT', () => {});
