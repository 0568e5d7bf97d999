import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { instanceLost, switched } from '../../../src/core/app-state.ts';
import { keys } from '../../../src/core/keys.ts';
import { createLogger } from '../../../src/core/log.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import { eventSchema, type Instance } from '../../../src/events/schemas.ts';
import type { AppDocument } from '../../../src/store/app-document.ts';
import { applyTransition } from '../../../src/store/app-state-writes.ts';
import { AppStore } from '../../../src/store/apps.ts';
import type { WorkerContext } from '../../../src/workers/context.ts';
import {
  announceCommit,
  announceReleased,
  awaitCommit,
  awaitReleased,
  failRollout,
  RolloutAbandoned,
  switchTogether as switchTo,
  type Rollout,
} from '../../../src/workers/apps/rollout.ts';
import { startTestRedis } from '../../support/redis.ts';

/** Two nodes' jobs meeting in Redis: the app switches once, when both shares are ready, or not at all. */
describe('rollouts over several nodes (real Redis)', function () {
  this.timeout(20_000);
  let redisServer: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let apps: AppStore;

  before(async () => {
    redisServer = await startTestRedis();
    redis = connectRedis(redisServer.url);
    apps = new AppStore(redis);
  });
  after(async () => {
    redis?.disconnect();
    await redisServer?.close();
  });

  const contextOf = (nodeId: string) =>
    ({ redis, apps, log: createLogger('silent'), options: { nodeId } }) as unknown as WorkerContext;
  const instance = (node: string, slot: number): Instance => ({
    node,
    address: '127.0.0.1',
    port: 30000 + slot,
    container: `gasper-x-r000002-${slot}`,
  });

  async function createApp(): Promise<{ name: string; rollout: Rollout; old: Instance[] }> {
    const name = `app-${crypto.randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const old = [instance('a', 90), instance('b', 91)];
    const doc: AppDocument = {
      name,
      uid: 'u1',
      owner: 'admin',
      repo: { url: 'https://example.com/x.git' },
      runtime: 'node',
      port: 8080,
      sealedEnv: {},
      node: 'a',
      placement: ['a', 'b'],
      status: 'running',
      release: 'r000001',
      pendingRelease: 'r000002',
      instances: old,
      createdAt: now,
      updatedAt: now,
    };
    expect(await apps.create(doc, 2)).to.equal(true);
    const rollout: Rollout = {
      app: name,
      id: 'deploy-r000002',
      nodes: ['a', 'b'],
      timeoutMs: 10_000,
      wanted: (d) => d.pendingRelease === 'r000002',
    };
    return { name, rollout, old };
  }

  /** Every rollout here is a deploy's: its switch is core/app-state.ts `switched`. */
  const switchTogether = (ctx: WorkerContext, rollout: Rollout, mine: Instance[]) =>
    switchTo(ctx, rollout, mine, (all) => switched(all, { release: 'r000002', endsPendingRelease: true }));

  const latestEvent = async (app: string) => {
    const raw = await redis.hget(keys.eventsLatest, `app:${app}`);
    return raw ? eventSchema.parse(JSON.parse(raw)) : undefined;
  };

  it('switches once every node is ready, to all their instances, and publishes them; a re-run finds it switched', async () => {
    const { name, rollout, old } = await createApp();
    const mineA = [instance('a', 0)];
    const mineB = [instance('b', 1)];
    const first = switchTogether(contextOf('a'), rollout, mineA);
    await new Promise((r) => setTimeout(r, 300));
    // Node a waits for b: nothing switched yet.
    expect((await apps.get(name))!.instances).to.deep.equal(old);
    const second = await switchTogether(contextOf('b'), rollout, mineB);
    expect(await first).to.deep.equal([...mineA, ...mineB]);
    expect(second).to.deep.equal([...mineA, ...mineB]);
    expect(await apps.get(name))
      .to.deep.include({ release: 'r000002', instances: [...mineA, ...mineB] })
      .and.not.have.property('pendingRelease');
    expect(await latestEvent(name)).to.deep.equal({
      type: 'app.instances',
      app: name,
      release: 'r000002',
      instances: [...mineA, ...mineB],
    });
    // A recovered job of node a joins again and finds the switch done.
    expect(await switchTogether(contextOf('a'), rollout, mineA)).to.deep.equal([...mineA, ...mineB]);
  });

  it('a node that reads the switch after an instance was lost still succeeds, and switches nothing again', async () => {
    for (const wanted of [
      // A deploy's rollout: the switch ended the pending release.
      undefined,
      // An operation's: it still wants the switch, which must not bring the lost instance back.
      () => true,
    ]) {
      const { name, rollout: deploy } = await createApp();
      const rollout = wanted ? { ...deploy, wanted } : deploy;
      const mineA = [instance('a', 0)];
      const mineB = [instance('b', 1)];
      // Node b's part is in, b is between two polls; node a arrives and switches.
      await redis.hset(keys.appRollout(name, rollout.id), 'node:b', JSON.stringify({ ready: mineB }));
      expect(await switchTogether(contextOf('a'), rollout, mineA)).to.deep.equal([...mineA, ...mineB]);
      // The supervisor on node a takes a's new instance out before b polls again.
      const lost = await applyTransition(
        redis,
        name,
        instanceLost('r000002', mineA[0]!.container, 'exited with code 1', false),
      );
      expect(lost.changed).to.equal(true);
      // Node b finds the rollout switched with its instances: it succeeds (its containers serve).
      expect(await switchTogether(contextOf('b'), rollout, mineB)).to.deep.equal([...mineA, ...mineB]);
      expect(await apps.get(name)).to.deep.include({
        release: 'r000002',
        instances: mineB,
        lastError: 'exited with code 1',
      });
      // Instances b wrote after the switch (a retry's new containers) were never switched to.
      const late = await switchTogether(contextOf('b'), rollout, [instance('b', 2)]).catch((e: unknown) => e);
      expect(late).to.be.instanceOf(RolloutAbandoned);
      expect((await apps.get(name))!.instances).to.deep.equal(mineB);
    }
  });

  it('a node that fails for good abandons the rollout on every node; the old instances keep serving', async () => {
    const { name, rollout, old } = await createApp();
    const waiting = switchTogether(contextOf('a'), rollout, [instance('a', 0)]).catch((err: unknown) => err);
    await failRollout(contextOf('b'), rollout, 'build failed: npm ERR! missing script: build');
    const err = await waiting;
    expect(err).to.be.instanceOf(RolloutAbandoned);
    expect((err as RolloutAbandoned).superseded).to.equal(false);
    expect((err as Error).message).to.equal('node b: build failed: npm ERR! missing script: build');
    expect(await apps.get(name)).to.deep.include({ release: 'r000001', instances: old });
  });

  it('a newer deploy supersedes a rollout still waiting', async () => {
    const { name, rollout } = await createApp();
    const waiting = switchTogether(contextOf('a'), rollout, [instance('a', 0)]).catch((err: unknown) => err);
    await apps.update(name, (d) => ({ ...d, pendingRelease: 'r000003' }));
    const err = await waiting;
    expect(err).to.be.instanceOf(RolloutAbandoned);
    expect((err as RolloutAbandoned).superseded).to.equal(true);
    // Node b arriving later learns it at once.
    const late = await switchTogether(contextOf('b'), rollout, [instance('b', 1)]).catch((e: unknown) => e);
    expect(late).to.be.instanceOf(RolloutAbandoned);
  });

  it('gives up after its time when a node never reports, naming what it waited for', async () => {
    const { name, rollout, old } = await createApp();
    const err = await switchTogether(contextOf('a'), { ...rollout, timeoutMs: 300 }, [instance('a', 0)]).catch(
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RolloutAbandoned);
    expect((err as Error).message).to.match(/gave up waiting 0 s for the other nodes' instances/);
    expect((await apps.get(name))!.instances).to.deep.equal(old);
  });

  it('the other nodes deploy the commit the primary cloned', async () => {
    const { rollout } = await createApp();
    const commit = 'f'.repeat(40);
    const waiting = awaitCommit(contextOf('b'), rollout);
    await new Promise((r) => setTimeout(r, 150));
    await announceCommit(contextOf('a'), rollout, commit);
    await announceCommit(contextOf('a'), rollout, 'e'.repeat(40)); // a re-run does not change it
    expect(await waiting).to.equal(commit);
    expect(await awaitCommit(contextOf('c'), rollout)).to.equal(commit);
  });
  it('the other nodes start only once the primary’s release phase succeeded, and stop waiting when it failed', async () => {
    const { rollout } = await createApp();
    let released = false;
    const waiting = awaitReleased(contextOf('b'), rollout).then(() => {
      released = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(released).to.equal(false);
    await announceReleased(contextOf('a'), rollout);
    await waiting;
    expect(released).to.equal(true);

    const failing = await createApp();
    const abandoned = awaitReleased(contextOf('b'), failing.rollout).catch((err: unknown) => err);
    await failRollout(contextOf('a'), failing.rollout, 'release phase (./migrate) exited with code 1');
    const err = await abandoned;
    expect(err).to.be.instanceOf(RolloutAbandoned);
    expect((err as Error).message).to.match(/node a: release phase \(\.\/migrate\) exited with code 1/);
  });

  it('waits for the release phase the rollout time plus the release command’s time limit', async () => {
    const { rollout } = await createApp();
    const short = { ...rollout, timeoutMs: 200 };
    let released = false;
    const waiting = awaitReleased(contextOf('b'), short, 800).then(() => {
      released = true;
    });
    // Past the rollout's own time, within the release phase's: still waiting, not abandoned.
    await new Promise((r) => setTimeout(r, 500));
    expect(released).to.equal(false);
    await announceReleased(contextOf('a'), short);
    await waiting;
    expect(released).to.equal(true);

    const never = await createApp();
    const started = Date.now();
    const err = await awaitReleased(contextOf('b'), { ...never.rollout, timeoutMs: 200 }, 300).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RolloutAbandoned);
    expect((err as Error).message).to.match(/gave up waiting 1 s for the primary node's release phase/);
    expect(Date.now() - started).to.be.at.least(500);
  });
});
