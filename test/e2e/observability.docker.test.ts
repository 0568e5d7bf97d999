import crypto from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/** A node app that prints one line per request: stdout normally, stderr for /err. */
const chattyApp = {
  'server.js': `const http = require('http');
http.createServer((req, res) => {
  if (req.url.startsWith('/err')) console.error('oops ' + req.url); else console.log('request ' + req.url);
  res.end('ok\\n');
}).listen(process.env.PORT, () => console.log('listening on ' + process.env.PORT));
`,
};

interface Line {
  id: string;
  instance: string;
  release: string;
  stream: string;
  timestamp: string;
  text: string;
}

const metricsToken = `metrics-${crypto.randomBytes(12).toString('hex')}`;

/**
 * Observability end to end with real parts: the app's output collected by the node worker into
 * Redis and read through the API (tail and SSE follow), resource samples, the build log, and
 * Prometheus metrics after real requests through the proxy.
 */
describe('logs and metrics through the API (Docker, Redis, git)', function () {
  this.timeout(180_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  let redis: Redis;
  const name = `obs-${crypto.randomBytes(3).toString('hex')}`;
  const host = () => `${name}.localhost:${gasper.proxyPort}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_METRICS_INTERVAL_MS: '500', GASPER_METRICS_TOKEN: metricsToken });
    redis = new Redis(gasper.platform.redisUrl);
    repo = await createGitRepo(chattyApp);
    const res = await gasper
      .api()
      .post('/apps')
      .send({
        name,
        repo: { url: repo.url },
        runtime: 'node',
        build: ['echo build-says-hi'],
        run: 'node server.js',
      })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
  });
  after(async () => {
    redis?.disconnect();
    await gasper?.close();
    await repo?.remove();
  });

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const tail = async (n: number): Promise<Line[]> =>
    (await gasper.api().get(`/apps/${name}/logs?tail=${n}`).expect(200)).body.lines;
  const followers = async () =>
    ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes('name=gasper-log-follow')).length;

  it('returns the last N lines with instance, stream and timestamp', async () => {
    const started = Date.now();
    for (const path of ['/one', '/two', '/err-three'])
      expect((await viaProxy(gasper.proxyPort, host(), path)).status).to.equal(200);
    const lines = await until('the third line', async () => {
      const got = await tail(2);
      return got.at(-1)?.text === 'oops /err-three' ? got : undefined;
    });
    expect(lines.map((l) => l.text)).to.deep.equal(['request /two', 'oops /err-three']);
    expect(lines.map((l) => l.stream)).to.deep.equal(['stdout', 'stderr']);
    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    for (const line of lines) {
      expect(line.instance).to.equal(app.instances[0].container);
      expect(line.release).to.equal(app.release);
      expect(line.timestamp).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      expect(Date.parse(line.timestamp)).to.be.within(started - 1000, Date.now() + 1000);
    }
    // The app's start-up line was printed before anything followed it: collected all the same.
    expect((await tail(100)).map((l) => l.text)).to.include(`listening on 8080`);
  });

  it('rejects a bad tail or an unknown parameter naming the field, and an unknown app', async () => {
    const bad = await gasper.api().get(`/apps/${name}/logs?tail=-1`).expect(400);
    expect(bad.body.fields).to.have.property('tail');
    const unknown = await gasper.api().get(`/apps/${name}/logs?since=1`).expect(400);
    expect(unknown.body.fields).to.deep.equal({ since: 'unknown field' });
    await gasper.api().get(`/apps/nope-${name}/logs`).expect(404);
    await gasper.api().get(`/apps/nope-${name}/metrics`).expect(404);
  });

  it('follows: streams a line the app prints after the request started, and ends cleanly when the client leaves', async () => {
    const baseline = await followers();
    const marker = `/after-${crypto.randomBytes(4).toString('hex')}`;
    const events: Line[] = [];
    let buffered = '';
    const req = http.get(`${gasper.apiUrl}/apps/${name}/logs?follow=1&tail=0`, {
      headers: { authorization: `Bearer ${gasper.token}` },
    });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      req.once('response', resolve).once('error', reject),
    );
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/event-stream/);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let end;
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        const id = event.split('\n').find((l) => l.startsWith('id: '));
        if (data) {
          const line = JSON.parse(data.slice(6)) as Line;
          expect(id).to.equal(`id: ${line.id}`);
          events.push(line);
        }
      }
    });
    res.on('error', () => {});
    // The follow holds one Redis connection of its own while it lasts.
    await until('the follow connection', async () => ((await followers()) === baseline + 1 ? true : undefined), 5000);

    // Printed only now, after the follow began: tail=0 sent nothing older.
    expect((await viaProxy(gasper.proxyPort, host(), marker)).status).to.equal(200);
    const seen = await until('the followed line', async () => events.find((l) => l.text === `request ${marker}`));
    expect(events[0]).to.equal(seen);
    expect(seen.instance).to.match(new RegExp(`^gasper-[0-9a-f]{8}-${name}-`));
    expect(seen.stream).to.equal('stdout');

    req.destroy();
    await until(
      'the follow connection to close',
      async () => ((await followers()) === baseline ? true : undefined),
      5000,
    );
  });

  it('resumes a follow after Last-Event-ID without repeating lines', async () => {
    const [last] = await tail(1);
    await viaProxy(gasper.proxyPort, host(), '/resumed');
    const text = await until('the resumed line', async () =>
      (await tail(1))[0]?.text === 'request /resumed' ? true : undefined,
    );
    expect(text).to.equal(true);
    const req = http.get(`${gasper.apiUrl}/apps/${name}/logs?follow=1`, {
      headers: { authorization: `Bearer ${gasper.token}`, 'last-event-id': last!.id },
    });
    const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
    res.setEncoding('utf8');
    let body = '';
    res.on('data', (c: string) => (body += c));
    await until('the first event', async () => (body.includes('\n\n') ? true : undefined), 5000);
    req.destroy();
    const first = JSON.parse(
      body
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6),
    ) as Line;
    expect(first.text).to.equal('request /resumed');
  });

  it('samples each instance: CPU as a share of its limit, memory in use, a growing history', async () => {
    const cpus = os.cpus().length;
    const first = await until('two samples', async () => {
      const body = (await gasper.api().get(`/apps/${name}/metrics`).expect(200)).body;
      return body.instances[0]?.samples.length >= 2 ? body : undefined;
    });
    expect(first.instances).to.have.length(1);
    const instance = first.instances[0];
    expect(instance).to.include({ node: gasper.nodeId, release: 'r000001' });
    for (const sample of instance.samples) {
      expect(Date.parse(sample.at)).to.be.greaterThan(0);
      expect(sample.cpu.percent).to.be.within(0, 100 * cpus);
      expect(sample.cpu.cores).to.be.within(0, cpus);
      expect(sample.cpu.limitCores).to.be.within(0.01, cpus);
      expect(sample.memory.usageBytes).to.be.greaterThan(0);
      expect(sample.memory.limitBytes).to.be.greaterThan(sample.memory.usageBytes);
    }
    const count = instance.samples.length;
    await until('more samples', async () => {
      const body = (await gasper.api().get(`/apps/${name}/metrics`).expect(200)).body;
      return body.instances[0].samples.length > count ? true : undefined;
    });
  });

  it('serves the build output of a release', async () => {
    const res = await gasper.api().get(`/apps/${name}/releases/r000001/build-log`).expect(200);
    expect(res.body.job.state).to.equal('completed');
    expect(res.body.log.join('\n')).to.include('$ echo build-says-hi').and.include('  build-says-hi');
    await gasper.api().get(`/apps/${name}/releases/r000099/build-log`).expect(404);
    await gasper.api().get(`/apps/${name}/releases/..%2Fx/build-log`).expect(400);
  });

  it('exposes Prometheus metrics: job counts, deploy durations, proxy requests and instances per app', async () => {
    await supertestGet('/metrics').expect(401);
    await supertestGet('/metrics', 'wrong-token-0123456789').expect(401);
    for (let i = 0; i < 3; i++) await viaProxy(gasper.proxyPort, host(), `/counted-${i}`);
    const res = await supertestGet('/metrics', metricsToken).expect(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(res.text);
    const queue = `node-${gasper.nodeId}`;
    expect(samples.get(`gasper_jobs{queue="${queue}",state="completed"}`)).to.be.at.least(1);
    expect(samples.get(`gasper_jobs{queue="${queue}",state="failed"}`)).to.equal(0);
    expect(samples.get(`gasper_proxy_requests_total{app="${name}",status="2xx"}`)).to.be.at.least(3);
    expect(samples.get(`gasper_proxy_request_duration_seconds_count{app="${name}"}`)).to.be.at.least(3);
    expect(samples.get(`gasper_app_instances{app="${name}"}`)).to.equal(1);
    expect(samples.get('gasper_deploy_duration_seconds_count{outcome="deployed"}')).to.be.at.least(1);
    expect(samples.get('gasper_deploy_duration_seconds_bucket{outcome="deployed",le="+Inf"}')).to.be.at.least(1);
    expect(samples.get('gasper_process_resident_memory_bytes')).to.be.greaterThan(0);
    // The metrics token reads metrics only.
    await supertestGet('/apps', metricsToken).expect(401);
  });

  it("deletes the app's logs and samples with it", async () => {
    expect(await redis.exists(`gasper:app:${name}:logs`, `gasper:app:${name}:metrics`)).to.equal(2);
    const res = await gasper.api().delete(`/apps/${name}`).expect(202);
    expect((await gasper.waitForJob(res.body.job.id)).state).to.equal('completed');
    // Give the collector and the sampler a round to (not) write after the deletion.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await redis.keys(`gasper:app:${name}*`)).to.deep.equal([]);
  });

  function supertestGet(path: string, token?: string) {
    const test = gasper.api().get(path);
    // Replace the admin token the helper set.
    return token ? test.set('authorization', `Bearer ${token}`) : test.unset('authorization');
  }
});

/**
 * Parses Prometheus text exposition (format 0.0.4) strictly enough to fail on a malformed line:
 * comments are HELP/TYPE, every other line is `name{labels} value`.
 */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line, line).to.match(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /);
      continue;
    }
    const match = sample.exec(line);
    expect(match, `not a Prometheus sample: ${line}`).to.not.equal(null);
    samples.set(`${match![1]}${match![2] ?? ''}`, Number(match![3]));
  }
  return samples;
}
