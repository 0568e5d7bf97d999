import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import type { Logger } from '../core/log.ts';
import type { GasperEvent } from '../events/schemas.ts';
import { decideRestart, type CrashPolicy } from '../workers/apps/crash-policy.ts';
import { serveMetrics, startProxy, type ProxyHandle, type ProxyOptions } from './index.ts';
import { preciseNow, processMessage, type PrimaryMessage, type ProcessMessage } from './process-messages.ts';
import { relayMetrics } from './relay-metrics.ts';

export interface ProxyProcessesOptions {
  /** Each process's proxy options, handed to `startProxy` as they are (plain data: they cross IPC). */
  proxy: ProxyOptions;
  /** Proxy processes on the proxy's ports (GASPER_PROXY_PROCESSES); 1 runs the proxy in this process. */
  processes: number;
  /** Report every event a process applied to its routes (the handle's 'applied' event): tests and benches. */
  reportEvents?: boolean;
  /** Delay before restarting a process that died, doubled per recent death. Default 200 ms, at most 30 s. */
  restartBackoffMs?: number;
  restartBackoffMaxMs?: number;
  /**
   * How connections are spread over the processes (see `defaultScheduling`); node:cluster fixes it
   * for the whole process at the first fork, so only the first group's choice counts. For benches.
   */
  scheduling?: ProxyScheduling;
  /** Node flags of the proxy processes (default: none compiled, tsx's loader from the sources). */
  execArgv?: string[];
}

export type ProxyScheduling = 'kernel' | 'round-robin';

/** The port fields of a proxy handle (`port`, `metricsPort`, and any listener port `startProxy` adds). */
export type ProxyPorts = {
  [K in keyof ProxyHandle as ProxyHandle[K] extends number | undefined ? K : never]: ProxyHandle[K];
};

export interface ProxyProcessesHandle extends ProxyPorts {
  processes: number;
  /** Process ids of the running proxy processes (this process's own when `processes` is 1). */
  pids(): number[];
  /** With `reportEvents`: `'applied', (index: number, event: GasperEvent, at: number)`, `at` in ms since the epoch. */
  events: EventEmitter<{ applied: [index: number, event: GasperEvent, at: number] }>;
  /** Each process's own metrics (prom-client's JSON form), by slot: for tests and diagnostics. */
  metricsByProcess(): Promise<unknown[][]>;
  close(): Promise<void>;
}

/**
 * Starts the proxy in `processes` processes sharing its ports, each following the event stream
 * itself, so routing never waits on a hop through this process. node:cluster shares the listening
 * sockets (Node 20 has no `reusePort`); this process only forks, restarts (with backoff) and stops
 * them, and serves their counters summed. With `processes: 1` the proxy runs in this process.
 */
