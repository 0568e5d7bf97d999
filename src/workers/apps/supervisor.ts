import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { instanceBack, instanceLost } from '../../core/app-state.ts';
import type { Instance } from '../../events/schemas.ts';
import { scopeFilter } from '../../core/installation.ts';
import { appContainerName, containerLabels } from '../../core/naming.ts';
import { resolveResources } from '../../core/resources.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import { containerLogTail } from '../../docker/containers.ts';
import type { WorkerContext } from '../context.ts';
import { decideRestart, lossMessage, recentCrashes, type CrashPolicy } from './crash-policy.ts';
import { probeHttp } from './health.ts';
import type { KeyedMutex } from '../keyed-mutex.ts';
import {
  createInstance,
  InstanceStartError,
  listensOnAppPort,
  slotOf,
  startInstance,
  startProcess,
  stopContainer,
} from './instances.ts';
import { planForRelease } from './release-plan.ts';
import { isWeb, webProcess } from '../../core/formation.ts';
import { releaseProcesses } from './process-rollout.ts';

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

type Cause = 'exited' | 'unhealthy';

/**
 * Keeps the serving instances of this node's apps alive. Docker events (`die`, filtered on
 * Gasper's labels) report a crash at once; a periodic check catches what events cannot (an
 * instance that stops serving, a daemon restart, a container removed by hand) by inspecting each
 * instance and checking that it still listens on its port (quiet: no request reaches the app),
 * or GETting its health path when it has one. A failed instance leaves the proxy at once and is
 * restarted after a backoff (crash-policy.ts); one that crash-loops is given up on, and an app with no instance left is
 * `crashed`, with the last lines of the app's output in `lastError`. Works under the per-app
 * mutex, so it never races a deploy or an operation. Every change of the app goes through its
 * transitions (core/app-state.ts `instanceLost`, `instanceBack`), applied to the document as it
 * is at the write, so a change made meanwhile by another node is kept.
 */
export function startSupervisor(ctx: WorkerContext, perApp: KeyedMutex): SupervisorHandle {
  const supervisor = new Supervisor(ctx, perApp);
  supervisor.start();
  return supervisor;
}

