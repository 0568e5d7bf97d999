import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import {
  appName,
  expectError,
  expectFieldError,
  JOB_ATTEMPTS,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

describe('API /apps (real Redis, real BullMQ queues)', function () {
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

  describe('authentication', function () {
    const routes: Array<[method: 'get' | 'post' | 'delete', path: string]> = [
      ['get', '/apps'],
      ['post', '/apps'],
      ['get', '/apps/some-app'],
      ['delete', '/apps/some-app'],
      ['get', '/jobs/some-job'],
      ['get', '/no-such-route'],
    ];

    it('GET /healthz answers 200 without a token', async function () {
      const res = await supertest(fx.app).get('/healthz');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ ok: true });
    });

    it('GET /healthz answers 200 even with a wrong token', async function () {
      const res = await supertest(fx.app).get('/healthz').set('authorization', 'Bearer nope');
      expect(res.status).to.equal(200);
    });

    for (const [method, path] of routes) {
      it(`${method.toUpperCase()} ${path} without a token -> 401`, async function () {
        const before = await fx.snapshot();
        let req = supertest(fx.app)[method](path);
        if (method === 'post') req = req.send(validBody(appName('noauth')));
        const res = await req;
        expectError(res, 401, 'UNAUTHORIZED');
        await fx.expectNothingCreated(before);
      });

      it(`${method.toUpperCase()} ${path} with a wrong token -> 401`, async function () {
        const before = await fx.snapshot();
        let req = supertest(fx.app)[method](path).set('authorization', `Bearer ${fx.token}x`);
        if (method === 'post') req = req.send(validBody(appName('badauth')));
        const res = await req;
        expectError(res, 401, 'UNAUTHORIZED');
        await fx.expectNothingCreated(before);
      });
    }

    for (const header of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'gsp_wrong', 'Bearer a b']) {
      it(`rejects the malformed authorization header ${JSON.stringify(header)} -> 401`, async function () {
        const res = await supertest(fx.app).get('/apps').set('authorization', header);
        expectError(res, 401, 'UNAUTHORIZED');
      });
    }

    it('rejects the right token under another scheme -> 401', async function () {
      const res = await supertest(fx.app).get('/apps').set('authorization', `Basic ${fx.token}`);
      expectError(res, 401, 'UNAUTHORIZED');
    });

    it('a POST with a wrong token creates nothing even when the body is valid', async function () {
      const name = appName('sneaky');
      const before = await fx.snapshot();
      const res = await supertest(fx.app).post('/apps').set('authorization', 'Bearer gsp_guess').send(validBody(name));
      expectError(res, 401, 'UNAUTHORIZED');
      await fx.expectNothingCreated(before, name);
    });
  });

  describe('POST /apps', function () {
    it('creates the app, seals its env and enqueues a deploy job on the node -> 202', async function () {
      const name = appName('web');
      const secret = `s3cret-${suffix()}-value`;
      const res = await fx.post('/apps').send(validBody(name, { env: { DEBUG: '1', API_KEY: secret } }));
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.headers.location).to.equal(`/apps/${name}`);

      const app = res.body.app;
      expect(app.name).to.equal(name);
      expect(app.status).to.equal('queued');
      expect(app.url).to.equal(`http://${name}.apps.test:8088`);
      expect(app.repo).to.deep.equal({ url: 'file:///srv/git/demo.git', hasToken: false });
      expect(app.runtime).to.equal('node');
      expect(app.port).to.equal(8080); // the node runtime's default
      expect(app.node).to.equal(nodeId);
      expect(app.envKeys).to.deep.equal(['API_KEY', 'DEBUG']);
      expect(app).to.not.have.any.keys('env', 'sealedEnv', 'uid');
      expect(app.release).to.equal(null);
      expect(app.instances).to.deep.equal([]);
      expect(JSON.stringify(res.body)).to.not.include(secret);

      const doc = await fx.apps.get(name);
      expect(doc, 'stored app').to.not.equal(undefined);
      const release = 'r000001';
      const jobId = `deploy-${name}-${doc!.uid}-${release}`;
      expect(res.body.job).to.deep.equal({ id: jobId, url: `/jobs/${jobId}` });
      expect(app.lastJob).to.deep.equal({ id: jobId, url: `/jobs/${jobId}` });
      expect(doc!.lastJob).to.equal(jobId);
      expect(doc!.pendingRelease).to.equal(release);

      // The job really is in this node's BullMQ queue.
      const job = await fx.queues.forNode(nodeId).getJob(jobId);
      expect(job, 'job in the node queue').to.not.equal(undefined);
      expect(job!.name).to.equal('deploy-app');
      expect(job!.data).to.deep.equal({ app: name, uid: doc!.uid, release });
      expect(job!.opts.attempts).to.equal(JOB_ATTEMPTS);
      expect(await job!.getState()).to.equal('waiting');
      expect(await fx.redis.get(keys.jobQueue(jobId))).to.equal(`node-${nodeId}`);

      // Its status is readable through the API.
      const status = await fx.get(res.body.job.url);
      expect(status.status).to.equal(200);
      expect(status.body.job.id).to.equal(jobId);
      expect(status.body.job.type).to.equal('deploy-app');
      expect(status.body.job.queue).to.equal(`node-${nodeId}`);
      expect(status.body.job.state).to.equal('waiting');
      expect(status.body.job.progress).to.deep.equal({ percent: 0, step: 'waiting' });

      // Env values are sealed at rest: the raw Redis value never holds the plaintext.
      const raw = await fx.redis.get(keys.app(name));
      expect(raw).to.be.a('string');
      expect(raw).to.not.include(secret);
      const stored = JSON.parse(raw!);
      expect(stored).to.not.have.property('env');
      expect(Object.keys(stored.sealedEnv).sort()).to.deep.equal(['API_KEY', 'DEBUG']);
      expect(stored.sealedEnv.API_KEY).to.match(/^v1:/);
      expect(fx.secrets.open(stored.sealedEnv.API_KEY)).to.equal(secret);
      expect(fx.secrets.open(stored.sealedEnv.DEBUG)).to.equal('1');
      expect(await fx.redis.sismember(keys.apps, name)).to.equal(1);
      expect(await fx.redis.get(keys.appReleaseSeq(name))).to.equal('1');
    });

    it('keeps branch, build, run and port as given', async function () {
      const name = appName('full');
      const body = validBody(name, {
        repo: { url: 'https://git.example.com/team/site.git', branch: 'feature/new-ui' },
        runtime: 'python',
        build: ['pip install -r requirements.txt'],
        run: 'python3 server.py',
        port: 5000,
      });
      const before = await fx.snapshot();
      const res = await fx.post('/apps').send(body);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      // The before/after comparison the rejection tests rely on does see a creation.
      const after = await fx.snapshot();
      const added = after.keys.filter((k) => !before.keys.includes(k));
      expect(added).to.include.members([
        keys.app(name),
        keys.appReleaseSeq(name),
        keys.jobQueue(res.body.job.id),
        `gasper:bull:node-${nodeId}:${res.body.job.id}`,
      ]);
      expect(after.jobCounts[`node-${nodeId}`]!.waiting).to.equal(before.jobCounts[`node-${nodeId}`]!.waiting! + 1);
      expect(res.body.app).to.include({ runtime: 'python', run: 'python3 server.py', port: 5000 });
      expect(res.body.app.repo).to.deep.equal({
        url: 'https://git.example.com/team/site.git',
        branch: 'feature/new-ui',
        hasToken: false,
      });
      expect(res.body.app.build).to.deep.equal(['pip install -r requirements.txt']);
      expect(res.body.app.envKeys).to.deep.equal([]);
    });

    it('accepts a 40-character name and scp-like and ssh:// URLs', async function () {
      for (const url of ['git@github.com:team/repo.git', 'ssh://git@example.com/repo.git']) {
        const name = `${'a'.repeat(33)}-${suffix()}`;
        expect(name).to.have.length(40);
        const res = await fx.post('/apps').send(validBody(name, { repo: { url } }));
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
      }
    });

    it('accepts application/json with a charset', async function () {
      const name = appName('charset');
      const res = await fx
        .post('/apps')
        .set('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify(validBody(name)));
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
    });

    it('409 APP_EXISTS for a duplicate name, leaving the first app untouched', async function () {
      const name = appName('dup');
      const first = await fx.post('/apps').send(validBody(name, { env: { A: 'one' } }));
      expect(first.status).to.equal(202);
      const rawBefore = await fx.redis.get(keys.app(name));
      const before = await fx.snapshot();

      const res = await fx
        .post('/apps')
        .send(
          validBody(name, { runtime: 'static', env: { A: 'two' }, repo: { url: 'https://example.com/other.git' } }),
        );
      expectError(res, 409, 'APP_EXISTS');
      expect(res.body.fields).to.have.property('name');

      await fx.expectNothingCreated(before);
      expect(await fx.redis.get(keys.app(name)), 'first app unchanged').to.equal(rawBefore);
      const jobs = await fx.queues.forNode(nodeId).getJobs(['waiting', 'delayed', 'active', 'paused', 'prioritized']);
      expect(jobs.filter((j) => j.data.app === name)).to.have.length(1);
    });

    it('two concurrent creations of one name: one 202, one 409, one job', async function () {
      const name = appName('race');
      const results = await Promise.all([
        fx.post('/apps').send(validBody(name)),
        fx.post('/apps').send(validBody(name, { runtime: 'static' })),
      ]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([202, 409]);
      const jobs = await fx.queues.forNode(nodeId).getJobs(['waiting', 'delayed', 'active', 'paused', 'prioritized']);
      expect(jobs.filter((j) => j.data.app === name)).to.have.length(1);
      const winner = results.find((r) => r.status === 202)!;
      expect((await fx.apps.get(name))!.runtime).to.equal(winner.body.app.runtime);
    });
  });

  describe('POST /apps validation (400, nothing created)', function () {
    /** Sends `body`, expects a 400 naming `field`, and checks that nothing was written. */
    async function rejects(body: unknown, field: string, name?: string, target = fx.app) {
      const before = await fx.snapshot();
      const res = await fx.post('/apps', target).send(body as object);
      expectFieldError(res, field);
      await fx.expectNothingCreated(before, name ?? ((body as { name?: unknown })?.name as string | undefined));
      return res;
    }

    describe('name', function () {
      const cases: Array<[string, string]> = [
        ['uppercase', `MyApp-${suffix()}`],
        ['41 characters', `${'a'.repeat(34)}-${suffix()}`],
        ['reserved "api"', 'api'],
        ['reserved "admin"', 'admin'],
        ['leading dash', `-app${suffix()}`],
        ['trailing dash', `app${suffix()}-`],
        ['double dash', `a--${suffix()}`],
        ['underscore', `my_app${suffix()}`],
        ['dot', `my.app${suffix()}`],
        ['empty', ''],
      ];
      for (const [label, name] of cases) {
        it(`rejects ${label} (${JSON.stringify(name)})`, async function () {
          if (label === '41 characters') expect(name).to.have.length(41);
          await rejects(validBody(name), 'name');
        });
      }

      it('rejects a missing name', async function () {
        const body = validBody('x');
        delete body.name;
        await rejects(body, 'name');
      });

      it('rejects a non-string name', async function () {
        await rejects(validBody('x', { name: 42 }), 'name', '42');
      });
    });

    describe('repo.url', function () {
      const cases = [
        'ext::sh -c x',
        'ext::sh',
        '--upload-pack=x',
        '-oProxyCommand=x',
        'ssh://-oProxyCommand=x/repo.git',
        'ftp://x',
        'ftp://example.com/repo.git',
        'not a url',
        '/srv/git/demo.git',
        '',
        'https://example.com/re po.git',
        'https://example.com/repo\n.git',
      ];
      for (const url of cases) {
        it(`rejects ${JSON.stringify(url)}`, async function () {
          await rejects(validBody(appName('url'), { repo: { url } }), 'repo.url');
        });
      }

      it('rejects file:// when local repositories are not allowed', async function () {
        const strict = fx.withOptions({ allowLocalRepos: false });
        const res = await rejects(
          validBody(appName('local'), { repo: { url: 'file:///srv/git/demo.git' } }),
          'repo.url',
          undefined,
          strict,
        );
        expect(res.body.fields['repo.url']).to.match(/file/);
      });

      // #11 item 7: git's option-injection forms, refused whatever the operator allows.
      for (const url of [
        'ssh://%2DoProxyCommand=touch%20x/r.git',
        'git@example.com:--upload-pack=x',
        'x@-oProxyCommand:x',
        'ssh://git@example.com/%2Dx',
      ]) {
        it(`rejects the option-injection form ${JSON.stringify(url)}`, async function () {
          const res = await rejects(validBody(appName('inj'), { repo: { url } }), 'repo.url');
          expect(res.body.fields['repo.url']).to.match(/"-"/);
        });
      }

      // #11 item 7: hosts on this machine, its networks or a metadata service, in any spelling.
      const internal: Array<[string, RegExp]> = [
        ['http://2130706433/r.git', /127\.0\.0\.1.*loopback/],
        ['http://0x7f.1/r.git', /loopback/],
        ['git://0177.0.0.1/r.git', /loopback/],
        ['git://127.0.0.1:9418/r.git', /loopback/],
        ['https://localhost/r.git', /localhost resolves to a loopback address/],
        ['http://[::1]:8080/r.git', /loopback/],
        ['http://[::ffff:127.0.0.1]/r.git', /loopback/],
        ['ssh://git@10.1.2.3/r.git', /private/],
        ['git@192.168.1.1:r.git', /private/],
        ['http://172.17.0.1:3000/r.git', /private/],
        ['http://100.64.0.1/r.git', /CGNAT/],
        ['http://169.254.169.254/latest/meta-data/', /metadata/],
        ['http://[fd00:ec2::254]/r.git', /metadata/],
        ['http://169.254.10.10/r.git', /link-local/],
        ['http://0.0.0.0:3000/r.git', /unspecified/],
        ['http://0/r.git', /unspecified/],
      ];
      for (const [url, message] of internal) {
        it(`rejects ${url} when local repositories are not allowed`, async function () {
          const strict = fx.withOptions({ allowLocalRepos: false });
          const res = await rejects(validBody(appName('net'), { repo: { url } }), 'repo.url', undefined, strict);
          expect(res.body.fields['repo.url']).to.match(message);
        });
      }

      it('rejects a metadata address even when local repositories are allowed', async function () {
        const res = await rejects(
          validBody(appName('meta'), { repo: { url: 'http://169.254.169.254/r.git' } }),
          'repo.url',
        );
        expect(res.body.fields['repo.url']).to.match(/metadata/);
      });

      it('accepts a host it cannot resolve now (the worker checks again when it clones)', async function () {
        const strict = fx.withOptions({ allowLocalRepos: false });
        const name = appName('unres');
        await fx
          .post('/apps', strict)
          .send(validBody(name, { repo: { url: 'https://git.example.invalid/r.git' } }))
          .expect(202);
        await fx.del(`/apps/${name}`).expect(202);
      });

      it('rejects a missing url', async function () {
        await rejects(validBody(appName('nourl'), { repo: {} }), 'repo.url');
      });

      it('rejects a missing repo', async function () {
        const body = validBody(appName('norepo'));
        delete body.repo;
        await rejects(body, 'repo');
      });

      it('rejects a non-string url', async function () {
        await rejects(validBody(appName('numurl'), { repo: { url: 7 } }), 'repo.url');
      });
    });

    describe('repo credentials (#11 item 8)', function () {
      const token = `ghp_${suffix()}${suffix()}${suffix()}`;
      const everything = async () => {
        const parts: string[] = [];
        for (const key of await fx.redis.keys('*')) {
          const type = await fx.redis.type(key);
          if (type === 'string') parts.push(key, (await fx.redis.get(key)) ?? '');
          else if (type === 'hash') parts.push(key, JSON.stringify(await fx.redis.hgetall(key)));
          else if (type === 'list') parts.push(key, JSON.stringify(await fx.redis.lrange(key, 0, -1)));
          else if (type === 'stream') parts.push(key, JSON.stringify(await fx.redis.xrange(key, '-', '+')));
          else parts.push(key);
        }
        return parts.join('\n');
      };

      it('never shows credentials a document from before sealed tokens kept in its URL', async function () {
        const name = appName('oldcreds');
        const old = 'ghp_stored-by-an-older-version';
        await fx
          .post('/apps')
          .send(validBody(name, { repo: { url: 'https://github.com/o/r.git' } }))
          .expect(202);
        // As an older version stored it: the token inside the URL.
        const stored = JSON.parse((await fx.redis.get(keys.app(name)))!);
        await fx.redis.set(
          keys.app(name),
          JSON.stringify({ ...stored, repo: { url: `https://alice:${old}@github.com/o/r.git` } }),
        );
        expect(JSON.stringify((await fx.get(`/apps/${name}`).expect(200)).body)).not.to.include(old);
        expect(JSON.stringify((await fx.get('/apps').expect(200)).body)).not.to.include(old);
        await fx.redis.set(keys.app(name), JSON.stringify(stored));
        await fx.del(`/apps/${name}`).expect(202);
      });

      it('moves credentials out of an https URL into a sealed secret, shows only that one is set, and PATCH removes or sets it', async function () {
        const name = appName('creds');
        const res = await fx
          .post('/apps')
          .send(validBody(name, { repo: { url: `https://alice:${token}@github.com/o/r.git` } }))
          .expect(202);
        expect(res.body.app.repo).to.deep.equal({ url: 'https://github.com/o/r.git', hasToken: true });
        expect(JSON.stringify((await fx.get('/apps').expect(200)).body)).not.to.include(token);
        expect(JSON.stringify((await fx.get(`/apps/${name}`).expect(200)).body)).not.to.include(token);
        const stored = await everything();
        expect(stored).to.include('github.com/o/r.git');
        expect(stored).not.to.include(token);

        const removed = await fx
          .patch(`/apps/${name}`)
          .send({ repo: { token: null } })
          .expect(200);
        expect(removed.body).to.deep.include({ changed: ['repo.token'], redeploy: false });
        expect(removed.body.app.repo).to.deep.equal({ url: 'https://github.com/o/r.git', hasToken: false });
        const set = await fx
          .patch(`/apps/${name}`)
          .send({ repo: { token, username: 'alice' } })
          .expect(200);
        expect(set.body.app.repo.hasToken).to.equal(true);
        expect(await everything()).not.to.include(token);
        await fx.del(`/apps/${name}`).expect(202);
      });

      it('refuses a token for a non-https URL, credentials given twice, a password in an ssh URL, a bad username', async function () {
        await rejects(validBody(appName('tok'), { repo: { url: 'ssh://git@example.com/r.git', token } }), 'repo.token');
        // Over http:// the token would travel in clear: only for local test servers.
        const strict = fx.withOptions({ allowLocalRepos: false });
        const plain = await fx
          .post('/apps', strict)
          .send(validBody(appName('tok'), { repo: { url: 'http://example.com/r.git', token } }));
        expectFieldError(plain, 'repo.token');
        expect(plain.body.fields['repo.token']).to.match(/only over https/);
        expectFieldError(
          await fx
            .post('/apps', strict)
            .send(validBody(appName('tok'), { repo: { url: `http://a:${token}@example.com/r.git` } })),
          'repo.url',
        );
        await rejects(validBody(appName('tok'), { repo: { url: 'https://a:b@example.com/r.git', token } }), 'repo.url');
        await rejects(validBody(appName('tok'), { repo: { url: 'ssh://git:pw@example.com/r.git' } }), 'repo.url');
        await rejects(
          validBody(appName('tok'), { repo: { url: 'https://example.com/r.git', token, username: 'a:b' } }),
          'repo.username',
        );
        await rejects(
          validBody(appName('tok'), { repo: { url: 'https://example.com/r.git', token: 'has space' } }),
          'repo.token',
        );
        await rejects(
          validBody(appName('tok'), { repo: { url: 'https://example.com/r.git', username: 'alone' } }),
          'repo.username',
        );
        const name = appName('sshpatch');
        await fx
          .post('/apps')
          .send(validBody(name, { repo: { url: 'git@example.com:o/r.git' } }))
          .expect(202);
        expectFieldError(await fx.patch(`/apps/${name}`).send({ repo: { token } }), 'repo.token');
        await fx.del(`/apps/${name}`).expect(202);
      });
    });

    describe('repo.branch', function () {
      for (const branch of [
        '-x',
        'a..b',
        'a b',
        'a~1',
        'a^',
        'a:b',
        'a?',
        'a*',
        'a[b',
        'a\\b',
        '@',
        'a@{1}',
        '/a',
        'a/',
        'a.',
        'a//b',
        '.a',
        'a.lock',
        '',
      ]) {
        it(`rejects ${JSON.stringify(branch)}`, async function () {
          await rejects(
            validBody(appName('br'), { repo: { url: 'https://example.com/r.git', branch } }),
            'repo.branch',
          );
        });
      }
    });

    describe('repo.path', function () {
      for (const path of ['/abs', '../up', 'a/../../b', 'a\\b', '.git/hooks', '', 'a\nb']) {
        it(`rejects ${JSON.stringify(path)}`, async function () {
          await rejects(validBody(appName('rp'), { repo: { url: 'https://example.com/r.git', path } }), 'repo.path');
        });
      }
    });

    it('rejects an unknown runtime ("cobol")', async function () {
      const res = await rejects(validBody(appName('rt'), { runtime: 'cobol' }), 'runtime');
      expect(res.body.fields.runtime).to.include('node');
    });

    it('rejects a missing runtime with builder "runtime", naming both options', async function () {
      const body = validBody(appName('nort'), { builder: 'runtime' });
      delete body.runtime;
      const res = await rejects(body, 'runtime');
      expect(res.body.fields.runtime).to.include('name a runtime').and.include('Dockerfile');
    });

    for (const [path, field] of [
      ['../Dockerfile', 'dockerfile.path'],
      ['/etc/Dockerfile', 'dockerfile.path'],
      ['a/../../b', 'dockerfile.context'],
    ] as const) {
      it(`rejects ${field} ${JSON.stringify(path)} (outside the repository)`, async function () {
        const key = field === 'dockerfile.path' ? 'path' : 'context';
        await rejects(validBody(appName('dfp'), { dockerfile: { [key]: path } }), field);
      });
    }

    it('rejects a Dockerfile outside its build context, and a bad build arg name', async function () {
      await rejects(
        validBody(appName('dfc'), { dockerfile: { path: 'x/Dockerfile', context: 'app' } }),
        'dockerfile.path',
      );
      await rejects(validBody(appName('dfa'), { buildArgs: ['NOT-A-NAME'] }), 'buildArgs.0');
    });

    for (const port of [0, 70000, '80', 80.5, -1]) {
      it(`rejects port ${JSON.stringify(port)}`, async function () {
        await rejects(validBody(appName('port'), { port }), 'port');
      });
    }

    it('rejects an env variable named "1X"', async function () {
      await rejects(validBody(appName('env'), { env: { '1X': 'v' } }), 'env.1X');
    });

    it('rejects an env variable named "A-B"', async function () {
      await rejects(validBody(appName('env'), { env: { 'A-B': 'v' } }), 'env.A-B');
    });

    it('rejects the reserved env variable PORT', async function () {
      await rejects(validBody(appName('envport'), { env: { PORT: '3000' } }), 'env.PORT');
    });

    it('rejects a non-string env value', async function () {
      await rejects(validBody(appName('envnum'), { env: { A: 1 } }), 'env.A');
    });

    it('rejects env that is not an object', async function () {
      await rejects(validBody(appName('envarr'), { env: 'A=1' }), 'env');
    });

    it('rejects build that is not an array', async function () {
      await rejects(validBody(appName('build'), { build: 'npm ci' }), 'build');
    });

    it('rejects an empty build step', async function () {
      await rejects(validBody(appName('build'), { build: ['npm ci', ''] }), 'build.1');
    });

    it('rejects an empty run command', async function () {
      await rejects(validBody(appName('run'), { run: '' }), 'run');
    });

    it('rejects an unknown top-level field (strict), naming it', async function () {
      const before = await fx.snapshot();
      const name = appName('extra');
      const res = await fx.post('/apps').send(validBody(name, { replicas: 3 }));
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.fields).to.deep.equal({ replicas: 'unknown field' });
      await fx.expectNothingCreated(before, name);
    });

    it('rejects an unknown field inside repo (strict), naming it', async function () {
      const name = appName('extra');
      const res = await rejects(
        validBody(name, { repo: { url: 'https://example.com/r.git', password: 'x' } }),
        'repo.password',
        name,
      );
      expect(res.body.fields['repo.password']).to.equal('unknown field');
    });

    it('reports every invalid field at once', async function () {
      const before = await fx.snapshot();
      const res = await fx.post('/apps').send({ name: 'BAD', repo: { url: 'ext::sh' }, runtime: 'cobol', port: 0 });
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.fields).to.have.all.keys('name', 'repo.url', 'runtime', 'port');
      await fx.expectNothingCreated(before, 'BAD');
    });

    it('rejects an empty JSON object', async function () {
      const before = await fx.snapshot();
      const res = await fx.post('/apps').send({});
      expectError(res, 400, 'VALIDATION_FAILED');
      // No runtime is needed up front: an app may be built from its Dockerfile alone.
      expect(res.body.fields).to.include.keys('name', 'repo');
      await fx.expectNothingCreated(before);
    });

    it('rejects a POST without a body', async function () {
      const before = await fx.snapshot();
      const res = await fx.post('/apps');
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.fields).to.include.keys('name');
      await fx.expectNothingCreated(before);
    });

    it('rejects a JSON array body', async function () {
      const before = await fx.snapshot();
      const res = await fx.post('/apps').set('content-type', 'application/json').send('[]');
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.fields).to.be.an('object');
      await fx.expectNothingCreated(before);
    });

    for (const text of ['{"name": "x",', '{bad json}', 'null', '"a string"']) {
      it(`400 INVALID_JSON for ${JSON.stringify(text)}`, async function () {
        const before = await fx.snapshot();
        const res = await fx.post('/apps').set('content-type', 'application/json').send(text);
        expectError(res, 400, 'INVALID_JSON');
        await fx.expectNothingCreated(before);
      });
    }

    it('explains why PORT is rejected (the schema message reaches the client)', async function () {
      const res = await fx.post('/apps').send(validBody(appName('envmsg'), { env: { PORT: '3000' } }));
      expectFieldError(res, 'env.PORT');
      expect(res.body.fields['env.PORT']).to.match(/PORT is set by Gasper/);
    });

    it('explains why an env name is rejected (the schema message reaches the client)', async function () {
      const res = await fx.post('/apps').send(validBody(appName('envmsg'), { env: { '1X': 'v' } }));
      expectFieldError(res, 'env.1X');
      expect(res.body.fields['env.1X']).to.match(/letters, digits and _/);
    });
    it('refuses an env variable named __proto__ instead of dropping it (POST and PATCH)', async function () {
      const name = appName('proto');
      const before = await fx.snapshot();
      const body = JSON.stringify(validBody(name, {})).replace(/}$/, ',"env":{"__proto__":"x","A":"b"}}');
      const res = await fx.post('/apps').set('content-type', 'application/json').send(body);
      expectFieldError(res, 'env.__proto__');
      expect(res.body.fields['env.__proto__']).to.match(/__proto__ cannot be a variable name/);
      await fx.expectNothingCreated(before);
      await fx.post('/apps').send(validBody(name)).expect(202);
      const patched = await fx
        .patch(`/apps/${name}`)
        .set('content-type', 'application/json')
        .send('{"env":{"__proto__":"x"}}');
      expectFieldError(patched, 'env.__proto__');
    });
  });

  describe('POST /apps body size and media type', function () {
    it('413 PAYLOAD_TOO_LARGE over a configured small limit', async function () {
      const small = fx.withOptions({ bodyLimit: '1kb' });
      const name = appName('big');
      const before = await fx.snapshot();
      const res = await fx.post('/apps', small).send(validBody(name, { env: { BLOB: 'x'.repeat(2048) } }));
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
      await fx.expectNothingCreated(before, name);
    });

    it('the same body is accepted under the default limit', async function () {
      const name = appName('big');
      const res = await fx.post('/apps').send(validBody(name, { env: { BLOB: 'x'.repeat(2048) } }));
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
    });

    it('413 PAYLOAD_TOO_LARGE over the default 256kb', async function () {
      const name = appName('huge');
      const before = await fx.snapshot();
      const body = validBody(name, {
        build: Array.from({ length: 40 }, () => 'x'.repeat(4000)),
        run: 'y'.repeat(4000),
        env: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`V${i}`, 'z'.repeat(8000)])),
      });
      expect(JSON.stringify(body).length).to.be.greaterThan(256 * 1024);
      const res = await fx.post('/apps').send(body);
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
      await fx.expectNothingCreated(before, name);
    });

    for (const [type, text] of [
      ['text/plain', JSON.stringify(validBody('plain-text-app'))],
      ['application/x-www-form-urlencoded', 'name=form-app&runtime=node'],
      ['application/xml', '<app name="xml-app"/>'],
    ] as const) {
      it(`415 UNSUPPORTED_MEDIA_TYPE for ${type}`, async function () {
        const before = await fx.snapshot();
        const res = await fx.post('/apps').set('content-type', type).send(text);
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
        await fx.expectNothingCreated(before);
      });
    }

    it('415 UNSUPPORTED_MEDIA_TYPE for a body without a content type', async function () {
      const before = await fx.snapshot();
      const res = await rawPost(fx, '/apps', { 'content-length': '2' }, ['{}']);
      expect(res.status, res.text).to.equal(415);
      expect(JSON.parse(res.text).code).to.equal('UNSUPPORTED_MEDIA_TYPE');
      await fx.expectNothingCreated(before);
    });

    it('415 UNSUPPORTED_MEDIA_TYPE for a non-JSON body sent chunked (no content-length)', async function () {
      const before = await fx.snapshot();
      const res = await rawPost(fx, '/apps', { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }, [
        JSON.stringify(validBody('chunked-app')),
      ]);
      expect(res.status, res.text).to.equal(415);
      expect(JSON.parse(res.text).code).to.equal('UNSUPPORTED_MEDIA_TYPE');
      await fx.expectNothingCreated(before, 'chunked-app');
    });
  });

  describe('chunked JSON', function () {
    it('a JSON body sent chunked (no content-length) is accepted -> 202', async function () {
      const name = appName('chunked');
      const res = await rawPost(fx, '/apps', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, [
        JSON.stringify(validBody(name)).slice(0, 10),
        JSON.stringify(validBody(name)).slice(10),
      ]);
      expect(res.status, res.text).to.equal(202);
      expect(JSON.parse(res.text).app.name).to.equal(name);
    });
  });

  describe('GET /apps and GET /apps/:name', function () {
    let names: string[];

    before(async function () {
      names = [appName('list-b'), appName('list-a')];
      for (const name of names) {
        const res = await fx.post('/apps').send(validBody(name, { env: { TOKEN: `hidden-${name}` } }));
        expect(res.status).to.equal(202);
      }
    });

    it('GET /apps lists every app, sorted by name, without env values', async function () {
      const res = await fx.get('/apps');
      expect(res.status).to.equal(200);
      expect(res.body.apps).to.be.an('array');
      const listed = res.body.apps.map((a: { name: string }) => a.name);
      for (const name of names) expect(listed).to.include(name);
      expect(listed).to.deep.equal([...listed].sort());
      expect(await fx.redis.scard(keys.apps)).to.equal(listed.length);
      for (const name of names) expect(JSON.stringify(res.body)).to.not.include(`hidden-${name}`);
      const one = res.body.apps.find((a: { name: string }) => a.name === names[0]);
      expect(one.envKeys).to.deep.equal(['TOKEN']);
      expect(one.status).to.equal('queued');
    });

    it('GET /apps/:name -> 200 with the app', async function () {
      const name = names[0]!;
      const res = await fx.get(`/apps/${name}`);
      expect(res.status).to.equal(200);
      expect(res.body.app.name).to.equal(name);
      expect(res.body.app.url).to.equal(`http://${name}.apps.test:8088`);
      expect(res.body.app.envKeys).to.deep.equal(['TOKEN']);
      expect(res.body.app.lastJob.id).to.match(new RegExp(`^deploy-${name}-`));
      expect(JSON.stringify(res.body)).to.not.include(`hidden-${name}`);
    });

    it('GET /apps/:name of an unknown app -> 404 NOT_FOUND', async function () {
      const before = await fx.snapshot();
      const res = await fx.get(`/apps/${appName('ghost')}`);
      expectError(res, 404, 'NOT_FOUND');
      await fx.expectNothingCreated(before);
    });

    it('GET /apps/:name with an invalid name -> 404 NOT_FOUND', async function () {
      const res = await fx.get('/apps/NOT_VALID');
      expectError(res, 404, 'NOT_FOUND');
    });
  });

  describe('DELETE /apps/:name', function () {
    it('marks the app deleting and enqueues a delete job -> 202; again -> same job', async function () {
      const name = appName('del');
      const created = await fx.post('/apps').send(validBody(name));
      expect(created.status).to.equal(202);
      const uid = (await fx.apps.get(name))!.uid;

      const res = await fx.del(`/apps/${name}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.app.name).to.equal(name);
      expect(res.body.app.status).to.equal('deleting');
      const jobId = `delete-${name}-${uid}`;
      expect(res.body.job).to.deep.equal({ id: jobId, url: `/jobs/${jobId}` });
      expect(res.body.app.lastJob).to.deep.equal({ id: jobId, url: `/jobs/${jobId}` });

      const job = await fx.queues.forNode(nodeId).getJob(jobId);
      expect(job, 'delete job in the node queue').to.not.equal(undefined);
      expect(job!.name).to.equal('delete-app');
      expect(job!.data).to.deep.equal({ app: name, uid });
      expect(await job!.getState()).to.equal('waiting');

      const stored = await fx.apps.get(name);
      expect(stored!.status).to.equal('deleting');
      expect(stored!.lastJob).to.equal(jobId);
      expect((await fx.get(`/apps/${name}`)).body.app.status).to.equal('deleting');

      const jobView = await fx.get(`/jobs/${jobId}`);
      expect(jobView.status).to.equal(200);
      expect(jobView.body.job).to.include({ id: jobId, type: 'delete-app', state: 'waiting' });

      // Idempotent: the same job, and no second one.
      const countsBefore = await fx.queues.forNode(nodeId).getJobCounts();
      const again = await fx.del(`/apps/${name}`);
      expect(again.status).to.equal(202);
      expect(again.body.job).to.deep.equal({ id: jobId, url: `/jobs/${jobId}` });
      expect(again.body.app.status).to.equal('deleting');
      expect(await fx.queues.forNode(nodeId).getJobCounts()).to.deep.equal(countsBefore);
      const jobs = await fx.queues.forNode(nodeId).getJobs(['waiting', 'delayed', 'active', 'paused', 'prioritized']);
      expect(jobs.filter((j) => j.name === 'delete-app' && j.data.app === name)).to.have.length(1);
    });

    it('DELETE of an unknown app -> 404 NOT_FOUND, nothing created', async function () {
      const name = appName('ghost');
      const before = await fx.snapshot();
      const res = await fx.del(`/apps/${name}`);
      expectError(res, 404, 'NOT_FOUND');
      await fx.expectNothingCreated(before, name);
    });
  });

  describe('unknown routes', function () {
    for (const [method, path] of [
      ['get', '/nope'],
      ['get', '/apps/a/b'],
      ['post', '/jobs'],
      ['put', '/apps/x'],
      ['delete', '/apps'],
    ] as const) {
      it(`${method.toUpperCase()} ${path} -> 404 NOT_FOUND JSON`, async function () {
        const before = await fx.snapshot();
        const res = await supertest(fx.app)[method](path).set('authorization', `Bearer ${fx.token}`);
        expectError(res, 404, 'NOT_FOUND');
        await fx.expectNothingCreated(before);
      });
    }
  });
});

describe('API placement without a live node (503)', function () {
  let fx: ApiFixture;

  before(async function () {
    fx = await startApiFixture({ nodeTimeoutMs: 15_000 });
  });

  after(async function () {
    await fx?.close();
  });

  it('503 NO_NODE_AVAILABLE when no node has registered, nothing created', async function () {
    const name = appName('nonode');
    const before = await fx.snapshot();
    const res = await fx.post('/apps').send(validBody(name));
    expectError(res, 503, 'NO_NODE_AVAILABLE');
    await fx.expectNothingCreated(before, name);
  });

  it('503 NO_NODE_AVAILABLE when the only node is stale, nothing created', async function () {
    await fx.registerNode(`a-stale-${suffix()}`, new Date(Date.now() - 15_000 - 5_000));
    const name = appName('stale');
    const before = await fx.snapshot();
    const res = await fx.post('/apps').send(validBody(name));
    expectError(res, 503, 'NO_NODE_AVAILABLE');
    await fx.expectNothingCreated(before, name);
  });

  it('validation still comes first: an invalid body is 400, not 503', async function () {
    const res = await fx.post('/apps').send(validBody('BAD'));
    expectFieldError(res, 'name');
  });

  it('places on a live node, never on the stale one', async function () {
    const live = `b-live-${suffix()}`;
    await fx.registerNode(live);
    const name = appName('placed');
    const res = await fx.post('/apps').send(validBody(name));
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.app.node).to.equal(live);
    expect(await fx.queues.forNode(live).getJob(res.body.job.id)).to.not.equal(undefined);
  });
});

/** A request written by hand, for what supertest always sets (content-length, content-type). */
async function rawPost(
  fx: ApiFixture,
  path: string,
  headers: Record<string, string>,
  chunks: string[],
): Promise<{ status: number; text: string }> {
  const server = http.createServer(fx.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, method: 'POST', headers: { authorization: `Bearer ${fx.token}`, ...headers } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
