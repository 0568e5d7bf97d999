import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { dig } from '../support/dig.ts';
import { startTestRedis } from '../support/redis.ts';

describe('gasper dns (the command, alone, as a process)', function () {
  this.timeout(60_000);
  let redis: EmbeddedRedisHandle;

  before(async () => {
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.close();
  });

  it('serves the zone from the shared Redis and stops cleanly on SIGTERM', async () => {
    const pub = connectRedis(redis.url);
    await publishEvent(pub, { type: 'app.instances', app: 'solo', release: 'r000001', instances: [] });
    pub.disconnect();
    const child = spawn(process.execPath, [path.resolve('bin/gasper.js'), 'dns'], {
      env: {
        PATH: process.env.PATH!,
        HOME: os.tmpdir(),
        // The service from its sources (through tsx), whatever state dist/ is in.
        GASPER_FROM_SOURCE: '1',
        REDIS_URL: redis.url,
        GASPER_DOMAIN: 'apps.test',
        GASPER_DNS_PORT: '0',
        GASPER_DNS_HOST: '127.0.0.1',
        GASPER_DNS_PROXY_ADDRESSES: '192.0.2.7',
      },
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!stdout.includes('gasper is up')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gasper dns did not come up:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const up = stdout
        .split('\n')
        .map((l) => (l.startsWith('{') ? JSON.parse(l) : {}))
        .find((l) => /gasper is up/.test(l.msg ?? ''));
      expect(up.services).to.deep.equal(['dns']);
      const res = await dig(up.dns, 'solo.apps.test', 'A');
      expect(res.status).to.equal('NOERROR');
      expect(res.answer.map((r) => r.data)).to.deep.equal(['192.0.2.7']);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).to.equal(0);
  });
});
