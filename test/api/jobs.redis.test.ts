import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import {
  appName,
  expectError,
  JOB_ATTEMPTS,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

describe('API /jobs (real Redis, real BullMQ queues)', function () {
  let fx: ApiFixture;
  let nodeId: string;

  before(async function () {
    fx = await startApiFixture();
    nodeId = `n-${suffix()}`;
    await fx.registerNode(nodeId);
  });

  after(async function () {
    await fx?.close();
  });

  async function createApp(): Promise<{ name: string; jobId: string }> {
    const name = appName('job');
    const res = await fx.post('/apps').send(validBody(name));
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return { name, jobId: res.body.job.id };
  }

  it('GET /jobs/:id of a fresh deploy -> 200, waiting, with the full view', async function () {
    const { name, jobId } = await createApp();
    const res = await fx.get(`/jobs/${jobId}`);
    expect(res.status).to.equal(200);
    const job = res.body.job;
    expect(job.id).to.equal(jobId);
    expect(job.id).to.match(new RegExp(`^deploy-${name}-[0-9a-f]{10}-r000001$`));
    expect(job.type).to.equal('deploy-app');
    expect(job.queue).to.equal(`node-${nodeId}`);
    expect(job.state).to.equal('waiting');
    expect(job.progress).to.deep.equal({ percent: 0, step: 'waiting' });
    expect(job.attempts).to.deep.equal({ made: 0, max: JOB_ATTEMPTS });
    expect(job.log).to.deep.equal([]);
    expect(job.result).to.equal(null);
    expect(job.error).to.equal(null);
    expect(Date.parse(job.createdAt)).to.be.closeTo(Date.now(), 60_000);
    expect(job.startedAt).to.equal(null);
    expect(job.finishedAt).to.equal(null);
  });

  it('reflects progress and log lines a worker writes to the job', async function () {
    const { jobId } = await createApp();
    const job = (await fx.queues.forNode(nodeId).getJob(jobId))!;
    await job.updateProgress({ percent: 40, step: 'build' });
    await job.log('cloning');
    await job.log('building');
    const res = await fx.get(`/jobs/${jobId}`);
    expect(res.status).to.equal(200);
    expect(res.body.job.progress).to.deep.equal({ percent: 40, step: 'build' });
    expect(res.body.job.log).to.deep.equal(['cloning', 'building']);
  });

  it('GET /jobs/:id of an unknown id -> 404 NOT_FOUND', async function () {
    const before = await fx.snapshot();
    const res = await fx.get(`/jobs/deploy-ghost-${suffix()}-r000001`);
    expectError(res, 404, 'NOT_FOUND');
    expect((await fx.snapshot()).keys).to.deep.equal(before.keys);
  });

  it('GET /jobs/unknown -> 404 NOT_FOUND', async function () {
    const res = await fx.get('/jobs/unknown');
    expectError(res, 404, 'NOT_FOUND');
  });

  it('GET /jobs/:id of a job removed from its queue -> 404 NOT_FOUND', async function () {
    const { jobId } = await createApp();
    await fx.queues.forNode(nodeId).remove(jobId);
    expect(await fx.redis.get(keys.jobQueue(jobId))).to.equal(`node-${nodeId}`);
    const res = await fx.get(`/jobs/${jobId}`);
    expectError(res, 404, 'NOT_FOUND');
  });

  it('GET /jobs/:id without or with a wrong token -> 401', async function () {
    const { jobId } = await createApp();
    expectError(await supertest(fx.app).get(`/jobs/${jobId}`), 401, 'UNAUTHORIZED');
    expectError(
      await supertest(fx.app).get(`/jobs/${jobId}`).set('authorization', 'Bearer wrong'),
      401,
      'UNAUTHORIZED',
    );
  });

  it('the job index entry expires (it has a TTL)', async function () {
    const { jobId } = await createApp();
    const ttl = await fx.redis.ttl(keys.jobQueue(jobId));
    expect(ttl).to.be.greaterThan(0);
  });

  it('a delete job is readable too', async function () {
    const { name } = await createApp();
    const del = await fx.del(`/apps/${name}`);
    expect(del.status).to.equal(202);
    const res = await fx.get(del.body.job.url);
    expect(res.status).to.equal(200);
    expect(res.body.job).to.include({
      id: del.body.job.id,
      type: 'delete-app',
      state: 'waiting',
      queue: `node-${nodeId}`,
    });
  });
});
