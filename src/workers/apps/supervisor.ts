import type { Readable } from 'node:stream';
import { scopeFilter } from '../../core/installation.ts';
import { appContainerName, containerLabels } from '../../core/naming.ts';
import { resolveResources } from '../../core/resources.ts';
import { publishEvent } from '../../events/stream.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { containerLogTail } from '../../docker/containers.ts';
import type { WorkerContext } from '../context.ts';
import { decideRestart, recentCrashes, type CrashPolicy } from './crash-policy.ts';
import { probeHttp, waitForHttp } from './health.ts';
import type { KeyedMutex } from '../keyed-mutex.ts';
import { createInstance, listensOnAppPort, slotOf, stopContainer } from './instances.ts';
import { planForRelease } from './release-plan.ts';

export interface SupervisorHandle {
  /** Forgets an app's crash history and cancels its pending restarts (after stop, restart, rollback). */
  reset(app: string): void;
  close(): Promise<void>;
}

interface Watched {
  app: string;
  /** Crash (or failed health check) times within the window. */
  crashes: number[];
  /** Consecutive failed health checks. */
  failedChecks: number;
  /** Set while a restart is scheduled or running: the container is out of the app's instances. */
  restart?: NodeJS.Timeout | 'running';
}

/**
 * Keeps the serving instances of this node's apps alive. Docker events (`die`, filtered on
 * Gasper's labels) report a crash at once; a periodic check catches what events cannot (an
 * instance that stops serving, a daemon restart, a container removed by hand) by inspecting each
 * instance and checking that it still listens on its port (quiet: no request reaches the app),
 * or GETting its health path when it has one. A failed instance leaves the proxy at once and is
 * restarted after a backoff (crash-policy.ts); one that crash-loops is given up on, and an app with no instance left is
 * `crashed`, with the last lines of the app's output in `lastError`. Works under the per-app
 * mutex, so it never races a deploy or an operation.
 */
