import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { scopeFilter, type DockerScope } from '../../core/installation.ts';
import type { Logger } from '../../core/log.ts';
import { containerLabels } from '../../core/naming.ts';
import type { AppLogStore } from '../../store/app-logs.ts';
import { followContainerLogs } from './container-logs.ts';
import { LineBuffer } from './log-lines.ts';

export interface LogCollectorOptions {
  /** Whose containers to observe: this installation's, on this node. */
  scope: DockerScope;
  /** How often running containers are listed, to catch any a missed event would hide. Default 30 s. */
  resyncMs?: number;
}

export interface LogCollectorDeps {
  docker: Docker;
  store: AppLogStore;
  log: Logger;
}

export interface LogCollectorHandle {
  /** Ids of the containers whose output is being followed. */
  following(): string[];
  /** Lists running containers now and follows any not followed yet. */
  resync(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FollowEntry {
  output?: Readable;
  done: Promise<void>;
  /** Follow again when this one ends (the container started again meanwhile). */
  again: boolean;
}

/** A Docker event as the collector reads it (older daemons say `status`, newer `Action`). */
interface ContainerEvent {
  status?: string;
  Action?: string;
  id?: string;
  Actor?: { Attributes?: Record<string, string> };
}

/**
 * Follows the output of this node's app containers into each app's log stream in Redis. It
 * finds them by Gasper's labels, from Docker events (a container starts: follow it) and a
 * periodic resync, so it does not depend on how or when the deploy pipeline creates them.
 * Each container is followed by `followContainerLogs` (container-logs.ts), which resumes where
 * the last follow stopped.
 */
class LogCollector implements LogCollectorHandle {
  private readonly log: Logger;
  private readonly labelFilter: string[];
  private readonly followed = new Map<string, FollowEntry>();
  private closing = false;
  private events: Readable | undefined;
  private watching: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly options: LogCollectorOptions,
    private readonly deps: LogCollectorDeps,
  ) {
    this.log = deps.log.child({ component: 'log-collector' });
    this.labelFilter = scopeFilter(options.scope);
  }

  /** Starts watching Docker's events and the periodic resync. */
  start(): this {
    this.watching = this.watchEvents();
    this.timer = setInterval(() => {
      this.resync().catch((err) => this.log.warn({ err: (err as Error).message }, 'log resync failed'));
    }, this.options.resyncMs ?? 30_000);
    this.timer.unref();
    return this;
  }

  following(): string[] {
    return [...this.followed].filter(([, entry]) => entry.output).map(([id]) => id);
  }

  async resync(): Promise<void> {
    const running = await this.deps.docker.listContainers({
      filters: { label: [...this.labelFilter, `${containerLabels.role}=app`], status: ['running'] },
    });
    for (const container of running) this.follow(container.Id);
  }

  /**
   * Follows a container until its output ends (it stopped). A call while it is followed only
   * asks for another follow once this one ends: a container Docker restarts emits `start` while
   * the follow of its previous run may still be draining.
   */
  private follow(id: string): void {
    if (this.closing) return;
    const current = this.followed.get(id);
    if (current) {
      current.again = true;
      return;
    }
    const entry: FollowEntry = { done: Promise.resolve(), again: false };
    this.followed.set(id, entry);
    const opened = (output: Readable) => {
      entry.output = output;
      if (this.closing) output.destroy();
    };
    entry.done = followContainerLogs(id, this.deps, opened)
      .catch((err) => {
        if ((err as { statusCode?: number }).statusCode !== 404)
          this.log.warn({ err: (err as Error).message, container: id }, 'cannot follow container output');
      })
      .finally(() => {
        this.followed.delete(id);
        if (entry.again) this.follow(id);
      });
  }

  /** Keeps an event stream open until closed, opening a new one a second after one fails. */
  private async watchEvents(): Promise<void> {
    while (!this.closing) {
      try {
        await this.readEvents(await this.openEvents());
      } catch (err) {
        if (!this.closing) this.log.warn({ err: (err as Error).message }, 'docker event stream failed; reconnecting');
      }
      if (!this.closing) await sleep(1000);
    }
  }

  /** Container starts and removals of this installation; whatever started before it opened is found by a resync. */
  private async openEvents(): Promise<Readable> {
    const stream = (await this.deps.docker.getEvents({
      filters: { type: ['container'], event: ['start', 'destroy'], label: this.labelFilter },
    })) as unknown as Readable;
    this.events = stream;
    if (this.closing) stream.destroy();
    await this.resync();
    return stream;
  }

  private async readEvents(stream: Readable): Promise<void> {
    // Events are small JSON lines; the bound only keeps a broken stream from growing one without end.
    const buffer = new LineBuffer(1024 * 1024);
    stream.setEncoding('utf8');
    for await (const chunk of stream) {
      for (const line of buffer.push(chunk as string)) {
        let event: ContainerEvent;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        await this.onEvent(event);
      }
    }
  }

  /** A start is followed; a removal forgets the container's resume point. */
  private async onEvent(event: ContainerEvent): Promise<void> {
    const action = event.Action ?? event.status;
    if (action === 'start' && event.id) this.follow(event.id);
    const app = event.Actor?.Attributes?.[containerLabels.app];
    if (action === 'destroy' && event.id && app) await this.deps.store.forgetContainer(app, event.id).catch(() => {});
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      clearInterval(this.timer);
      this.events?.destroy();
      for (const entry of this.followed.values()) entry.output?.destroy();
      await Promise.allSettled([this.watching, ...[...this.followed.values()].map((e) => e.done)]);
    })();
    return this.closed;
  }
}

/** Starts the collector (see LogCollector); `close()` ends every follow and may be called twice. */
export function startLogCollector(options: LogCollectorOptions, deps: LogCollectorDeps): LogCollectorHandle {
  return new LogCollector(options, deps).start();
}