export async function startProxyProcesses(
  options: ProxyProcessesOptions,
  deps: { log: Logger; metrics?: Registry },
): Promise<ProxyProcessesHandle> {
  const events: ProxyProcessesHandle['events'] = new EventEmitter();
  if (options.processes <= 1) {
    const onEvent = options.reportEvents
      ? (event: GasperEvent) => events.emit('applied', 0, event, preciseNow())
      : undefined;
    const registry = deps.metrics ?? new Registry();
    const proxy = await startProxy(options.proxy, { log: deps.log, metrics: registry, onEvent });
    const { routes: _routes, close, ...ports } = proxy;
    return {
      ...ports,
      processes: 1,
      pids: () => [process.pid],
      events,
      metricsByProcess: async () => [await registry.getMetricsAsJSON()],
      close: () => close(),
    };
  }
  const group = new ProxyGroup(options, deps.log, events);
  try {
    const ports = await group.start();
    // The counters live in the processes: this process's registry relays their sum.
    const registry = deps.metrics ?? new Registry();
    await relayMetrics(registry, () => group.collectMetrics());
    const { metricsPort, metricsToken, host } = options.proxy;
    const metricsServer =
      metricsPort === undefined ? undefined : await serveMetrics(registry, host, metricsPort, metricsToken!);
    let closing: Promise<void> | undefined;
    return {
      ...ports,
      port: ports.port!,
      metricsPort: metricsServer ? (metricsServer.address() as AddressInfo).port : undefined,
      processes: options.processes,
      pids: () => group.pids(),
      events,
      metricsByProcess: () => group.collectMetrics(),
      close() {
        closing ??= (async () => {
          closeServer(metricsServer);
          await group.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await group.close();
    throw err;
  }
}

function closeServer(server: http.Server | undefined): void {
  server?.close();
  server?.closeAllConnections();
}

/*
 * Who hands new connections to the processes: the primary, round-robin (SCHED_RR: it accepts
 * every connection and passes its handle over IPC), or the kernel (SCHED_NONE: every process
 * accepts on the shared socket). bench/proxy.ts with 2 processes on the shared 2-core machine
 * (load average 12–15 from others' tests, so single runs vary 5×): round-robin gave 321, 304 and
 * 2,041 req/s, the kernel 319, 2,486 and 289; neither mode is faster beyond that noise. The
 * connections spread evenly in both (CPU per process 49/50% round-robin, 54/46% kernel; nginx's 2
 * workers got 100/0% in one run). The kernel it is: the primary then stays out of every new
 * connection's path (no IPC hop per accept, nothing queued while it is busy or restarting a
 * process), which matters for new connections per second (TLS handshakes) more than for
 * kept-alive requests. Node's docs warn that SCHED_NONE can load processes unevenly on some
 * systems: BENCH_SCHEDULING=round-robin npm run bench:proxy shows whether it does on yours.
 */
const defaultScheduling: ProxyScheduling = 'kernel';
const schedulingPolicies = { kernel: cluster.SCHED_NONE, 'round-robin': cluster.SCHED_RR } as const;
let clusterSetUp = false;

/** Compiled (dist/), the processes run the compiled entry with no loader; from the sources, through tsx. */
const compiled = !import.meta.url.endsWith('.ts');
const entry = fileURLToPath(new URL(compiled ? './process-entry.js' : './process-entry.ts', import.meta.url));
/** tsx's loader, by absolute URL: `--import tsx` would resolve from the working directory. */
const defaultExecArgv = compiled ? [] : ['--import', import.meta.resolve('tsx')];

interface Slot {
  worker?: Worker;
  startedAt: number;
  /** Times this slot's processes died, for the restart backoff. */
  deaths: number[];
  restartTimer?: NodeJS.Timeout;
}

/** The forked processes of one proxy group: start, restart with backoff, metrics, close. */
class ProxyGroup {
  private readonly slots: Slot[];
  private readonly policy: CrashPolicy;
  private readonly workerOptions: ProxyOptions;
  private closing = false;
  private nextRequest = 0;
  private readonly pending = new Map<number, { replies: unknown[][]; left: number; done: () => void }>();

  constructor(
    private readonly options: ProxyProcessesOptions,
    private readonly log: Logger,
    private readonly events: ProxyProcessesHandle['events'],
  ) {
    this.slots = Array.from({ length: options.processes }, () => ({ startedAt: 0, deaths: [] }));
    this.policy = {
      backoffMs: options.restartBackoffMs ?? 200,
      backoffMaxMs: options.restartBackoffMaxMs ?? 30_000,
      // A proxy process is never given up on: the edge must keep serving.
      maxCrashes: Number.POSITIVE_INFINITY,
      windowMs: 60_000,
    };
    // The primary serves the summed metrics itself; each process's endpoint would show its own only.
    const { metricsPort: _port, metricsToken: _token, ...proxy } = options.proxy;
    this.workerOptions = proxy;
  }

  /** Forks every process; resolves with the ports once all listen, rejects if one cannot start. */
  async start(): Promise<Partial<ProxyPorts>> {
    // Port 0 would be shared by every group this process starts (cluster keys shared sockets by
    // address and port): the group takes a free port of its own first.
    for (const [key, value] of Object.entries(this.workerOptions)) {
      if (value === 0 && /port$/i.test(key))
        (this.workerOptions as unknown as Record<string, unknown>)[key] = await freePort(this.workerOptions.host);
    }
    const started = await Promise.allSettled(this.slots.map((_, index) => this.fork(index)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return (started[0] as PromiseFulfilledResult<Partial<ProxyPorts>>).value;
  }

  pids(): number[] {
    return this.slots.flatMap((slot) => (slot.worker?.process.pid ? [slot.worker.process.pid] : []));
  }

  private fork(index: number): Promise<Partial<ProxyPorts>> {
    // Node freezes the policy at the first setupPrimary: one policy per process.
    if (!clusterSetUp) cluster.schedulingPolicy = schedulingPolicies[this.options.scheduling ?? defaultScheduling];
    clusterSetUp = true;
    cluster.setupPrimary({
      exec: entry,
      execArgv: this.options.execArgv ?? defaultExecArgv,
      args: [],
    });
    const worker = cluster.fork();
    const slot = this.slots[index]!;
    slot.worker = worker;
    slot.startedAt = Date.now();
    const start: PrimaryMessage = {
      type: 'start',
      options: this.workerOptions,
      logLevel: this.log.level,
      index,
      reportEvents: this.options.reportEvents ?? false,
    };
    return new Promise((resolve, reject) => {
      let settled = false;
      worker.on('message', (raw) => {
        const parsed = processMessage.safeParse(raw);
        if (!parsed.success) return;
        const message = parsed.data;
        // A 'close' sent before the process listened was lost: send it again.
        if (message.type === 'loaded') worker.send(this.closing ? ({ type: 'close' } satisfies PrimaryMessage) : start);
        else if (message.type === 'ready' && !settled) {
          settled = true;
          this.log.debug({ index, pid: worker.process.pid, ports: message.ports }, 'proxy process listening');
          resolve(message.ports);
        } else if (message.type === 'failed' && !settled) {
          settled = true;
          reject(new Error(`proxy process ${index} could not start: ${message.error}`));
        } else this.onMessage(index, message);
      });
      worker.on('exit', (code, signal) => {
        if (!settled) {
          settled = true;
          reject(new Error(`proxy process ${index} exited (${signal ?? code}) before listening`));
        }
        this.onExit(index, worker, code, signal);
      });
    });
  }

  private onMessage(index: number, message: ProcessMessage): void {
    if (message.type === 'applied') this.events.emit('applied', index, message.event, message.at);
    else if (message.type === 'metrics') {
      const request = this.pending.get(message.id);
      if (!request) return;
      request.replies[index] = message.metrics;
      if (--request.left === 0) request.done();
    }
  }

  private onExit(index: number, worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slots[index]!;
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    if (this.closing) return;
    const now = Date.now();
    const decision = decideRestart(slot.deaths, now, this.policy);
    slot.deaths = [...slot.deaths.filter((t) => now - t < this.policy.windowMs), now];
    const delayMs = decision.action === 'restart' ? decision.delayMs : this.policy.backoffMaxMs;
    this.log.error(
      { index, pid: worker.process.pid, code, signal, restartInMs: delayMs, recentDeaths: decision.recentCrashes },
      'proxy process died; restarting it',
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.closing) return;
      this.fork(index).then(
        () => this.log.info({ index, pid: slot.worker?.process.pid }, 'proxy process restarted'),
        (err: Error) => this.log.error({ index, err: err.message }, 'proxy process restart failed'),
      );
    }, delayMs);
  }

  /** Each process's metrics (prom-client JSON), by slot; a process that does not answer within 2 s gets `[]`. */
  collectMetrics(): Promise<unknown[][]> {
    const asked = this.slots.filter((slot) => slot.worker?.isConnected());
    const replies: unknown[][] = this.slots.map(() => []);
    if (asked.length === 0) return Promise.resolve(replies);
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const request = { replies, left: asked.length, done: () => {} };
      const timer = setTimeout(() => request.done(), 2_000);
      request.done = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(replies);
      };
      this.pending.set(id, request);
      for (const slot of asked) slot.worker!.send({ type: 'metrics', id } satisfies PrimaryMessage);
    });
  }

  /** Asks every process to close (its proxy drains as `ProxyHandle.close` does); kills those still up after 10 s. */
  async close(): Promise<void> {
    this.closing = true;
    const exits: Promise<unknown>[] = [];
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      const worker = slot.worker;
      if (!worker || worker.isDead()) continue;
      exits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), 10_000);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (worker.isConnected()) worker.send({ type: 'close' } satisfies PrimaryMessage);
          else worker.process.kill('SIGTERM');
        }),
      );
    }
    await Promise.all(exits);
  }
}

async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
