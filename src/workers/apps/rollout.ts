import { z } from 'zod';
import { sameInstances } from '../../core/app-placement.ts';
import { isWeb } from '../../core/formation.ts';
import { type AppTransition, onlyIf } from '../../core/app-state.ts';
import { keys } from '../../core/keys.ts';
import { instanceSchema, type Instance } from '../../events/schemas.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import type { WorkerContext } from '../context.ts';

/**
 * One rollout of an app over the nodes it is placed on: each node's job starts its share of the
 * instances, and traffic switches once, when every share is healthy, so the app never serves a
 * mix of the old and the new release, and a failure on one node leaves the old release serving
 * everywhere. The nodes meet in a Redis hash (keys.appRollout): each writes its part, and the
 * first to see every part ready applies the switch (document and event in one write). Every step is
 * safe to repeat, so a retried or recovered job rejoins the rollout where it is.
 */
export interface Rollout {
  app: string;
  /** Names the rollout on every node: `deploy-<release>` or `op-<seq>`. */
  id: string;
  /** The nodes taking part, the primary first. */
  nodes: readonly string[];
  /** Whether the document still asks for this rollout (a newer deploy supersedes an older one). */
  wanted(doc: AppDocument): boolean;
  /** How long a node waits for the others before the rollout is abandoned. */
  timeoutMs: number;
}

const partSchema = z.union([z.object({ ready: z.array(instanceSchema) }), z.object({ failed: z.string() })]);
const outcomeSchema = z.union([
  // `instances`: what the app switched to (absent in outcomes written before it was recorded).
  z.object({ switched: z.literal(true), instances: z.array(instanceSchema).optional() }),
  z.object({ abandoned: z.string(), superseded: z.boolean() }),
]);
type Outcome = z.infer<typeof outcomeSchema>;

/** The rollout ended without switching; `superseded` when a newer deploy (or a deletion) replaced it. */
export class RolloutAbandoned extends Error {
  constructor(
    message: string,
    readonly superseded: boolean,
  ) {
    super(message);
    this.name = 'RolloutAbandoned';
  }
}

const retentionS = 24 * 3600;
const pollMs = 100;
/** How often a waiting node re-reads the app, to notice a newer deploy or a deletion. */
const wantedCheckMs = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function keyOf(rollout: Pick<Rollout, 'app' | 'id'>): string {
  return keys.appRollout(rollout.app, rollout.id);
}

async function write(
  ctx: WorkerContext,
  rollout: Pick<Rollout, 'app' | 'id'>,
  field: string,
  value: unknown,
  onlyFirst = false,
): Promise<void> {
  const key = keyOf(rollout);
  const multi = ctx.redis.multi();
  if (onlyFirst) multi.hsetnx(key, field, JSON.stringify(value));
  else multi.hset(key, field, JSON.stringify(value));
  await multi.expire(key, retentionS).exec();
}

/** Ends the rollout for every node; the first outcome written is the one that stands. */
export async function abandonRollout(
  ctx: WorkerContext,
  rollout: Pick<Rollout, 'app' | 'id'>,
  reason: string,
  superseded = false,
): Promise<void> {
  await write(ctx, rollout, 'outcome', { abandoned: reason, superseded } satisfies Outcome, true);
}

/**
 * The commit every node deploys: the primary clones the branch head and announces what it got;
 * the others clone exactly that, so a push landing mid-deploy cannot split the app over two commits.
 */
export async function announceCommit(
  ctx: WorkerContext,
  rollout: Pick<Rollout, 'app' | 'id'>,
  commit: string,
): Promise<void> {
  await write(ctx, rollout, 'commit', commit, true);
}

export async function awaitCommit(ctx: WorkerContext, rollout: Rollout): Promise<string> {
  return waitFor(
    ctx,
    rollout,
    async (all) => (all.commit ? (JSON.parse(all.commit) as string) : undefined),
    'the primary node to clone the repository',
  );
}

/**
 * The release phase (release-phase.ts) ran on the primary node and succeeded: the other nodes,
 * waiting in `awaitReleased`, may start their instances. A failed release phase abandons the
 * rollout instead (failRollout), which ends their wait.
 */
export async function announceReleased(ctx: WorkerContext, rollout: Pick<Rollout, 'app' | 'id'>): Promise<void> {
  await write(ctx, rollout, 'released', true, true);
}

/**
 * Waits for `announceReleased`. The rollout's time (build + health + slack) does not cover the
 * release phase, which may run for `releaseTimeoutMs` (GASPER_RUN_TIMEOUT_S): this wait adds it.
 */
export async function awaitReleased(ctx: WorkerContext, rollout: Rollout, releaseTimeoutMs = 0): Promise<void> {
  await waitFor(
    ctx,
    { ...rollout, timeoutMs: rollout.timeoutMs + releaseTimeoutMs },
    async (all) => (all.released ? true : undefined),
    "the primary node's release phase",
  );
}

