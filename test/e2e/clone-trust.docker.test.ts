import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startGitHttpServer, type GitHttpServer } from '../support/git-http.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/** Every key and value in Redis, as text (strings, hashes, lists, sets, sorted sets, streams). */
async function redisDump(redis: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of found) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** Every file under `dir` that contains `needle` (the AOF, release directories, logs). */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const content = await fs.readFile(file).catch(() => Buffer.alloc(0));
    if (content.includes(needle)) hits.push(file);
  }
  return hits;
}

/**
 * The worker's clones against real servers on 127.0.0.1, through the API: a token for an https
 * repository kept sealed (#11 item 8), a missing repository failing at once (item 19), and one
 * owner's clones from a server that never answers leaving the other owners' deploys alone (item 6).
 */
describe('clones through the platform: credentials, user errors, fairness (Docker)', function () {
  this.timeout(300_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  const unique = (base: string) => `${base}-${crypto.randomBytes(3).toString('hex')}`;

  before(async () => {
    gasper = await startTestPlatform({
      GASPER_WORKER_CONCURRENCY: '2',
      GASPER_JOBS_PER_OWNER: '1',
      GASPER_CLONE_IDLE_TIMEOUT_MS: '20000',
    });
    repo = await createGitRepo({ 'index.html': '<p>fair</p>\n' });
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
  });

  describe('repository credentials (item 8)', function () {
    let server: GitHttpServer;
    const token = `ghp_${crypto.randomBytes(16).toString('hex')}`;
    after(async () => {
      await server?.close();
    });

    it('credentials in the URL are moved into the sealed secret: the clone works, GET, releases, Redis and the state directory never hold the token', async () => {
      server = await startGitHttpServer(repo.dir, { auth: { username: 'alice', password: token } });
      const name = unique('creds');
      const withCredentials = server.url.replace('http://', `http://alice:${token}@`);
      const res = await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: withCredentials }, runtime: 'static' })
        .expect(202);
      expect(res.body.app.repo).to.deep.equal({ url: server.url, hasToken: true });
      const job = await gasper.waitForJob(res.body.job.id);
      expect(job.state, job.log.join('\n')).to.equal('completed');
      expect((await viaProxy(gasper.proxyPort, `${name}.localhost`, '/')).body).to.equal('<p>fair</p>\n');
      expect(server.authorizations.filter(Boolean).length).to.be.at.least(1);

      const shown = JSON.stringify([
        (await gasper.api().get('/apps').expect(200)).body,
        (await gasper.api().get(`/apps/${name}`).expect(200)).body,
        (await gasper.api().get(`/apps/${name}/releases`).expect(200)).body,
        (await gasper.api().get(`/jobs/${res.body.job.id}`).expect(200)).body,
      ]);
      expect(shown).to.include(server.url);
      expect(shown).not.to.include(token);
      const redis = new Redis(gasper.platform.redisUrl);
      try {
        await redis.call('BGREWRITEAOF').catch(() => undefined);
        const dump = await redisDump(redis);
        expect(dump.length).to.be.above(1000);
        expect(dump).not.to.include(token);
        expect(dump).not.to.include(Buffer.from(`alice:${token}`).toString('base64'));
      } finally {
        redis.disconnect();
      }
      expect(await filesContaining(gasper.stateDir, token)).to.deep.equal([]);
    });

    it('repo.token given apart works the same; a token for an ssh:// URL is refused naming repo.token', async () => {
      const name = unique('token');
      const res = await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: server.url, token, username: 'alice' }, runtime: 'static' })
        .expect(202);
      expect(res.body.app.repo).to.deep.equal({ url: server.url, hasToken: true });
      const job = await gasper.waitForJob(res.body.job.id);
      expect(job.state, job.log.join('\n')).to.equal('completed');
      const refused = await gasper
        .api()
        .post('/apps')
        .send({ name: unique('sshtok'), repo: { url: 'ssh://git@example.com/r.git', token }, runtime: 'static' })
        .expect(400);
      expect(refused.body.fields).to.have.property('repo.token');
      const twice = await gasper
        .api()
        .post('/apps')
        .send({
          name: unique('twice'),
          repo: { url: server.url.replace('http://', 'http://a:b@'), token },
          runtime: 'static',
        })
        .expect(400);
      expect(twice.body.fields).to.have.property('repo.url');
    });

    it('a wrong token fails at once: authentication failed, one attempt, no token in the message; the right one deploys the app', async () => {
      const name = unique('badtok');
      const res = await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: server.url, token: `${token}x` }, runtime: 'static' })
        .expect(202);
      const job = await gasper.waitForJob(res.body.job.id);
      expect(job.state).to.equal('failed');
      expect(job.error).to.include(`authentication failed for ${server.url}`);
      expect(job.error).not.to.include(token);
      expect((await gasper.api().get(`/jobs/${res.body.job.id}`).expect(200)).body.job.attempts.made).to.equal(1);

      // The right token for the app that never ran deploys it: nothing else is left to change.
      const fixed = await gasper
        .api()
        .patch(`/apps/${name}`)
        .send({ repo: { token, username: 'alice' } })
        .expect(202);
      expect(fixed.body.changed).to.deep.equal(['repo.token']);
      const redeploy = await gasper.waitForJob(fixed.body.job.id);
      expect(redeploy.state, redeploy.log.join('\n')).to.equal('completed');
      expect((await viaProxy(gasper.proxyPort, `${name}.localhost`, '/')).body).to.equal('<p>fair</p>\n');
      // Now it runs: another token is for its next clone, and deploys nothing.
      const rotated = await gasper
        .api()
        .patch(`/apps/${name}`)
        .send({ repo: { token: `${token}2` } })
        .expect(200);
      expect(rotated.body).to.include({ redeploy: false });
    });
  });

  it('a repository that is not there fails at once, not retried (item 19)', async () => {
    const server = await startGitHttpServer(repo.dir);
    const missing = server.url.replace('repo.git', 'nope.git');
    try {
      const res = await gasper
        .api()
        .post('/apps')
        .send({ name: unique('missing'), repo: { url: missing }, runtime: 'static' })
        .expect(202);
      const job = await gasper.waitForJob(res.body.job.id);
      expect(job.state).to.equal('failed');
      expect(job.error).to.include(`repository ${missing} not found`);
      expect((await gasper.api().get(`/jobs/${res.body.job.id}`).expect(200)).body.job.attempts.made).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it("one owner's clones from a silent server hold one worker slot; another owner's deploy finishes promptly (item 6)", async () => {
    const sockets = new Set<net.Socket>();
    let connections = 0;
    let most = 0;
    const silent = net.createServer((s) => {
      connections++;
      sockets.add(s);
      most = Math.max(most, sockets.size);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const user = unique('tenant');
      const created = await gasper.api().post('/users').send({ name: user }).expect(201);
      const tenant = created.body.token as string;
      const jobs: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await gasper
          .api()
          .post('/apps')
          .set('authorization', `Bearer ${tenant}`)
          .send({ name: unique('silent'), repo: { url: `git://127.0.0.1:${port}/r${i}.git` }, runtime: 'static' })
          .expect(202);
        jobs.push(res.body.job.id);
      }
      const deadline = Date.now() + 20_000;
      while (connections < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(connections, 'a silent clone started').to.be.at.least(1);

      const started = Date.now();
      const name = unique('other');
      const res = await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'static' })
        .expect(202);
      const job = await gasper.waitForJob(res.body.job.id, 60_000);
      const took = Date.now() - started;
      console.log(
        `      another owner's deploy: ${job.state} in ${took} ms while the tenant's clones hang (idle limit 20 s); silent connections at once: ${most}`,
      );
      expect(job.state, job.log.join('\n')).to.equal('completed');
      expect(took).to.be.below(18_000);
      expect(most, "the tenant's clones ran one at a time").to.equal(1);

      // The first silent clone fails on the idle limit, once, saying why.
      const view = async () =>
        Promise.all(jobs.map(async (id) => (await gasper.api().get(`/jobs/${id}`).expect(200)).body.job));
      let views = await view();
      const until = Date.now() + 60_000;
      while (!views.some((v) => v.state === 'failed') && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        views = await view();
      }
      const timedOut = views.find((v) => v.state === 'failed');
      expect(timedOut, JSON.stringify(views.map((v) => [v.state, v.error]))).to.not.equal(undefined);
      expect(timedOut.error).to.match(/the server at 127\.0\.0\.1 did not answer within 20 s/);
      expect(timedOut.attempts.made).to.equal(1);
      // Waiting for the owner's slot did not count as an attempt.
      for (const v of views.filter((x) => x.state !== 'failed')) expect(v.attempts.made).to.equal(0);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
