import { expect } from 'chai';
import { keys } from '../../src/core/keys.ts';
import { queueName } from '../../src/core/naming.ts';
import { schedulerId, schedulesQueueName } from '../../src/jobs/schedule-jobs.ts';
import { runAppJob } from '../../src/jobs/schemas.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

/**
 * One-off runs and schedules through the API in-process, with real Redis and BullMQ and no worker:
 * what is recorded and enqueued (a run job on the app's node, a job scheduler on the cluster-wide
 * queue), what is refused (naming the field), and what goes with a schedule or its app.
 */
describe('API runs and schedules (real Redis, real BullMQ queues)', function () {
  let fx: ApiFixture;
  let nodeId: string;
  const ticks = () => fx.queues.byName(schedulesQueueName);

  before(async function () {
    fx = await startApiFixture();
    nodeId = `n-${suffix()}`;
    await fx.registerNode(nodeId);
  });
  after(async function () {
    await fx?.close();
  });

  async function deployedApp() {
    const name = appName('run');
    await fx.post('/apps').send(validBody(name)).expect(202);
    await fx.apps.update(name, (d) => ({ ...d, status: 'running', release: 'r000001', pendingRelease: undefined }));
    return name;
  }

  it('enqueues a run on the app’s node, once the app has a release', async () => {
    const name = appName('run');
    await fx.post('/apps').send(validBody(name)).expect(202);
    expectError(await fx.post(`/apps/${name}/run`).send({ command: 'true' }), 409, 'NO_RELEASE');
    await fx.apps.update(name, (d) => ({ ...d, status: 'running', release: 'r000001', pendingRelease: undefined }));
    const res = await fx.post(`/apps/${name}/run`).send({ command: ' rake db:migrate ' }).expect(202);
    expect(res.body.release).to.equal('r000001');
    const job = await fx.queues.forNode(nodeId).getJob(res.body.job.id);
    expect(job?.name).to.equal(runAppJob.name);
    expect(job?.data).to.deep.include({ app: name, command: 'rake db:migrate' });
    expect(job?.opts.attempts).to.equal(1);
    expect(await fx.redis.get(keys.jobQueue(res.body.job.id))).to.equal(queueName(nodeId));
    const view = (await fx.get(`/jobs/${res.body.job.id}`).expect(200)).body.job;
    expect(view).to.include({ type: runAppJob.name, state: 'waiting' });
  });

  it('refuses a run without a command, or with unknown fields, naming them', async () => {
    const name = await deployedApp();
    expectFieldError(await fx.post(`/apps/${name}/run`).send({}), 'command');
    expectFieldError(await fx.post(`/apps/${name}/run`).send({ command: '   ' }), 'command');
    expectFieldError(await fx.post(`/apps/${name}/run`).send({ command: 'x', tty: true }), 'tty');
    expectError(await fx.post(`/apps/nope-${suffix()}/run`).send({ command: 'x' }), 404, 'NOT_FOUND');
  });

  it('makes, lists and deletes a schedule with its job scheduler', async () => {
    const name = await deployedApp();
    expectFieldError(await fx.post(`/apps/${name}/schedules`).send({ command: 'x', schedule: 'nope' }), 'schedule');
    expectFieldError(
      await fx.post(`/apps/${name}/schedules`).send({ command: 'x', schedule: '* * * * *', timezone: 'Nowhere/X' }),
      'timezone',
    );
    const res = await fx
      .post(`/apps/${name}/schedules`)
      .send({ command: 'echo hi', schedule: '*/5 * * * *', timezone: 'Europe/Paris' })
      .expect(201);
    const { id } = res.body.schedule;
    expect(res.body.schedule).to.include({ app: name, overlap: 'skip', timezone: 'Europe/Paris' });
    expect(res.body.schedule).not.to.have.property('uid');
    const scheduler = await ticks().getJobScheduler(schedulerId(name, id));
    expect(scheduler).to.include({ pattern: '*/5 * * * *', tz: 'Europe/Paris' });
    const listed = (await fx.get(`/apps/${name}/schedules`).expect(200)).body.schedules;
    expect(listed.map((s: { id: string }) => s.id)).to.deep.equal([id]);
    expect((await fx.get(`/apps/${name}/schedules/${id}/runs`).expect(200)).body.runs).to.deep.equal([]);
    await fx.del(`/apps/${name}/schedules/${id}`).expect(204);
    expect(await ticks().getJobScheduler(schedulerId(name, id))).to.equal(undefined);
    expectError(await fx.del(`/apps/${name}/schedules/${id}`), 404, 'NOT_FOUND');
    expectError(await fx.get(`/apps/${name}/schedules/${id}/runs`), 404, 'NOT_FOUND');
  });

  it('refuses a 21st schedule of an app with 409 SCHEDULE_LIMIT, saying to delete one', async () => {
    const name = await deployedApp();
    for (let i = 0; i < 20; i++)
      await fx
        .post(`/apps/${name}/schedules`)
        .send({ command: `echo ${i}`, schedule: '0 * * * *' })
        .expect(201);
    const refused = await fx.post(`/apps/${name}/schedules`).send({ command: 'echo 21', schedule: '0 * * * *' });
    expectError(refused, 409, 'SCHEDULE_LIMIT');
    expect(refused.body.message).to.include('delete one first');
  });

  it('removes an app’s schedulers when the app is deleted', async () => {
    const name = await deployedApp();
    const ids: string[] = [];
    for (const schedule of ['* * * * *', '0 3 * * *'])
      ids.push(
        (await fx.post(`/apps/${name}/schedules`).send({ command: 'x', schedule }).expect(201)).body.schedule.id,
      );
    await fx.del(`/apps/${name}`).expect(202);
    for (const id of ids) expect(await ticks().getJobScheduler(schedulerId(name, id))).to.equal(undefined);
    // The records go with the app's keys when its delete job ends.
    await fx.apps.remove(name);
    expect(await fx.redis.exists(keys.appSchedules(name))).to.equal(0);
  });
});
