import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { ReleaseCauseStore } from '../../src/store/release-causes.ts';
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
    await fx
      .post('/apps')
      .send(validBody(name, { repo: { url: repoUrl, branch: 'main' }, ...extra }))
      .expect(202);
    const res = await fx.post(`/apps/${name}/webhook`).expect(201);
    return { name, secret: res.body.secret as string, res };
  }

  const path = (name: string) => `/webhooks/github/${name}`;
  type PushOptions = { ref?: string; after?: string; deleted?: boolean; delivery?: string; pushedAt?: number };
  const payloadOf = (options: PushOptions) =>
    pushPayload({
      ref: options.ref ?? 'refs/heads/main',
      after: options.after ?? sha(),
      repoUrl,
      deleted: options.deleted,
      pushedAt: options.pushedAt,
    });
  const push = (name: string, secret: string, options: PushOptions = {}) =>
    deliver(fx.app, path(name), { event: 'push', secret, delivery: options.delivery, payload: payloadOf(options) });
  const jobCount = async () => Object.values(await fx.queues.forNode(nodeId).getJobCounts()).reduce((a, b) => a + b, 0);

  describe('POST /apps/:name/webhook', function () {
    it('answers the URL and a secret once; only a sealed copy is stored', async function () {
      const { name, secret, res } = await appWithWebhook();
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.body.url).to.match(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/webhooks/github/${name}$`));
      expect(res.body).to.include({ contentType: 'application/json' });
      expect(res.body.events).to.deep.equal(['push']);
      // Over loopback with no GASPER_API_URL, the URL is one GitHub cannot reach: said.
      expect(res.body.warning).to.match(/^GitHub cannot reach 127\.0\.0\.1: set GASPER_API_URL/);
      expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
      const shown = (await fx.get(`/apps/${name}`).expect(200)).body.app;
      expect(shown.webhook).to.deep.equal({ createdAt: res.body.createdAt, lastPushAt: null });
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
      expect(res.body).to.not.have.property('warning');
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

    it("a push to the app's branch enqueues a deploy of exactly the pushed commit -> 202 with the job", async function () {
      const { name, secret } = await appWithWebhook();
      const after = sha();
      const res = await push(name, secret, { after, pushedAt: 1_900_000_000 });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      // The app says when GitHub received the push it deploys.
      expect((await fx.get(`/apps/${name}`).expect(200)).body.app.webhook.lastPushAt).to.equal(
        '2030-03-17T17:46:40.000Z',
      );
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
      // The release list will say a push made it.
      const [cause] = (await new ReleaseCauseStore(fx.redis).byRelease(name)).get('r000002')!;
      expect(cause).to.include({ by: 'github', reason: `push of ${after.slice(0, 12)} to main` });
    });

    it("follows the repository's default branch when the app names none", async function () {
      const name = appName('hook');
      await fx
        .post('/apps')
        .send(validBody(name, { repo: { url: repoUrl } }))
        .expect(202);
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
        event: 'push',
        secret,
        form: true,
        payload: pushPayload({ ref: 'refs/heads/main', after, repoUrl }),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.commit).to.equal(after);
    });

    const ignored: Array<
      [string, { ref: string; after?: string; deleted?: boolean } | 'tag-example' | 'tag-deleted-example', RegExp]
    > = [
      ['another branch', { ref: 'refs/heads/feature/x' }, /^push to branch feature\/x; the app deploys main$/],
      ["a tag (GitHub's tag example)", 'tag-example', /^tag push \(simple-tag\)/],
      ["a tag deletion (GitHub's example)", 'tag-deleted-example', /was deleted$/],
      [
        'a branch deletion',
        { ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true },
        /^refs\/heads\/main was deleted$/,
      ],
      ['the zero sha without "deleted"', { ref: 'refs/heads/main', after: '0'.repeat(40) }, /was deleted$/],
      ['a note ref', { ref: 'refs/notes/commits' }, /is not a branch$/],
    ];
    for (const [what, change, reason] of ignored) {
      it(`ignores ${what} -> 202 {ignored, reason}, nothing enqueued`, async function () {
        const { name, secret } = await appWithWebhook();
        let payload;
        if (change === 'tag-example')
          payload = githubExample('push', (p) => p.ref.startsWith('refs/tags/') && !p.deleted);
        else if (change === 'tag-deleted-example')
          payload = githubExample('push', (p) => p.ref.startsWith('refs/tags/') && p.deleted);
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
      const payload = pushPayload({
        ref: 'refs/heads/main',
        after: sha(),
        repoUrl: 'https://github.com/someone/else.git',
      });
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

    it('a redelivery (the same signed body) is not deployed twice -> 200 with the first job', async function () {
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
      const digest = crypto
        .createHash('sha256')
        .update(JSON.stringify(payloadOf({ after })))
        .digest('hex');
      expect(await fx.redis.ttl(keys.webhookPayload((await fx.apps.get(name))!.uid, digest))).to.be.greaterThan(
        6 * 24 * 3600,
      );
      // A new delivery of another push deploys.
      expect((await push(name, secret)).body.release).to.equal('r000003');
    });

    describe('replays: the delivery id is not signed, the body is', function () {
      it('a captured body sent again under a new X-GitHub-Delivery -> 200 duplicate, nothing enqueued', async function () {
        const { name, secret } = await appWithWebhook();
        const after = sha();
        const first = await push(name, secret, { after });
        expect(first.status, JSON.stringify(first.body)).to.equal(202);
        const before = await fx.snapshot();
        for (let i = 0; i < 5; i++) {
          const replay = await push(name, secret, { after, delivery: crypto.randomUUID() });
          expect(replay.status).to.equal(200);
          expect(replay.body).to.deep.include({ duplicate: true, job: first.body.job });
        }
        await fx.expectNothingCreated(before);
      });

      it('an older push after a newer one is not deployed: a replay cannot roll the app back', async function () {
        const { name, secret } = await appWithWebhook();
        const old = { after: sha(), pushedAt: 1_700_000_000 };
        const recent = { after: sha(), pushedAt: 1_700_000_600 };
        expect((await push(name, secret, old)).status).to.equal(202);
        expect((await push(name, secret, recent)).body.release).to.equal('r000003');
        // The old push, delivered again after the payload memory expired (or tweaked nowhere: it is signed).
        await fx.redis.del(...(await fx.redis.keys(keys.webhookPayload((await fx.apps.get(name))!.uid, '*'))));
        const before = await fx.snapshot();
        const replay = await push(name, secret, { ...old, delivery: crypto.randomUUID() });
        expect(replay.status).to.equal(202);
        expect(replay.body).to.deep.equal({
          ignored: true,
          reason:
            'push of 2023-11-14T22:13:20.000Z is older than the last deployed push (2023-11-14T22:23:20.000Z); not deployed again',
        });
        // The same push under its own payload memory is refused the same way, and so is the latest again.
        expect((await push(name, secret, { ...recent, delivery: crypto.randomUUID() })).body.reason).to.match(
          /was already deployed$/,
        );
        await fx.expectNothingCreated(before);
        expect((await fx.apps.get(name))?.pendingRelease).to.equal('r000003');
        // A force push back to the old commit is a new push (newer pushed_at): it deploys.
        const back = await push(name, secret, { after: old.after, pushedAt: 1_700_000_900 });
        expect(back.status, JSON.stringify(back.body)).to.equal(202);
        expect(back.body).to.include({ commit: old.after, release: 'r000004' });
        // Two pushes of one second both deploy.
        expect((await push(name, secret, { pushedAt: 1_700_000_900 })).body.release).to.equal('r000005');
      });

      it('concurrent deliveries of an old and a new push: the old one never deploys after the new', async function () {
        const { name, secret } = await appWithWebhook();
        expect((await push(name, secret, { pushedAt: 1_700_000_600 })).status).to.equal(202);
        const count = await jobCount();
        const answers = await Promise.all(
          [1_700_000_000, 1_700_000_100, 1_700_000_200].map((pushedAt) => push(name, secret, { pushedAt })),
        );
        expect(answers.map((r) => r.status)).to.deep.equal([202, 202, 202]);
        expect(answers.every((r) => r.body.ignored === true)).to.equal(true);
        expect(await jobCount()).to.equal(count);
      });
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

    describe('body size: at most GASPER_WEBHOOK_MAX_BYTES is ever read', function () {
      const limit = 2 * 1024 * 1024;
      let server: http.Server;
      let port: number;
      const sockets: net.Socket[] = [];
      before(async function () {
        server = http.createServer(fx.app);
        server.on('connection', (socket) => sockets.push(socket));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        port = (server.address() as net.AddressInfo).port;
      });
      after(async function () {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });

      /**
       * Streams `total` bytes (one reused 64 KiB chunk, so the client holds no such body) and
       * answers the status, and how many bytes the server read from the connection.
       */
      async function send(
        app: string,
        total: number,
        headers: Record<string, string>,
      ): Promise<{ status: number; body: string; read: number }> {
        const seen = sockets.length;
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: path(app),
              headers: {
                'content-type': 'application/json',
                'x-github-event': 'push',
                'x-github-delivery': crypto.randomUUID(),
                'x-hub-signature-256': `sha256=${'ab'.repeat(32)}`,
                ...headers,
              },
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            },
          );
          // The server closes the connection on a refusal: writing then fails, the answer came first.
          req.on('error', (err) => setTimeout(() => reject(err), 1000));
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          let sent = 0;
          const pump = () => {
            while (sent < total) {
              sent += chunk.length;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
            req.end();
          };
          pump();
        });
        const socket = sockets[seen]!;
        if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
        return { ...answer, read: socket.bytesRead };
      }
      const huge = 24 * 1024 * 1024;

      it('a declared Content-Length over the limit -> 413 before reading the body', async function () {
        const { name } = await appWithWebhook();
        const res = await send(name, huge, { 'content-length': String(huge) });
        expect(res.status, res.body).to.equal(413);
        expect(JSON.parse(res.body).code).to.equal('PAYLOAD_TOO_LARGE');
        expect(res.read, 'bytes the server read').to.be.below(1024 * 1024);
      });

      it('a chunked body past the limit -> 413 once the limit is passed, the rest unread', async function () {
        const { name } = await appWithWebhook();
        const res = await send(name, huge, { 'transfer-encoding': 'chunked' });
        expect(res.status, res.body).to.equal(413);
        expect(res.read, 'bytes the server read').to.be.below(limit + 1024 * 1024);
      });

      it("ten unsigned 24 MB bodies hardly move the API's memory", async function () {
        this.timeout(60_000);
        const { name } = await appWithWebhook();
        const before = process.memoryUsage().rss;
        for (let i = 0; i < 10; i++) {
          const res = await send(
            name,
            huge,
            i % 2 ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(huge) },
          );
          expect(res.status).to.equal(413);
        }
        const grown = (process.memoryUsage().rss - before) / 1024 / 1024;
        console.log(`      RSS grew ${grown.toFixed(1)} MB over ten 24 MB webhook bodies`);
        expect(grown).to.be.below(30);
      });

      it('a signed push over a configured smaller limit -> 413, nothing enqueued; under it -> 202', async function () {
        const { name, secret } = await appWithWebhook();
        const small = fx.withOptions({ webhookMaxBytes: 64 * 1024 });
        const payload = payloadOf({});
        payload.commits = [{ message: 'x'.repeat(70 * 1024) }];
        const before = await fx.snapshot();
        expectError(await deliver(small, path(name), { event: 'push', secret, payload }), 413, 'PAYLOAD_TOO_LARGE');
        await fx.expectNothingCreated(before);
        payload.commits = [];
        expect((await deliver(small, path(name), { event: 'push', secret, payload })).status).to.equal(202);
      });

      it('a compressed body -> 415 (GitHub sends them uncompressed)', async function () {
        const { name, secret } = await appWithWebhook();
        const body = zlib.gzipSync(JSON.stringify(payloadOf({})));
        const res = await supertest(fx.app)
          .post(path(name))
          .set('content-type', 'application/json')
          .set('content-encoding', 'gzip')
          .set('x-github-event', 'push')
          .set('x-github-delivery', crypto.randomUUID())
          .set('x-hub-signature-256', githubSignature(secret, body))
          .serialize((b: Buffer) => b as unknown as string)
          .send(body as unknown as object);
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      });
    });

    describe('signatures: 401 and nothing enqueued', function () {
      const cases: Array<[string, (secret: string, body: string) => string | undefined]> = [
        ['missing', () => undefined],
        ['signed with another secret', (_s, body) => githubSignature('not-the-secret', body)],
        ['of another body', (s, body) => githubSignature(s, `${body} `)],
        [
          'sha1 (X-Hub-Signature style)',
          (s, body) => `sha1=${crypto.createHmac('sha1', s).update(body).digest('hex')}`,
        ],
        ['malformed', () => 'sha256=xyz'],
        ['empty', () => ''],
        [
          'upper-case hex of the right HMAC',
          (s, body) => githubSignature(s, body).toUpperCase().replace('SHA256=', 'sha256='),
        ],
      ];
      for (const [what, signature] of cases) {
        it(`${what} -> 401`, async function () {
          const { name, secret } = await appWithWebhook();
          const payload = pushPayload({ ref: 'refs/heads/main', after: sha(), repoUrl });
          const sig = signature(secret, JSON.stringify(payload));
          const before = await fx.snapshot();
          const res = await deliver(fx.app, path(name), {
            event: 'push',
            payload,
            ...(sig === undefined ? {} : { signature: sig }),
          });
          expectError(res, 401, 'UNAUTHORIZED');
          await fx.expectNothingCreated(before);
        });
      }

      it('the admin token does not replace a signature', async function () {
        const { name } = await appWithWebhook();
        const before = await fx.snapshot();
        const res = await supertest(fx.app)
          .post(path(name))
          .set('authorization', `Bearer ${fx.token}`)
          .set('x-github-event', 'push')
          .send(pushPayload({ ref: 'refs/heads/main', after: sha(), repoUrl }));
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