export function startSupervisor(ctx: WorkerContext, perApp: KeyedMutex): SupervisorHandle {
  const { docker, options, log } = ctx;
  const lifecycle = options.lifecycle;
  const policy: CrashPolicy = {
    backoffMs: lifecycle.restartBackoffMs,
    backoffMaxMs: lifecycle.restartBackoffMaxMs,
    maxCrashes: lifecycle.crashLoopRestarts,
    windowMs: lifecycle.crashLoopWindowMs,
  };
  const watched = new Map<string, Watched>();
  let closed = false;
  let events: Readable | undefined;

  const entry = (app: string, container: string): Watched => {
    let w = watched.get(container);
    if (!w || w.app !== app) watched.set(container, (w = { app, crashes: [], failedChecks: 0 }));
    return w;
  };

  /**
   * An instance of the app's current release that crashed or failed its health checks. `id` is
   * the container a Docker event was about: by the time the event is handled (after the
   * operation holding the app's lock), a stop then a start may have created another container of
   * the same name, which did not crash.
   */
  async function recover(
    app: string,
    container: string,
    cause: 'exited' | 'unhealthy',
    afterRestart = false,
    id?: string,
  ): Promise<void> {
    if (watched.get(container)?.restart) return;
    await perApp.run(app, async () => {
      const doc = await ctx.apps.get(app);
      // A restart that failed concerns an instance already out of the app's list.
      const ours = afterRestart || doc?.instances.some((i) => i.container === container);
      if (closed || !doc || doc.status !== 'running' || !ours) return;
      const info = await docker
        .getContainer(container)
        .inspect()
        .catch(() => undefined);
      if (!info || info.Config.Labels?.[containerLabels.release] !== doc.release) return;
      if (id && info.Id !== id) return;
      // It runs: whatever exited is not this instance (a restart that never answered still counts).
      if (cause === 'exited' && !afterRestart && info.State.Running) return;
      const w = entry(app, container);
      if (w.restart) return;
      const now = Date.now();
      const decision = decideRestart(w.crashes, now, policy);
      w.crashes = [...recentCrashes(w.crashes, now, policy.windowMs), now];
      w.failedChecks = 0;
      const memoryMb = resolveResources(doc.resources, lifecycle.resources).memoryMb;
      const what = info.State.OOMKilled
        ? `was OOM-killed (out of memory: over its ${memoryMb} MiB limit)`
        : cause === 'unhealthy'
          ? `failed ${lifecycle.healthFailures} health checks in a row${doc.healthCheck?.path ? ` (GET ${doc.healthCheck.path})` : ''}`
          : `exited with code ${info.State.ExitCode}`;
      const instances = doc.instances.filter((i) => i.container !== container);
      let lastError: string;
      if (decision.action === 'give-up') {
        const tail = await containerLogTail(docker, container, 20).catch(() => []);
        lastError = `crash loop: instance ${container} ${what}; it failed ${decision.recentCrashes} times within ${Math.round(policy.windowMs / 1000)} s and is not restarted again. Last lines of its output:\n${tail.join('\n')}`;
      } else {
        lastError = `instance ${container} ${what}; restarting it in ${decision.delayMs} ms (failure ${decision.recentCrashes} of ${policy.maxCrashes} allowed within ${Math.round(policy.windowMs / 1000)} s)`;
      }
      log.warn({ app, container, cause, oom: info.State.OOMKilled, decision }, 'instance failed');
      const status = decision.action === 'give-up' && instances.length === 0 ? 'crashed' : 'running';
      await ctx.apps.update(app, (d) => (d.status !== 'running' ? undefined : { ...d, instances, status, lastError }));
      await publishEvent(ctx.redis, { type: 'app.instances', app, release: doc.release!, instances });
      if (decision.action === 'give-up') {
        watched.delete(container);
        await stopContainer(docker, container, lifecycle.stopTimeoutS);
        return;
      }
      w.restart = setTimeout(() => void restart(app, container, w), decision.delayMs);
    });
  }

  /** Starts the instance again and puts it back in the proxy once healthy. */
  async function restart(app: string, container: string, w: Watched): Promise<void> {
    w.restart = 'running';
    let failed = false;
    try {
      await perApp.run(app, async () => {
        const doc = await ctx.apps.get(app);
        if (closed || !doc || doc.status !== 'running') return;
        const c = docker.getContainer(container);
        let info = await c.inspect().catch(() => undefined);
        // Gone since it failed (removed by hand): created again, if it is one of the current release's.
        if (
          !info &&
          appContainerName(ctx.scope.installation, app, doc.release!, slotOf(container) ?? -1) === container
        ) {
          await createInstance(
            ctx,
            await planForRelease(ctx, doc, doc.release!, await ctx.records.get(app, doc.release!)),
            container,
          );
          info = await c.inspect();
        }
        if (!info || info.Config.Labels?.[containerLabels.release] !== doc.release) return;
        if (info.State.Running) await stopContainer(docker, container, lifecycle.stopTimeoutS);
        await c.start();
        const port = Number((await c.inspect()).NetworkSettings.Ports?.[`${doc.port}/tcp`]?.[0]?.HostPort);
        try {
          await waitForHttp({
            address: options.nodeAddress,
            port,
            timeoutMs: options.healthTimeoutMs,
            healthPath: doc.healthCheck?.path,
            stillRunning: async () => (await c.inspect()).State.Running,
          });
        } catch {
          failed = true;
          return;
        }
        const instance = { node: options.nodeId, address: options.nodeAddress, port, container };
        const updated = await ctx.apps.update(app, (d) =>
          d.status !== 'running' || d.release !== doc.release
            ? undefined
            : { ...d, instances: [...d.instances.filter((i) => i.container !== container), instance] },
        );
        if (updated?.instances.some((i) => i.container === container)) {
          await publishEvent(ctx.redis, {
            type: 'app.instances',
            app,
            release: updated.release!,
            instances: updated.instances,
          });
          log.info({ app, container, port }, 'instance restarted');
        }
      });
    } catch (err) {
      log.warn({ err, app, container }, 'restart failed');
      failed = true;
    } finally {
      w.restart = undefined;
    }
    // It died (or never answered) again: that is one more crash, decided on like the first.
    if (failed && !closed) await recover(app, container, 'exited', true);
  }

  /**
   * An instance whose container is gone (removed by hand, or lost with the daemon's data): it
   * leaves the proxy and is restarted, which creates it again from its release.
   */
  async function replaceMissing(app: string, container: string): Promise<void> {
    const w = entry(app, container);
    if (w.restart) return;
    let missing = false;
    await perApp.run(app, async () => {
      const doc = await ctx.apps.get(app);
      // Re-read under the app's lock: a deploy may have replaced the instance meanwhile.
      const mine = doc?.instances.some((i) => i.container === container && i.node === options.nodeId);
      if (closed || !doc || doc.status !== 'running' || !doc.release || !mine || w.restart) return;
      if (
        await docker
          .getContainer(container)
          .inspect()
          .then(
            () => true,
            () => false,
          )
      )
        return;
      const instances = doc.instances.filter((i) => i.container !== container);
      const lastError = `instance ${container} was removed outside Gasper; creating it again`;
      log.warn({ app, container }, 'instance container is missing: creating it again');
      await ctx.apps.update(app, (d) => (d.status !== 'running' ? undefined : { ...d, instances, lastError }));
      await publishEvent(ctx.redis, { type: 'app.instances', app, release: doc.release, instances });
      missing = true;
    });
    if (missing && !closed) await restart(app, container, w);
  }

  async function check(): Promise<void> {
    const apps = (await ctx.apps.list()).filter(
      (a) => a.status === 'running' && a.instances.some((i) => i.node === options.nodeId),
    );
    const serving = new Set(apps.flatMap((a) => a.instances.map((i) => i.container)));
    for (const [container, w] of watched) {
      if (!w.restart && !serving.has(container) && recentCrashes(w.crashes, Date.now(), policy.windowMs).length === 0)
        watched.delete(container);
    }
    await Promise.all(apps.map((doc) => checkApp(doc)));
  }

  async function checkApp(doc: AppDocument): Promise<void> {
    for (const instance of doc.instances.filter((i) => i.node === options.nodeId)) {
      const w = entry(doc.name, instance.container);
      if (w.restart) continue;
      // Failed checks are counted per container; old containers' entries go with the release.
      const info = await docker
        .getContainer(instance.container)
        .inspect()
        .catch((err: { statusCode?: number }) => (err.statusCode === 404 ? null : undefined));
      if (info === null) {
        void replaceMissing(doc.name, instance.container).catch((err) =>
          log.warn({ err, app: doc.name, container: instance.container }, 'cannot create a missing instance again'),
        );
        continue;
      }
      if (!info) continue;
      if (!info.State.Running) {
        void recover(doc.name, instance.container, 'exited');
        continue;
      }
      // The deploy checked HTTP; from then on the check is quiet (nothing in the app's logs)
      // unless the app has a health path: it still listens on its port.
      const healthy = doc.healthCheck?.path
        ? await probeHttp(instance.address, instance.port, 2000, doc.healthCheck.path)
        : ((await listensOnAppPort(info)) ?? (await probeHttp(instance.address, instance.port, 2000)));
      w.failedChecks = healthy ? 0 : w.failedChecks + 1;
      if (w.failedChecks >= lifecycle.healthFailures) void recover(doc.name, instance.container, 'unhealthy');
    }
  }

  async function followEvents(): Promise<void> {
    while (!closed) {
      try {
        const stream = (await docker.getEvents({
          filters: {
            type: ['container'],
            event: ['die'],
            label: scopeFilter(ctx.scope, { [containerLabels.role]: 'app' }),
          },
        })) as unknown as Readable;
        events = stream;
        let pending = '';
        await new Promise<void>((resolve) => {
          stream.on('data', (chunk: Buffer) => {
            const lines = (pending + chunk.toString('utf8')).split('\n');
            pending = lines.pop() ?? '';
            for (const line of lines) onEvent(line);
          });
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', resolve);
        });
      } catch (err) {
        if (!closed) log.warn({ err }, 'cannot follow Docker events; retrying');
      }
      if (!closed) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function onEvent(line: string): void {
    if (!line.trim()) return;
    try {
      const event = JSON.parse(line) as { Actor?: { ID?: string; Attributes?: Record<string, string> } };
      const attributes = event.Actor?.Attributes ?? {};
      const app = attributes[containerLabels.app];
      const name = attributes.name;
      if (app && name)
        void recover(app, name, 'exited', false, event.Actor?.ID).catch((err) =>
          log.warn({ err, app, name }, 'recovery failed'),
        );
    } catch {
      log.debug({ line }, 'ignoring unparsable Docker event');
    }
  }

  void followEvents();
  const timer = setInterval(
    () => void check().catch((err) => log.warn({ err }, 'health check round failed')),
    lifecycle.healthIntervalMs,
  );
  timer.unref();

  return {
    reset(app) {
      for (const [container, w] of watched) {
        if (w.app !== app) continue;
        if (w.restart && w.restart !== 'running') clearTimeout(w.restart);
        watched.delete(container);
      }
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const w of watched.values()) if (w.restart && w.restart !== 'running') clearTimeout(w.restart);
      events?.destroy();
    },
  };
}
