import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createLogger } from '../../../src/core/log.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import { NodeStore } from '../../../src/store/nodes.ts';
import { startHeartbeat } from '../../../src/workers/node/heartbeat.ts';
import type { NodeMeasurements } from '../../../src/workers/node/usage.ts';
import { eventually } from '../../support/node-processes.ts';
import { startTestRedis } from '../../support/redis.ts';

/**
 * The heartbeat keeps beating while measuring hangs: a Docker daemon busy removing a container
 * answers inspects seconds late, and a late beat makes the API count the node down.
 */
describe('node heartbeat (real Redis)', function () {
  this.timeout(20_000);
  let redisServer: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;

  before(async () => {
    redisServer = await startTestRedis();
    redis = connectRedis(redisServer.url);
  });
  after(async () => {
    redis?.disconnect();
    await redisServer?.close();
  });

  it('beats on with the latest measure while the next one hangs, and reports a new one when it ends', async () => {
    const nodes = new NodeStore(redis);
    const sample = (memoryUsedBytes: number): NodeMeasurements => ({ usage: { load1PerCpu: 0, memoryUsedBytes } });
    let calls = 0;
    let release: (m: NodeMeasurements) => void = () => undefined;
    const measure = () => {
      calls += 1;
      if (calls === 1) return Promise.resolve(sample(1));
      return new Promise<NodeMeasurements>((resolve) => {
        release = resolve;
      });
    };
    const heartbeat = await startHeartbeat(
      nodes,
      { id: 'n1', address: '127.0.0.1' },
      50,
      createLogger('silent'),
      measure,
    );
    try {
      const first = (await nodes.get('n1'))!;
      expect(first.usage?.memoryUsedBytes).to.equal(1);
      await eventually('beats while the second measure hangs', async () => {
        const now = (await nodes.get('n1'))!;
        return Date.parse(now.heartbeatAt) - Date.parse(first.heartbeatAt) >= 300;
      });
      expect(calls, 'one measure at a time').to.equal(2);
      expect((await nodes.get('n1'))!.usage?.memoryUsedBytes).to.equal(1);
      release(sample(2));
      await eventually('the new measure reported', async () => (await nodes.get('n1'))!.usage?.memoryUsedBytes === 2);
    } finally {
      heartbeat.close();
    }
  });
});