/**
 * Records this node's ready instances and waits until every node's are: then the app switches to
 * all of them at once, by the transition `to(instances)` (core/app-state.ts `switched`), which
 * stores the document and appends the `app.instances` event in one write. Returns them; throws
 * RolloutAbandoned when another node failed, the wait timed out, or the app no longer wants it.
 */
export async function switchTogether(
  ctx: WorkerContext,
  rollout: Rollout,
  mine: readonly Instance[],
  to: (instances: Instance[]) => AppTransition,
): Promise<Instance[]> {
  await write(ctx, rollout, `node:${ctx.options.nodeId}`, { ready: mine });
  return waitFor(
    ctx,
    rollout,
    async (all, outcome) => {
      if (outcome?.instances) {
        // Switched already (by another node, or by this one before a retry): the outcome says to
        // what. The document is not compared, nor switched again: a supervisor may have taken an
        // instance out meanwhile, and this node's instances serve all the same.
        return includesAll(outcome.instances, mine) ? outcome.instances : undefined;
      }
      const parts = rollout.nodes.map((node) => ({
        node,
        part: all[`node:${node}`] ? partSchema.parse(JSON.parse(all[`node:${node}`]!)) : undefined,
      }));
      const failed = parts.find((p) => p.part && 'failed' in p.part);
      if (failed) {
        await abandonRollout(ctx, rollout, `node ${failed.node}: ${(failed.part as { failed: string }).failed}`);
        return undefined;
      }
      if (!parts.every((p) => p.part)) return undefined;
      const instances = parts.flatMap((p) => (p.part as { ready: Instance[] }).ready);
      // A node that finds it already switched (by another node, or by itself before a retry) changes nothing.
      const { doc } = await applyTransition(ctx.redis, rollout.app, onlyIf(rollout.wanted, to(instances)));
      if (!doc || !sameInstances(doc.instances.filter(isWeb), instances)) {
        await abandonRollout(
          ctx,
          rollout,
          doc ? 'a newer deploy or operation replaced this one' : 'the app was deleted',
          true,
        );
        return undefined;
      }
      await write(ctx, rollout, 'outcome', { switched: true, instances } satisfies Outcome, true);
      return instances;
    },
    "the other nodes' instances",
  );
}

/** Whether every one of `mine` is among `instances` (same node and container). */
function includesAll(instances: readonly Instance[], mine: readonly Instance[]): boolean {
  const key = (i: Instance) => `${i.node}/${i.container}`;
  const switchedTo = new Set(instances.map(key));
  return mine.every((i) => switchedTo.has(key(i)));
}

/**
 * Polls the rollout's hash until `ready` answers, the outcome says it was abandoned, or the time
 * is up (then abandons it). A switched outcome read by a node that did not switch itself passes
 * to `ready` too, which returns what was switched to if this node's instances are among them.
 */
async function waitFor<T>(
  ctx: WorkerContext,
  rollout: Rollout,
  ready: (all: Record<string, string>, switched?: Extract<Outcome, { switched: true }>) => Promise<T | undefined>,
  what: string,
): Promise<T> {
  const deadline = Date.now() + rollout.timeoutMs;
  let nextWantedCheck = Date.now() + wantedCheckMs;
  for (;;) {
    const all = await ctx.redis.hgetall(keyOf(rollout));
    const outcome = all.outcome ? outcomeSchema.parse(JSON.parse(all.outcome)) : undefined;
    if (outcome && 'abandoned' in outcome) throw new RolloutAbandoned(outcome.abandoned, outcome.superseded);
    const value = await ready(all, outcome);
    if (value !== undefined) return value;
    // Switched without this node's current part (it was written again after the switch).
    if (outcome) throw new RolloutAbandoned('the app switched without these instances', true);
    if (Date.now() >= deadline) {
      await abandonRollout(ctx, rollout, `gave up waiting ${Math.round(rollout.timeoutMs / 1000)} s for ${what}`);
      continue;
    }
    if (Date.now() >= nextWantedCheck) {
      nextWantedCheck = Date.now() + wantedCheckMs;
      const doc = await ctx.apps.get(rollout.app);
      if (!doc || !rollout.wanted(doc))
        await abandonRollout(
          ctx,
          rollout,
          doc ? 'a newer deploy or operation replaced this one' : 'the app was deleted',
          true,
        );
      continue;
    }
    await sleep(pollMs);
  }
}

/** Records that this node's part failed for good: the rollout is abandoned on every node. */
export async function failRollout(
  ctx: WorkerContext,
  rollout: Pick<Rollout, 'app' | 'id'>,
  message: string,
): Promise<void> {
  await write(ctx, rollout, `node:${ctx.options.nodeId}`, { failed: message });
  await abandonRollout(ctx, rollout, `node ${ctx.options.nodeId}: ${message}`);
}
