import fs from 'node:fs/promises';
import type { AppTransition } from '../../core/app-state.ts';
import type { Instance } from '../../events/schemas.ts';
import { removeContainer } from '../../docker/containers.ts';
import { heldCommand } from './launcher.ts';
import type { WorkerContext } from '../context.ts';
import { containersOutside, drainAndRemove, type InstancePlan, prepareInstances, startInstances } from './instances.ts';
import { type Rollout, switchTogether } from './rollout.ts';

/**
 * This node's share of a rollout, in the order every deploy and operation runs it:
 * prepare → start → switch → drain. `prepare` creates the plan's containers beside the serving
 * ones, `start` starts them and waits for their health check, `switch` meets the other nodes
 * (rollout.ts) and applies the transition once every share is healthy, `drain` retires every
 * other container of the app on this node. `discard` removes what `prepare` created, for a
 * rollout that failed or was abandoned. The deploy (deploy-app.ts) runs its clone and build
 * between `prepare` and `start`; restart, start and rollback (operate-app.ts) run the steps back
 * to back; the supervisor's restart reuses the start of one instance (instances.ts startInstance).
 * The object holds the prepared names, so no step shares a variable with another's closure.
 */
export class ShareRollout {
  #prepared: readonly string[] = [];
  #switched = false;

  constructor(
    private readonly ctx: WorkerContext,
    private plan: InstancePlan,
    /** Containers serving now: their slots are kept, the new ones take others. */
    private readonly serving: readonly string[],
    /**
     * The release's launch directory when its containers are to be started before the release is
     * ready (`startHeld`, launcher.ts heldCommand): the deploy's; restart, start and rollback run
     * a release that is ready.
     */
    private readonly holdIn?: string,
  ) {}

  /** Whether the app switched to this share's containers: they serve, and `discard` leaves them. */
  get switched(): boolean {
    return this.#switched;
  }

  /** The containers `prepare` created (empty before). */
  get containers(): readonly string[] {
    return this.#prepared;
  }

  async prepare(): Promise<readonly string[]> {
    // Made before the containers that mount it: Docker would make a missing one, owned by root.
    if (this.holdIn) await fs.mkdir(this.holdIn, { recursive: true, mode: 0o755 });
    const plan = this.holdIn
      ? { ...this.plan, command: heldCommand(this.plan.command), launchDir: this.holdIn }
      : this.plan;
    this.#prepared = await prepareInstances(this.ctx, plan, this.serving);
    return this.#prepared;
  }

  /**
   * Starts the prepared containers of a held share without waiting for anything: each waits for
   * its release to be marked ready (launcher.ts), then `start` probes it. One already running is fine.
   */
  async startHeld(): Promise<void> {
    if (!this.holdIn) return;
    await Promise.all(
      this.#prepared.map((name) =>
        this.ctx.docker
          .getContainer(name)
          .start()
          .catch((err: { statusCode?: number }) => {
            if (err.statusCode !== 304) throw err;
          }),
      ),
    );
  }

  /**
   * Prepares the containers again from another image (same names: they replace the first ones):
   * the runtime's version is known only once the repository is cloned (runtime-image.ts), while
   * the containers are prepared from the default version's image during the clone.
   */
  async prepareFrom(image: string): Promise<readonly string[]> {
    this.plan = { ...this.plan, image };
    return this.prepare();
  }

  /**
   * Changes the plan of the containers to prepare (app.json's env defaults and health check,
   * known once the repository is cloned); `prepare` (or `prepareFrom`) then replaces any prepared.
   */
  replan(plan: InstancePlan): void {
    this.plan = plan;
  }

  /** Starts the prepared containers; resolves once each passes the health check. */
  async start(): Promise<Instance[]> {
    return startInstances(this.ctx, this.plan, this.#prepared);
  }

  /**
   * Waits until every node's share is healthy, then applies `to(all instances)` (with the
   * `app.instances` event, store/app-state-writes.ts). Returns all the instances.
   */
  async switch(
    rollout: Rollout,
    mine: readonly Instance[],
    to: (all: Instance[]) => AppTransition,
  ): Promise<Instance[]> {
    const all = await switchTogether(this.ctx, rollout, mine, to);
    this.#switched = true;
    return all;
  }

  /**
   * Drains and removes every container of the app on this node but the new ones (and `keep`: the
   * release's containers of the other process types, started after the switch).
   */
  async drain(keep: readonly string[] = []): Promise<void> {
    await drainAndRemove(this.ctx, await containersOutside(this.ctx, this.plan.app, [...this.#prepared, ...keep]));
  }

  /**
   * Removes the prepared containers (a failed or abandoned rollout); harmless to repeat. After the
   * switch it removes nothing: those containers serve the app (a drain that failed is no reason
   * to take them out).
   */
  async discard(): Promise<void> {
    if (this.#switched) return;
    await Promise.allSettled(this.#prepared.map((name) => removeContainer(this.ctx.docker, name)));
  }
}