/** The supervisor's steps: follow Docker events, check on a timer, recover, restart, replace. */
class Supervisor implements SupervisorHandle {
  readonly #watched = new Map<string, Watched>();
  readonly #policy: CrashPolicy;
  #closed = false;
  #events: Readable | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly perApp: KeyedMutex,
  ) {
    const lifecycle = ctx.options.lifecycle;
    this.#policy = {
      backoffMs: lifecycle.restartBackoffMs,
      backoffMaxMs: lifecycle.restartBackoffMaxMs,
      maxCrashes: lifecycle.crashLoopRestarts,
      windowMs: lifecycle.crashLoopWindowMs,
    };
  }

  start(): void {
    void this.followEvents();
    this.#timer = setInterval(
      () => void this.check().catch((err) => this.ctx.log.warn({ err }, 'health check round failed')),
      this.ctx.options.lifecycle.healthIntervalMs,
    );
    this.#timer.unref();
  }

  reset(app: string): void {
    for (const [container, w] of this.#watched) {
      if (w.app !== app) continue;
      if (w.restart && w.restart !== 'running') clearTimeout(w.restart);
      this.#watched.delete(container);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const w of this.#watched.values()) if (w.restart && w.restart !== 'running') clearTimeout(w.restart);
    this.#events?.destroy();
  }

  private entry(app: string, container: string): Watched {
    const known = this.#watched.get(container);
    if (known && known.app === app) return known;
    const fresh: Watched = { app, crashes: [], failedChecks: 0 };
    this.#watched.set(container, fresh);
    return fresh;
  }

  /**
   * An instance of the app's current release that crashed or failed its health checks: it leaves
   * the proxy, and is restarted after a backoff or given up on. `id` is the container a Docker
   * event was about: by the time the event is handled (after the operation holding the app's
   * lock), a stop then a start may have created another container of the same name, which did
   * not crash.
   */
  async recover(app: string, container: string, cause: Cause, afterRestart = false, id?: string): Promise<void> {
    if (this.#watched.get(container)?.restart) return;
    await this.perApp.run(app, async () => {
      const failed = await this.confirmFailure(app, container, cause, afterRestart, id);
      if (!failed) return;
      const w = this.entry(app, container);
      if (w.restart) return;
      const now = Date.now();
      const decision = decideRestart(w.crashes, now, this.#policy);
      w.crashes = [...recentCrashes(w.crashes, now, this.#policy.windowMs), now];
      w.failedChecks = 0;
      const givenUp = decision.action === 'give-up';
      const tail = givenUp ? await containerLogTail(this.ctx.docker, container, 20).catch(() => []) : [];
      const what = this.whatHappened(failed.doc, failed.info, cause);
      const message = lossMessage(container, what, decision, this.#policy, tail);
      this.ctx.log.warn({ app, container, cause, oom: failed.info.State.OOMKilled, decision }, 'instance failed');
      // The release the instance belongs to: if a rollout on another node switched the app to a
      // newer one meanwhile, this failure is not the newer release's and changes nothing.
      const release = failed.info.Config.Labels?.[containerLabels.release] ?? '';
      await applyTransition(this.ctx.redis, app, instanceLost(release, container, message, givenUp));
      if (givenUp) {
        this.#watched.delete(container);
        await stopContainer(this.ctx.docker, container, this.ctx.options.lifecycle.stopTimeoutS);
        return;
      }
      w.restart = setTimeout(() => void this.restart(app, container, w), decision.delayMs);
    });
  }

  /** The app and the container, when the failure is real and concerns an instance of its current release. */
  private async confirmFailure(
    app: string,
    container: string,
    cause: Cause,
    afterRestart: boolean,
    id: string | undefined,
  ): Promise<{ doc: AppDocument; info: Docker.ContainerInspectInfo } | undefined> {
    const doc = await this.ctx.apps.get(app);
    // A restart that failed concerns an instance already out of the app's list.
    const ours = afterRestart || doc?.instances.some((i) => i.container === container);
    if (this.#closed || !doc || doc.status !== 'running' || !ours) return undefined;
    const info = await this.ctx.docker
      .getContainer(container)
      .inspect()
      .catch(() => undefined);
    if (!info || info.Config.Labels?.[containerLabels.release] !== doc.release) return undefined;
    if (id && info.Id !== id) return undefined;
    // It runs: whatever exited is not this instance (a restart that never answered still counts).
    if (cause === 'exited' && !afterRestart && info.State.Running) return undefined;
    return { doc, info };
  }

  private whatHappened(doc: AppDocument, info: Docker.ContainerInspectInfo, cause: Cause): string {
    const lifecycle = this.ctx.options.lifecycle;
    const memoryMb = resolveResources(doc.resources, lifecycle.resources).memoryMb;
    if (info.State.OOMKilled) return `was OOM-killed (out of memory: over its ${memoryMb} MiB limit)`;
    if (cause === 'unhealthy')
      return `failed ${lifecycle.healthFailures} health checks in a row${doc.healthCheck?.path ? ` (GET ${doc.healthCheck.path})` : ''}`;
    return `exited with code ${info.State.ExitCode}`;
  }

  /** Starts the instance again and puts it back in the proxy once healthy; a failure is one more crash. */
  private async restart(app: string, container: string, w: Watched): Promise<void> {
    w.restart = 'running';
    let outcome: 'back' | 'failed' | 'not-needed';
    try {
      outcome = await this.perApp.run(app, () => this.startAgain(app, container));
    } catch (err) {
      this.ctx.log.warn({ err, app, container }, 'restart failed');
      outcome = 'failed';
    } finally {
      w.restart = undefined;
    }
    // It died (or never answered) again: that is one more crash, decided on like the first.
    if (outcome === 'failed' && !this.#closed) await this.recover(app, container, 'exited', true);
  }

  private async startAgain(app: string, container: string): Promise<'back' | 'failed' | 'not-needed'> {
    const { ctx } = this;
    const doc = await ctx.apps.get(app);
    if (this.#closed || !doc || doc.status !== 'running' || !doc.release) return 'not-needed';
    const c = ctx.docker.getContainer(container);
    let info = await c.inspect().catch(() => undefined);
    // Gone since it failed (removed by hand): created again, if it is one of the current release's.
    if (!info) {
      const record = await ctx.records.get(app, doc.release);
      const plan = await planForRelease(ctx, doc, doc.release, record);
      const commands = releaseProcesses(record, plan);
      const slot = slotOf(container) ?? -1;
      const type = Object.keys(commands).find(
        (t) => appContainerName(ctx.scope.installation, app, doc.release!, slot, t) === container,
      );
      if (type === undefined) return 'not-needed';
      await createInstance(
        ctx,
        type === webProcess ? plan : { ...plan, process: type, command: commands[type]!, launchDir: undefined },
        container,
      );
      info = await c.inspect();
    }
    if (!info || info.Config.Labels?.[containerLabels.release] !== doc.release) return 'not-needed';
    if (info.State.Running) await stopContainer(ctx.docker, container, ctx.options.lifecycle.stopTimeoutS);
    const type = info.Config.Labels?.[containerLabels.process] ?? webProcess;
    let instance: Instance;
    try {
      instance =
        type === webProcess
          ? await startInstance(ctx, container, {
              port: doc.port,
              healthPath: doc.healthCheck?.path,
              memoryMb: resolveResources(doc.resources, ctx.options.lifecycle.resources).memoryMb,
            })
          : await startProcess(ctx, container, type);
    } catch (err) {
      if (err instanceof InstanceStartError) return 'failed';
      throw err;
    }
    const { doc: updated } = await applyTransition(ctx.redis, app, instanceBack(doc.release, instance));
    if (updated?.instances.some((i) => i.container === container))
      ctx.log.info({ app, container, port: instance.port }, 'instance restarted');
    return 'back';
  }

  /**
   * An instance whose container is gone (removed by hand, or lost with the daemon's data): it
   * leaves the proxy and is restarted, which creates it again from its release.
   */
  private async replaceMissing(app: string, container: string): Promise<void> {
    const w = this.entry(app, container);
    if (w.restart) return;
    const missing = await this.perApp.run(app, async () => {
      const doc = await this.ctx.apps.get(app);
      // Re-read under the app's lock: a deploy may have replaced the instance meanwhile.
      const mine = doc?.instances.some((i) => i.container === container && i.node === this.ctx.options.nodeId);
      if (this.#closed || !doc || doc.status !== 'running' || !doc.release || !mine || w.restart) return false;
      const exists = await this.ctx.docker
        .getContainer(container)
        .inspect()
        .then(
          () => true,
          () => false,
        );
      if (exists) return false;
      this.ctx.log.warn({ app, container }, 'instance container is missing: creating it again');
      const message = `instance ${container} was removed outside Gasper; creating it again`;
      await applyTransition(this.ctx.redis, app, instanceLost(doc.release, container, message, false));
      return true;
    });
    if (missing && !this.#closed) await this.restart(app, container, w);
  }

  /** The periodic round: every running app with instances on this node. */
  private async check(): Promise<void> {
    const node = this.ctx.options.nodeId;
    const apps = (await this.ctx.apps.list()).filter(
      (a) => a.status === 'running' && a.instances.some((i) => i.node === node),
    );
    const serving = new Set(apps.flatMap((a) => a.instances.map((i) => i.container)));
    for (const [container, w] of this.#watched) {
      if (
        !w.restart &&
        !serving.has(container) &&
        recentCrashes(w.crashes, Date.now(), this.#policy.windowMs).length === 0
      )
        this.#watched.delete(container);
    }
    await Promise.all(apps.map((doc) => this.checkApp(doc)));
  }

  private async checkApp(doc: AppDocument): Promise<void> {
    const { docker, log, options } = this.ctx;
    for (const instance of doc.instances.filter((i) => i.node === options.nodeId)) {
      const w = this.entry(doc.name, instance.container);
      if (w.restart) continue;
      // Failed checks are counted per container; old containers' entries go with the release.
      const info = await docker
        .getContainer(instance.container)
        .inspect()
        .catch((err: { statusCode?: number }) => (err.statusCode === 404 ? null : undefined));
      if (info === null) {
        void this.replaceMissing(doc.name, instance.container).catch((err) =>
          log.warn({ err, app: doc.name, container: instance.container }, 'cannot create a missing instance again'),
        );
        continue;
      }
      if (!info) continue;
      if (!info.State.Running) {
        void this.recover(doc.name, instance.container, 'exited');
        continue;
      }
      // A process type other than web has no port: it is healthy while it runs.
      if (!isWeb(instance)) continue;
      // The deploy checked HTTP; from then on the check is quiet (nothing in the app's logs)
      // unless the app has a health path: it still listens on its port.
      const healthy = doc.healthCheck?.path
        ? await probeHttp(instance.address, instance.port, 2000, doc.healthCheck.path)
        : ((await listensOnAppPort(info)) ?? (await probeHttp(instance.address, instance.port, 2000)));
      w.failedChecks = healthy ? 0 : w.failedChecks + 1;
      if (w.failedChecks >= options.lifecycle.healthFailures)
        void this.recover(doc.name, instance.container, 'unhealthy');
    }
  }

  /** Docker's `die` events of this installation's app containers, followed again after a break. */
  private async followEvents(): Promise<void> {
    const { docker, log } = this.ctx;
    while (!this.#closed) {
      try {
        const stream = (await docker.getEvents({
          filters: {
            type: ['container'],
            event: ['die'],
            label: scopeFilter(this.ctx.scope, { [containerLabels.role]: 'app' }),
          },
        })) as unknown as Readable;
        this.#events = stream;
        let pending = '';
        await new Promise<void>((resolve) => {
          stream.on('data', (chunk: Buffer) => {
            const lines = (pending + chunk.toString('utf8')).split('\n');
            pending = lines.pop() ?? '';
            for (const line of lines) this.onDockerEvent(line);
          });
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', resolve);
        });
      } catch (err) {
        if (!this.#closed) log.warn({ err }, 'cannot follow Docker events; retrying');
      }
      if (!this.#closed) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private onDockerEvent(line: string): void {
    if (!line.trim()) return;
    try {
      const event = JSON.parse(line) as { Actor?: { ID?: string; Attributes?: Record<string, string> } };
      const attributes = event.Actor?.Attributes ?? {};
      const app = attributes[containerLabels.app];
      const name = attributes.name;
      if (app && name)
        void this.recover(app, name, 'exited', false, event.Actor?.ID).catch((err) =>
          this.ctx.log.warn({ err, app, name }, 'recovery failed'),
        );
    } catch {
      this.ctx.log.debug({ line }, 'ignoring unparsable Docker event');
    }
  }
}
