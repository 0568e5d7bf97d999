import { Worker } from 'bullmq';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { bullPrefix, keys } from '../../src/core/keys.ts';
import { queueName } from '../../src/core/naming.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { jobAdder } from '../../src/jobs/enqueue.ts';
import { NodeQueues } from '../../src/jobs/queues.ts';
import { runAppJob } from '../../src/jobs/schemas.ts';
import { removeFinishedJob } from '../../src/jobs/status.ts';
import { runsKept, ScheduleStore } from '../../src/store/schedules.ts';
import { startTestRedis } from '../support/redis.ts';

/** A schedule's run list on a real Redis: the runs that fall off it, and their jobs removed once finished. */
describe('schedule runs (real Redis, BullMQ)', function () {
  this.timeout(20_000);
  let server: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let queues: NodeQueues;

  before(async () => {
    server = await startTestRedis();
    redis = connectRedis(server.url);
    queues = new NodeQueues(redis);
  });
  after(async () => {
    await queues?.close();
    redis?.disconnect();
    await server?.close();
  });

  it('returns the runs off the list; removes a finished run job, not a waiting one', async () => {
    const store = new ScheduleStore(redis);
    for (let i = 0; i < runsKept; i++)
      expect(await store.recordRun('shop', 's1', 1000 + i, `run-${i}`)).to.deep.equal([]);
    expect(await store.recordRun('shop', 's1', 1000, 'run-0'), 'a retried tick').to.deep.equal([]);
    expect(await store.recordRun('shop', 's1', 5000, 'run-new')).to.deep.equal(['run-0']);
    expect(await store.runs('shop', 's1')).to.have.length(runsKept);

    const add = jobAdder(redis, queues, 1);
    const data = { app: 'shop', uid: 'u1', command: 'true', schedule: 's1' };
    await add('n1', runAppJob, 'run-done', data, 'alice');
    // BullMQ does not close a connection it was handed: this one is the worker's own.
    const connection = connectRedis(server.url);
    const worker = new Worker(queueName('n1'), async () => ({ exitCode: 0 }), { connection, prefix: bullPrefix });
    await new Promise<void>((resolve) => worker.on('completed', () => resolve()));
    await worker.close();
    connection.disconnect();
    await add('n1', runAppJob, 'run-waiting', data, 'alice');

    expect(await removeFinishedJob(redis, queues, 'run-done')).to.equal(true);
    expect(await queues.forNode('n1').getJob('run-done')).to.equal(undefined);
    expect(await redis.exists(keys.jobQueue('run-done'), keys.jobOwner('run-done'))).to.equal(0);
    expect(await removeFinishedJob(redis, queues, 'run-waiting')).to.equal(false);
    expect(await queues.forNode('n1').getJob('run-waiting')).to.not.equal(undefined);
    expect(await removeFinishedJob(redis, queues, 'run-unknown')).to.equal(false);
  });
});
