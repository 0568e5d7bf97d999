import { Queue } from 'bullmq';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { bullPrefix } from '../../../src/core/keys.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import { schedulerId, schedulesQueueName, upsertScheduler } from '../../../src/jobs/schedule-jobs.ts';
import { ScheduleStore } from '../../../src/store/schedules.ts';
import { appJsonScheduleId, syncAppJsonCron } from '../../../src/workers/schedules/app-json-cron.ts';
import { startTestRedis } from '../../support/redis.ts';

/** app.json's cron entries made into schedules with BullMQ job schedulers, on a real Redis. */
describe('app.json schedules (real Redis, BullMQ job schedulers)', function () {
  this.timeout(20_000);
  let server: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let queue: Queue;
  const app = { name: 'shop', uid: 'u1' };

  before(async () => {
    server = await startTestRedis();
    redis = connectRedis(server.url);
    queue = new Queue(schedulesQueueName, { connection: redis, prefix: bullPrefix });
  });
  after(async () => {
    await queue?.close();
    redis?.disconnect();
    await server?.close();
  });

  const schedulers = async () => (await queue.getJobSchedulers()).map((s) => s.key).sort();

  it('adds, keeps and removes its own schedules; one made through the API stays', async () => {
    const store = new ScheduleStore(redis);
    const viaApi = {
      id: '3f9c1a2b7e00',
      app: app.name,
      uid: app.uid,
      command: 'echo api',
      schedule: '*/5 * * * *',
      overlap: 'skip' as const,
      createdAt: new Date().toISOString(),
    };
    await store.put(viaApi);
    await upsertScheduler(queue, viaApi);
    const nightly = { command: 'node report.js', schedule: '0 3 * * *' };
    const hourly = { command: 'node sweep.js', schedule: '@hourly' };

    const first = await syncAppJsonCron(redis, app, [nightly, hourly]);
    expect(first).to.have.length(2);
    expect(first[1]).to.equal(`app.json: schedule ${appJsonScheduleId(hourly)} added: 0 * * * * node sweep.js`);
    expect(await schedulers()).to.deep.equal(
      [viaApi.id, appJsonScheduleId(nightly), appJsonScheduleId(hourly)].map((id) => schedulerId(app.name, id)).sort(),
    );
    expect((await store.get(app.name, appJsonScheduleId(hourly)))?.schedule).to.equal('0 * * * *');

    expect(await syncAppJsonCron(redis, app, [nightly, hourly]), 'a retried deploy').to.deep.equal([]);

    const second = await syncAppJsonCron(redis, app, [nightly]);
    expect(second).to.deep.equal([`app.json: schedule ${appJsonScheduleId(hourly)} removed (no longer in app.json)`]);
    expect(await store.get(app.name, appJsonScheduleId(hourly))).to.equal(undefined);

    await syncAppJsonCron(redis, app, []);
    expect(await schedulers()).to.deep.equal([schedulerId(app.name, viaApi.id)]);
    expect((await store.list(app.name)).map((s) => s.id)).to.deep.equal([viaApi.id]);
  });
});
