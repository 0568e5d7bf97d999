import { expect } from 'chai';
import { databaseStaysReason, describeNodeDown, nodeCondition } from '../../src/core/node-condition.ts';
import { planFailover, type AppPlacement } from '../../src/jobs/failover-plan.ts';

const node = { id: 'b', heartbeatAt: '2024-06-01T12:00:00.000Z' };
const down = 'node b is down (no heartbeat since 2024-06-01T12:00:00.000Z)';
const app = (over: Partial<AppPlacement> = {}): AppPlacement => ({
  uid: 'u1',
  node: 'a',
  status: 'running',
  lastJob: 'deploy-blog-u1-r000002',
  ...over,
});
const deploy = {
  id: 'deploy-blog-u1-r000001',
  name: 'deploy-app',
  data: { app: 'blog', uid: 'u1', release: 'r000001' },
};
const restart = {
  id: 'restart-blog-u1-1',
  name: 'operate-app',
  data: { app: 'blog', uid: 'u1', op: 'restart', seq: 1 },
};
const remove = { id: 'delete-blog-u1', name: 'delete-app', data: { app: 'blog', uid: 'u1' } };

describe('failover plan: the jobs of a down node', () => {
  it('fails an app job once the app moved, naming the node and the job to follow instead', () => {
    expect(planFailover(deploy, node, app())).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app was moved to node a: see job deploy-blog-u1-r000002`,
    });
    expect(planFailover(restart, node, app())).to.include({ action: 'fail' });
  });

  it('an app moved without a redeploy (no release yet) says to deploy it again', () => {
    expect(planFailover(deploy, node, app({ lastJob: deploy.id })).action).to.equal('fail');
    expect(planFailover(deploy, node, app({ lastJob: undefined }))).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app was moved to node a; deploy it again to start it there`,
    });
  });

  it('keeps an app job waiting while the app is still on the down node (no room elsewhere)', () => {
    const plan = planFailover(deploy, node, app({ node: 'b' }));
    expect(plan.action).to.equal('wait');
    expect(plan)
      .to.have.property('reason')
      .that.matches(/no other node had room/);
  });

  it("reads a spread app's placement: waits while one instance stays on the down node, names all its nodes once moved", () => {
    expect(planFailover(deploy, node, app({ node: 'a', placement: ['a', 'b'] })).action).to.equal('wait');
    expect(planFailover(deploy, node, app({ node: 'a', placement: ['a', 'c', 'a'] }))).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app was moved to nodes a, c: see job deploy-blog-u1-r000002`,
    });
  });

  it('fails the jobs of an app that is gone, of another incarnation, or being deleted', () => {
    expect(planFailover(deploy, node, undefined)).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app no longer exists`,
    });
    expect(planFailover(deploy, node, app({ uid: 'u2', node: 'b' }))).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app no longer exists`,
    });
    expect(planFailover(restart, node, app({ node: 'b', status: 'deleting' }))).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app is being deleted`,
    });
  });

  it('finishes a deletion without the node; skips one whose app is not marked for deletion', () => {
    const plan = planFailover(remove, node, app({ node: 'b', status: 'deleting' }));
    expect(plan).to.deep.equal({
      action: 'delete',
      result: {
        outcome: 'deleted',
        containers: 0,
        withoutNode: `${down}: the app was deleted without it; the node's reconciliation removes its containers, release files and volumes when it returns`,
      },
    });
    expect(planFailover(remove, node, undefined).action).to.equal('delete'); // records already gone: nothing left but the job
    expect(planFailover(remove, node, app({ node: 'b' }))).to.deep.equal({
      action: 'skip',
      result: { outcome: 'skipped', reason: 'app is not marked for deletion' },
    });
    expect(planFailover(remove, node, app({ uid: 'u2', status: 'deleting' })).action).to.equal('skip');
  });

  it('finishes a database deletion without the node; skips one whose database is not marked for deletion', () => {
    const drop = { id: 'db-delete-shop-u1', name: 'db-delete', data: { database: 'shop', uid: 'u1' } };
    expect(planFailover(drop, node, undefined, { uid: 'u1', status: 'deleting' })).to.deep.equal({
      action: 'delete',
      result: {
        outcome: 'deleted',
        containers: 0,
        withoutNode: `${down}: the database was deleted without it; the node's reconciliation removes its container, volume (the data) and network when it returns`,
      },
    });
    expect(planFailover(drop, node, undefined).action).to.equal('delete'); // records already gone
    expect(planFailover(drop, node, undefined, { uid: 'u1', status: 'running' })).to.deep.equal({
      action: 'skip',
      result: { outcome: 'skipped', reason: 'database is not marked for deletion' },
    });
    expect(planFailover(drop, node, undefined, { uid: 'u2', status: 'deleting' }).action).to.equal('skip');
  });

  it("a run waits while the app's primary is the down node, fails once it moved (even if an instance stays), and with its app", () => {
    const run = { id: 'run-blog-u1-abc', name: 'run-app', data: { app: 'blog', uid: 'u1', command: 'ls' } };
    expect(planFailover(run, node, app({ node: 'b' }))).to.deep.equal({
      action: 'wait',
      reason: `${down}: the app's primary node is still this one, so the run waits for it`,
    });
    const moved = {
      action: 'fail',
      reason: `${down}; the app's primary node is now a: run the command again to run it there`,
    };
    expect(planFailover(run, node, app())).to.deep.equal(moved);
    expect(planFailover(run, node, app({ node: 'a', placement: ['a', 'b'] }))).to.deep.equal(moved);
    const scheduled = { ...run, id: 'sched-blog-u1-nightly-1', data: { ...run.data, schedule: 'nightly' } };
    expect(planFailover(scheduled, node, app())).to.deep.equal(moved);
    expect(planFailover(run, node, undefined)).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app no longer exists`,
    });
    expect(planFailover(run, node, app({ uid: 'u2', node: 'b' })).action).to.equal('fail');
    expect(planFailover(run, node, app({ node: 'b', status: 'deleting' }))).to.deep.equal({
      action: 'fail',
      reason: `${down}; the app is being deleted`,
    });
  });

  it('the other database jobs and unknown jobs wait for the node', () => {
    for (const name of ['db-provision', 'db-backup', 'db-restore', 'db-rotate-password']) {
      const plan = planFailover({ id: `${name}-x`, name, data: { database: 'x', uid: 'u' } }, node, undefined);
      expect(plan.action, name).to.equal('wait');
      expect(plan)
        .to.have.property('reason')
        .that.equals(
          `${down}: database jobs run on the database's node only (its data is in a volume there); this one runs when the node returns`,
        );
    }
    expect(planFailover({ id: 'x', name: 'mystery', data: {} }, node, undefined).action).to.equal('wait');
    expect(planFailover({ id: 'x', name: 'deploy-app', data: { app: 3 } }, node, undefined).action).to.equal('wait');
  });
});

describe('node condition', () => {
  const now = Date.parse('2024-06-01T12:01:00.000Z');
  it('up, down, unknown, draining', () => {
    const context = { now, timeoutMs: 30_000, draining: new Set(['a']) };
    expect(nodeCondition('a', { heartbeatAt: '2024-06-01T12:00:59.000Z' }, context)).to.deep.equal({
      id: 'a',
      state: 'up',
      draining: true,
      heartbeatAt: '2024-06-01T12:00:59.000Z',
    });
    expect(nodeCondition('b', node, context)).to.deep.equal({
      id: 'b',
      state: 'down',
      draining: false,
      heartbeatAt: node.heartbeatAt,
    });
    expect(nodeCondition('c', undefined, context)).to.deep.equal({
      id: 'c',
      state: 'unknown',
      draining: false,
      heartbeatAt: null,
    });
  });
  it('describes a down or unregistered node', () => {
    expect(describeNodeDown({ id: 'b', state: 'down', heartbeatAt: node.heartbeatAt })).to.equal(down);
    expect(describeNodeDown({ id: 'c', state: 'unknown', heartbeatAt: null })).to.equal('node c is not registered');
    expect(databaseStaysReason).to.match(/volume on this node/);
  });
});
