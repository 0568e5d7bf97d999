import crypto from 'node:crypto';
import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { deliver, githubExample, githubSignature, pushPayload } from '../support/github-webhooks.ts';
import { appName, expectError, startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

const repoUrl = 'https://github.com/Codertocat/Hello-World.git';
const sha = () => crypto.randomBytes(20).toString('hex');

describe('GitHub push webhooks (real Redis, real BullMQ queues, GitHub example payloads)', function () {
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

  /** An app on branch main with a webhook; resolves to its name and secret. */
  async function appWithWebhook(extra: Record<string, unknown> = {}) {
    const name = appName('hook');
    await fx.post('/apps').send(validBody(name, { repo: { url: repoUrl, branch: 'main' }, ...extra })).expect(202);
    const res = await fx.post(`/apps/${name}/webhook`).expect(201);
    return { name, secret: res.body.secret as string, res };
  }

  const path = (name: string) => `/webhooks/github/${name}`;
  const push = (name: string, secret: string, options: { ref?: string; after?: string; deleted?: boolean; delivery?: string } = {}) =>
    deliver(fx.app, path(name), {
      event: 'push', secret, delivery: options.delivery,
      payload: pushPayload({ ref: options.ref ?? 'refs/heads/main', after: options.after ?? sha(), repoUrl, deleted: options.deleted }),
    });
  const jobCount = async () => Object.values(await fx.queues.forNode(nodeId).getJobCounts()).reduce((a, b) => a + b, 0);

  describe('POST /apps/:name/webhook', function () {
    it('answers the URL and a secret once; only a sealed copy is stored', async function () {
      const { name, secret, res } = await appWithWebhook();
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.body.url).to.match(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/webhooks/github/${name}$`));
      expect(res.body).to.include({ contentType: 'application/json' });
      expect(res.body.events).to.deep.equal(['push']);
      expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
      const shown = (await fx.get(`/apps/${name}`).expect(200)).body.app;
      expect(shown.webhook).to.deep.equal({ createdAt: res.body.createdAt });
      expect(JSON.stringify(shown)).to.not.include(secret);
      for (const key of await fx.redis.keys('gasper:*')) {
        const type = await fx.redis.type(key);
        if (type === 'string') expect(await fx.redis.get(key), key).to.not.include(secret);
      }
    });

    it('uses the configured public URL', async function () {
      const name = appName('hook');
      await fx.post('/apps').send(validBody(name)).expect(202);
      const app = fx.withOptions({ publicUrl: 'https://gasper.example.com/' });
      const res = await fx.post(`/apps/${name}/webhook`, app).expect(201);
      expect(res.body.url).to.equal(`https://gasper.example.com/webhooks/github/${name}`);
    });

    it('needs the admin token, and a known app', async function () {
      const { name } = await appWithWebhook();
      expectError(await supertest(fx.app).post(`/apps/${name}/webhook`), 401, 'UNAUTHORIZED');
      expectError(await fx.post(`/apps/${appName('none')}/webhook`), 404, 'NOT_FOUND');
    });

    it('rotation: the old secret stops verifying at once, the new one works', async function () {
      const { name, secret: old } = await appWithWebhook();
      const rotated = (await fx.post(`/apps/${name}/webhook`).expect(201)).body.secret;
      expect(rotated).to.not.equal(old);
      const before = await jobCount();
      expectError(await push(name, old), 401, 'UNAUTHORIZED');
      expect(await jobCount()).to.equal(before);
      const res = await push(name, rotated);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(await jobCount()).to.equal(before + 1);
    });

    it('DELETE removes the webhook: deliveries then get 404', async function () {
      const { name, secret } = await appWithWebhook();
      await fx.del(`/apps/${name}/webhook`).expect(204);
      expect((await fx.get(`/apps/${name}`)).body.app.webhook).to.equal(null);
      expectError(await push(name, secret), 404, 'NOT_FOUND');
    });
  });

  describe('POST /webhooks/github/:app', function () {
    it('ping -> 200 (the real ping example, signed)', async function () {
      const { name, secret } = await appWithWebhook();
      const res = await deliver(fx.app, path(name), { event: 'ping', secret, payload: githubExample('ping') });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({ ok: true, event: 'ping' });
    });

    it('a push to the app\'s branch enqueues a deploy of exactly the pushed commit -> 202 with the job', async function () {
      const { name, secret } = await appWithWebhook();
      const after = sha();
      const res = await push(name, secret, { after });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body).to.include({ app: name, branch: 'main', commit: after, release: 'r000002' });
      expect(res.body.job.url).to.equal(`/jobs/${res.body.job.id}`);
      const job = await fx.queues.forNode(nodeId).getJob(res.body.job.id);
      expect(job?.name).to.equal('deploy-app');
      expect(job?.data).to.include({ app: name, release: 'r000002', commit: after });
      const app = await fx.apps.get(name);
      expect(app?.pendingRelease).to.equal('r000002');
      expect(app?.lastJob).to.equal(res.body.job.id);
      // The job is visible where clients poll.
      expect((await fx.get(res.body.job.url).expect(200)).body.job.type).to.equal('deploy-app');
    });

    it('follows the repository\'s default branch when the app names none', async function () {
      const name = appName('hook');
      await fx.post('/apps').send(validBody(name, { repo: { url: repoUrl } })).expect(202);
      const secret = (await fx.post(`/apps/${name}/webhook`).expect(201)).body.secret;
      // The example repository's default branch is master.
      expect((await push(name, secret, { ref: 'refs/heads/master' })).status).to.equal(202);
      const res = await push(name, secret, { ref: 'refs/heads/main' });
      expect(res.status).to.equal(202);
      expect(res.body).to.deep.equal({ ignored: true, reason: 'push to branch main; the app deploys master' });
    });

    it('accepts the form-encoded content type (payload=<json>)', async function () {
      const { name, secret } = await appWithWebhook();
      const after = sha();
      const res = await deliver(fx.app, path(name), {
        event: 'push', secret, form: true, payload: pushPayload({ ref: 'refs/heads/main', after, repoUrl }),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.commit).to.equal(after);
    });

    const ignored: Array<[string, { ref: string; after?: string; deleted?: boolean } | 'tag-example' | 'tag-deleted-example', RegExp]> = [
      ['another branch', { ref: 'refs/heads/feature/x' }, /^push to branch feature\/x; the app deploys main$/],
      ['a tag (GitHub\'s tag example)', 'tag-example', /^tag push \(simple-tag\)/],
      ['a tag deletion (GitHub\'s example)', 'tag-deleted-example', /was deleted$/],
      ['a branch deletion', { ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true }, /^refs\/heads\/main was deleted$/],
      ['the zero sha without "deleted"', { ref: 'refs/heads/main', after: '0'.repeat(40) }, /was deleted$/],
      ['a note ref', { ref: 'refs/notes/commits' }, /is not a branch$/],
    ];
    for (const [what, change, reason] of ignored) {
      it(`ignores ${what} -> 202 {ignored, reason}, nothing enqueued`, async function () {
        const { name, secret } = await appWithWebhook();
        let payload;
        if (change === 'tag-example') payload = githubExample('push', (p) => p.ref.startsWith('refs/tags/') && !p.deleted);
        else if (change === 'tag-deleted-example') payload = githubExample('push', (p) => p.ref.startsWith('refs/tags/') && p.deleted);
        else payload = pushPayload({ ref: change.ref, after: change.after ?? sha(), repoUrl, deleted: change.deleted });
        const before = await fx.snapshot();
        const res = await deliver(fx.app, path(name), { event: 'push', secret, payload });
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
        expect(res.body.ignored).to.equal(true);
        expect(res.body.reason).to.match(reason);
        await fx.expectNothingCreated(before);
      });
    }

    it('ignores a push to another repository', async function () {
      const { name, secret } = await appWithWebhook();
      const payload = pushPayload({ ref: 'refs/heads/main', after: sha(), repoUrl: 'https://github.com/someone/else.git' });
      payload.repository.full_name = 'someone/else';
      const res = await deliver(fx.app, path(name), { event: 'push', secret, payload });
      expect(res.status).to.equal(202);
      expect(res.body.reason).to.equal(`push to repository someone/else; the app deploys ${repoUrl}`);
    });

    it('ignores other events -> 202', async function () {
      const { name, secret } = await appWithWebhook();
      const res = await deliver(fx.app, path(name), { event: 'star', secret, payload: githubExample('star') });
      expect(res.status).to.equal(202);
      expect(res.body).to.deep.equal({ ignored: true, reason: 'event "star" is not handled; only push deploys' });
    });

    it('a repeated X-GitHub-Delivery is not deployed twice -> 200 with the first job', async function () {
      const { name, secret } = await appWithWebhook();
      const delivery = crypto.randomUUID();
      const after = sha();
      const first = await push(name, secret, { after, delivery });
      expect(first.status).to.equal(202);
      const count = await jobCount();
      const again = await push(name, secret, { after, delivery });
      expect(again.status).to.equal(200);
      expect(again.body).to.deep.equal({ duplicate: true, delivery, job: first.body.job });
      // Concurrent redeliveries too.
      const racing = await Promise.all([1, 2, 3].map(() => push(name, secret, { after, delivery })));
      expect(racing.map((r) => r.status)).to.deep.equal([200, 200, 200]);
      expect(await jobCount()).to.equal(count);
      expect((await fx.apps.get(name))?.pendingRelease).to.equal('r000002');
      expect(await fx.redis.ttl(keys.webhookDelivery(delivery))).to.be.greaterThan(6 * 24 * 3600);
      // A new delivery of another push deploys.
      expect((await push(name, secret)).body.release).to.equal('r000003');
    });

    it('concurrent first deliveries of one id enqueue one deploy', async function () {
      const { name, secret } = await appWithWebhook();
      const delivery = crypto.randomUUID();
      const after = sha();
      const before = await jobCount();
      const answers = await Promise.all([1, 2, 3, 4].map(() => push(name, secret, { after, delivery })));
      expect(answers.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 202]);
      expect(await jobCount()).to.equal(before + 1);
    });

    describe('signatures: 401 and nothing enqueued', function () {
      const cases: Array<[string, (secret: string, body: string) => string | undefined]> = [
        ['missing', () => undefined],
        ['signed with another secret', (_s, body) => githubSignature('not-the-secret', body)],
        ['of another body', (s, body) => githubSignature(s, `${body} `)],
        ['sha1 (X-Hub-Signature style)', (s, body) => `sha1=${crypto.createHmac('sha1', s).update(body).digest('hex')}`],
        ['malformed', () => 'sha256=xyz'],
        ['empty', () => ''],
        ['upper-case hex of the right HMAC', (s, body) => githubSignature(s, body).toUpperCase().replace('SHA256=', 'sha256=')],
      ];
      for (const [what, signature] of cases) {
        it(`${what} -> 401`, async function () {
          const { name, secret } = await appWithWebhook();
          const payload = pushPayload({ ref: 'refs/heads/main', after: sha(), repoUrl });
          const sig = signature(secret, JSON.stringify(payload));
          const before = await fx.snapshot();
          const res = await deliver(fx.app, path(name), { event: 'push', payload, ...(sig === undefined ? {} : { signature: sig }) });
          expectError(res, 401, 'UNAUTHORIZED');
          await fx.expectNothingCreated(before);
        });
      }

      it('the admin token does not replace a signature', async function () {
        const { name } = await appWithWebhook();
        const before = await fx.snapshot();
        const res = await supertest(fx.app).post(path(name)).set('authorization', `Bearer ${fx.token}`)
          .set('x-github-event', 'push').send(pushPayload({ ref: 'refs/heads/main', after: sha(), repoUrl }));
        expectError(res, 401, 'UNAUTHORIZED');
        await fx.expectNothingCreated(before);
      });
    });

    describe('unknown apps', function () {
      it('an unsigned request learns nothing: 401 for a missing app as for an existing one', async function () {
        const { name } = await appWithWebhook();
        for (const target of [name, appName('missing'), 'Not_A-Name']) {
          const res = await deliver(fx.app, path(target), { event: 'push', payload: githubExample('push') });
          expectError(res, 401, 'UNAUTHORIZED');
        }
      });

      it('a signed delivery for a missing app, or one without a webhook -> the same 404', async function () {
        const secret = 'whatever-secret';
        const missing = appName('missing');
        const noHook = appName('nohook');
        await fx.post('/apps').send(validBody(noHook)).expect(202);
        const a = await deliver(fx.app, path(missing), { event: 'ping', secret, payload: githubExample('ping') });
        const b = await deliver(fx.app, path(noHook), { event: 'ping', secret, payload: githubExample('ping') });
        expectError(a, 404, 'NOT_FOUND');
        expectError(b, 404, 'NOT_FOUND');
        expect(a.body.message.replace(missing, 'X')).to.equal(b.body.message.replace(noHook, 'X'));
      });
    });

    it('a signed but invalid push payload -> 400 naming the field, nothing enqueued', async function () {
      const { name, secret } = await appWithWebhook();
      const payload = githubExample('push');
      delete payload.ref;
      const before = await fx.snapshot();
      const res = await deliver(fx.app, path(name), { event: 'push', secret, payload });
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.fields).to.have.property('payload.ref');
      await fx.expectNothingCreated(before);
    });

    it('a push to an app being deleted is ignored', async function () {
      const { name, secret } = await appWithWebhook();
      await fx.del(`/apps/${name}`).expect(202);
      const before = await jobCount();
      const res = await push(name, secret);
      expect(res.status).to.equal(202);
      expect(res.body).to.deep.equal({ ignored: true, reason: 'the app is being deleted' });
      expect(await jobCount()).to.equal(before);
    });
  });
});
