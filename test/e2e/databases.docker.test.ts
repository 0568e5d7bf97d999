import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { databaseLabel } from '../../src/core/database-naming.ts';
import { keys } from '../../src/core/keys.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { createDatabase, eventually, requireDatabaseImages, type CreatedDatabase } from '../support/databases.ts';
import { databaseContainer, docker, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

const execFileAsync = promisify(execFile);

/**
 * Databases end to end with real parts: REST call → job → node worker → Docker, then the real
 * clients (pg, mysql2, ioredis) from the host through the port published on 127.0.0.1.
 */
describe('databases through the API (Docker, Redis, pg, mysql2, ioredis)', function () {
  this.timeout(600_000);
  let gasper: TestPlatform;
  let redis: Redis;
  const unique = (base: string) => `${base}-${crypto.randomBytes(3).toString('hex')}`;

  before(async () => {
    await requireDocker();
    await requireDatabaseImages(['postgres', 'mysql', 'redis']);
    gasper = await startTestPlatform();
    redis = connectRedis(gasper.platform.redisUrl);
  });
  after(async () => {
    redis?.disconnect();
    // Databases a failed test left behind: the platform removes containers, not volumes or networks.
    const volumes =
      (await docker.listVolumes({ filters: { label: [`io.gasper.node=${gasper?.nodeId}`] } })).Volumes ?? [];
    const networks = await docker.listNetworks({ filters: { label: [`io.gasper.node=${gasper?.nodeId}`] } });
    await gasper?.close();
    await Promise.all(
      volumes.map((v) =>
        docker
          .getVolume(v.Name)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    await Promise.all(
      networks.map((n) =>
        docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => {}),
      ),
    );
  });

  async function pgQuery(url: string, sql: string, params: unknown[] = []) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  async function myQuery(url: string, sql: string) {
    const conn = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
    try {
      return (await conn.query(sql))[0] as Record<string, unknown>[];
    } finally {
      await conn.end();
    }
  }

  async function withRedis<T>(url: string, use: (r: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(url, {
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 5000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      return await use(client);
    } finally {
      client.disconnect();
    }
  }

  /** Restarts the container and waits until the worker's monitor has seen it running again. */
  async function restartContainer(name: string): Promise<void> {
    await (await databaseContainer(name)).restart({ t: 5 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { status } = (await gasper.api().get(`/databases/${name}`).expect(200)).body.database;
      if (status === 'running') return;
      if (Date.now() > deadline) throw new Error(`database ${name} still ${status} a minute after its restart`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function deleteDatabase(name: string): Promise<void> {
    const res = await gasper.api().delete(`/databases/${name}`).expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
  }

  async function runJob(path: string, body: Record<string, unknown> = {}) {
    const res = await gasper.api().post(path).send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await gasper.waitForJob(res.body.job.id, 120_000);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    return res.body;
  }

  /** The id of the only backup listed, after checking its size and time. */
  async function onlyBackup(name: string): Promise<string> {
    const list = (await gasper.api().get(`/databases/${name}/backups`).expect(200)).body.backups;
    expect(list).to.have.length(1);
    expect(list[0].size).to.be.greaterThan(0);
    expect(Date.parse(list[0].createdAt)).to.be.closeTo(Date.now(), 120_000);
    return list[0].id;
  }

  describe('postgres', () => {
    let a: CreatedDatabase;
    let b: CreatedDatabase;
    before(async () => {
      [a, b] = await Promise.all([
        createDatabase(gasper, unique('pg'), 'postgres'),
        createDatabase(gasper, unique('pg'), 'postgres'),
      ]);
    });

    it('shows the password once: the 202 has it, GET and the stored document do not', async () => {
      expect(a.url).to.match(
        new RegExp(
          `^postgres://u_${a.name.replace(/-/g, '_')}:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:\\d+/${a.name.replace(/-/g, '_')}$`,
        ),
      );
      const view = (await gasper.api().get(`/databases/${a.name}`).expect(200)).body.database;
      expect(view).to.include({
        name: a.name,
        engine: 'postgres',
        status: 'running',
        host: '127.0.0.1',
        port: a.port,
        node: gasper.nodeId,
      });
      expect(view.user).to.equal(`u_${a.name.replace(/-/g, '_')}`);
      const list = (await gasper.api().get('/databases').expect(200)).body;
      for (const text of [JSON.stringify(view), JSON.stringify(list), String(await redis.get(keys.database(a.name)))]) {
        expect(text).not.to.include(a.password);
      }
      const info = await (await databaseContainer(a.name)).inspect();
      expect(info.HostConfig.PortBindings?.['5432/tcp']?.[0]).to.deep.equal({
        HostIp: '127.0.0.1',
        HostPort: String(a.port),
      });
      expect(info.HostConfig.RestartPolicy?.Name).to.equal('unless-stopped');
      expect(Object.keys(info.NetworkSettings.Networks)).to.deep.equal([info.HostConfig.NetworkMode]);
      expect(info.HostConfig.NetworkMode).to.not.equal('bridge').and.not.equal('default');
    });

    it('writes, reads, and reads again after a container restart', async () => {
      await pgQuery(a.url, 'CREATE TABLE items (id int PRIMARY KEY, label text)');
      await pgQuery(a.url, "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
      expect(await pgQuery(a.url, 'SELECT label FROM items ORDER BY id')).to.deep.equal([
        { label: 'one' },
        { label: 'two' },
      ]);
      await restartContainer(a.name);
      const rows = await eventually(() => pgQuery(a.url, 'SELECT label FROM items ORDER BY id'));
      expect(rows).to.deep.equal([{ label: 'one' }, { label: 'two' }]);
    });

    it('refuses a wrong password and the credentials of another database', async () => {
      const wrong = new URL(a.url);
      wrong.password = 'not-the-password';
      let err = await pgQuery(wrong.toString(), 'SELECT 1').catch((e: Error) => e);
      expect(err)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/password authentication failed/);
      // A's user and password against B's server, and against B's database name.
      const cross = new URL(a.url);
      cross.port = String(b.port);
      err = await pgQuery(cross.toString(), 'SELECT 1').catch((e: Error) => e);
      expect(err)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/password authentication failed/);
      cross.pathname = `/${b.name.replace(/-/g, '_')}`;
      err = await pgQuery(cross.toString(), 'SELECT 1').catch((e: Error) => e);
      expect(err).to.be.instanceOf(Error);
    });

    it('backs up, lists and serves the backup, and a restore brings back deleted rows', async () => {
      await pgQuery(b.url, 'CREATE TABLE notes (id int PRIMARY KEY, body text)');
      await pgQuery(b.url, "INSERT INTO notes VALUES (1, 'keep me'), (2, 'me too')");
      await runJob(`/databases/${b.name}/backups`);
      const id = await onlyBackup(b.name);
      const download = await gasper
        .api()
        .get(`/databases/${b.name}/backups/${id}`)
        .buffer(true)
        .parse((res, done) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(download.status).to.equal(200);
      expect(download.headers['content-disposition']).to.include(`${b.name}-${id}.pgdump`);
      expect((download.body as Buffer).subarray(0, 5).toString()).to.equal('PGDMP');

      await pgQuery(b.url, 'DELETE FROM notes');
      expect(await pgQuery(b.url, 'SELECT count(*)::int AS n FROM notes')).to.deep.equal([{ n: 0 }]);
      await runJob(`/databases/${b.name}/restore`, { backup: id });
      expect(await pgQuery(b.url, 'SELECT body FROM notes ORDER BY id')).to.deep.equal([
        { body: 'keep me' },
        { body: 'me too' },
      ]);
    });

    it('rotates the password: the new one works, the old one is refused, the data stays', async () => {
      const body = await runJob(`/databases/${a.name}/rotate-password`);
      expect(body.credentials.password).to.not.equal(a.password);
      expect(await pgQuery(body.credentials.url, 'SELECT count(*)::int AS n FROM items')).to.deep.equal([{ n: 2 }]);
      const err = await pgQuery(a.url, 'SELECT 1').catch((e: Error) => e);
      expect(err)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/password authentication failed/);
      a = { ...a, url: body.credentials.url, password: body.credentials.password };
    });

    it('restarts a database whose server dies and reports it', async () => {
      const container = await databaseContainer(a.name);
      const exec = await container.exec({
        Cmd: ['sh', '-c', 'kill -9 $(head -1 "$PGDATA/postmaster.pid")'],
        User: 'postgres',
      });
      await exec.start({});
      const view = await eventually(async () => {
        const db = (await gasper.api().get(`/databases/${a.name}`).expect(200)).body.database;
        if (db.restarts < 1 || db.status !== 'running') throw new Error(`not reported yet: ${JSON.stringify(db)}`);
        return db;
      }, 60_000);
      expect(view.lastError).to.match(/restart/);
      expect(await eventually(() => pgQuery(a.url, 'SELECT count(*)::int AS n FROM items'))).to.deep.equal([{ n: 2 }]);
    });

    it('delete leaves no container, volume, network, keys or port reservation', async () => {
      for (const db of [a, b]) {
        const uid = JSON.parse((await redis.get(keys.database(db.name)))!).uid as string;
        await deleteDatabase(db.name);
        expect(
          await docker.listContainers({ all: true, filters: { label: [`${databaseLabel}=${db.name}`] } }),
        ).to.have.length(0);
        const volumes =
          (await docker.listVolumes({ filters: { label: [`${databaseLabel}=${db.name}`] } })).Volumes ?? [];
        expect(volumes.map((v) => v.Name)).to.not.include(`gasper-db-${db.name}-${uid}`);
        expect(await docker.listNetworks({ filters: { label: [`${databaseLabel}=${db.name}`] } })).to.have.length(0);
        expect(await redis.keys(`gasper:database:${db.name}*`)).to.deep.equal([]);
        expect(await redis.sismember(keys.nodeDatabasePorts(gasper.nodeId), db.port)).to.equal(0);
        await gasper.api().get(`/databases/${db.name}`).expect(404);
      }
    });
  });

  describe('mysql (MariaDB)', () => {
    let a: CreatedDatabase;
    let b: CreatedDatabase;
    before(async () => {
      [a, b] = await Promise.all([
        createDatabase(gasper, unique('my'), 'mysql'),
        createDatabase(gasper, unique('my'), 'mysql'),
      ]);
    });
    after(async () => {
      for (const db of [a, b]) if (db) await deleteDatabase(db.name);
    });

    it('writes, reads, and reads again after a container restart', async () => {
      expect(a.url).to.match(/^mysql:\/\/u_my_[0-9a-f]{6}:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+\/my_[0-9a-f]{6}$/);
      await myQuery(a.url, 'CREATE TABLE items (id int PRIMARY KEY, label text)');
      await myQuery(a.url, "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
      await restartContainer(a.name);
      expect(await eventually(() => myQuery(a.url, 'SELECT label FROM items ORDER BY id'))).to.deep.equal([
        { label: 'one' },
        { label: 'two' },
      ]);
    });

    it('refuses a wrong password and the credentials of another database', async () => {
      const wrong = new URL(a.url);
      wrong.password = 'nope';
      expect(await myQuery(wrong.toString(), 'SELECT 1').catch((e: Error) => e))
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/Access denied/);
      const cross = new URL(a.url);
      cross.port = String(b.port);
      expect(await myQuery(cross.toString(), 'SELECT 1').catch((e: Error) => e))
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/Access denied/);
      // No anonymous or root login over TCP either.
      const root = new URL(b.url);
      root.username = 'root';
      root.password = '';
      expect(await myQuery(root.toString(), 'SELECT 1').catch((e: Error) => e))
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/Access denied/);
    });

    it('a restore brings back deleted rows', async () => {
      await myQuery(b.url, 'CREATE TABLE notes (id int PRIMARY KEY, body text)');
      await myQuery(b.url, "INSERT INTO notes VALUES (1, 'keep me')");
      await runJob(`/databases/${b.name}/backups`);
      const id = await onlyBackup(b.name);
      await myQuery(b.url, 'DELETE FROM notes');
      await runJob(`/databases/${b.name}/restore`, { backup: id });
      expect(await myQuery(b.url, 'SELECT body FROM notes')).to.deep.equal([{ body: 'keep me' }]);
    });
  });

  describe('redis', () => {
    let a: CreatedDatabase;
    before(async () => {
      a = await createDatabase(gasper, unique('kv'), 'redis');
    });
    after(async () => a && deleteDatabase(a.name));

    it('writes, reads after a restart, refuses a wrong password, and restores an RDB backup', async () => {
      expect(a.url).to.match(/^redis:\/\/default:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+$/);
      await withRedis(a.url, (r) => r.set('greeting', 'hello'));
      // Debian's redis-cli sends AUTH from a URL only when it names a user.
      const cli = await execFileAsync('redis-cli', ['-u', a.url, '--no-auth-warning', 'get', 'greeting']);
      expect(cli.stdout.trim()).to.equal('hello');
      await restartContainer(a.name);
      expect(await eventually(() => withRedis(a.url, (r) => r.get('greeting')))).to.equal('hello');
      // Without the password nothing is readable; with a wrong one AUTH is refused.
      const anonymous = new URL(a.url);
      anonymous.username = '';
      anonymous.password = '';
      expect(await withRedis(anonymous.toString(), (r) => r.get('greeting')).catch((e: Error) => e))
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/NOAUTH/);
      expect(await withRedis(anonymous.toString(), (r) => r.call('AUTH', 'nope')).catch((e: Error) => e))
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/WRONGPASS/);

      await runJob(`/databases/${a.name}/backups`);
      const id = await onlyBackup(a.name);
      await withRedis(a.url, (r) => r.del('greeting'));
      await runJob(`/databases/${a.name}/restore`, { backup: id });
      expect(await eventually(() => withRedis(a.url, (r) => r.get('greeting')))).to.equal('hello');
      // Still durable after the restore: AOF is back on and survives another restart.
      await withRedis(a.url, (r) => r.set('after', 'restore'));
      await restartContainer(a.name);
      expect(await eventually(() => withRedis(a.url, (r) => r.mget('greeting', 'after')))).to.deep.equal([
        'hello',
        'restore',
      ]);
    });
  });

  describe('an app linked to a database', () => {
    let repo: GitFixture;
    let db: CreatedDatabase;
    const app = unique('dbapp');
    before(async () => {
      db = await createDatabase(gasper, unique('appdb'), 'postgres');
      await pgQuery(db.url, "CREATE TABLE greetings (word text); INSERT INTO greetings VALUES ('hello from postgres')");
      repo = await createGitRepo({
        'package.json': JSON.stringify({ name: 'dbapp', version: '1.0.0', private: true }),
        'server.js': `const http = require('http');
const dns = require('dns');
http.createServer(async (req, res) => {
  if (req.url.startsWith('/resolve/')) {
    return dns.lookup(req.url.slice(9), (err, address) => res.end(err ? 'unresolved ' + err.code : 'resolved'));
  }
  if (!process.env.DATABASE_URL) return res.end('no DATABASE_URL');
  const { Client } = require('pg');
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  try {
    await client.connect();
    const { rows } = await client.query('SELECT word FROM greetings');
    res.end(rows[0].word);
  } catch (err) { res.statusCode = 500; res.end(String(err)); } finally { client.end().catch(() => {}); }
}).listen(process.env.PORT);
`,
      });
    });
    after(async () => {
      await repo?.remove();
    });

    it('cannot reach it unlinked; linked, reads DATABASE_URL and queries it through the proxy', async () => {
      const created = await gasper
        .api()
        .post('/apps')
        .send({
          name: app,
          repo: { url: repo.url },
          runtime: 'node',
          build: ['npm install --no-audit --no-fund pg@8.23.1'],
          run: 'node server.js',
        })
        .expect(202);
      let job = await gasper.waitForJob(created.body.job.id, 240_000);
      expect(job.state, job.log.join('\n')).to.equal('completed');
      const host = `${app}.localhost:${gasper.proxyPort}`;
      expect((await viaProxy(gasper.proxyPort, host)).body).to.equal('no DATABASE_URL');
      expect((await viaProxy(gasper.proxyPort, host, `/resolve/gasper-db-${db.name}`)).body).to.match(/^unresolved/);

      const linked = await gasper
        .api()
        .patch(`/apps/${app}`)
        .send({ databases: [db.name] });
      expect(linked.status, JSON.stringify(linked.body)).to.equal(202);
      expect(linked.body.app.databases).to.deep.equal([db.name]);
      job = await gasper.waitForJob(linked.body.job.id, 240_000);
      expect(job.state, job.log.join('\n')).to.equal('completed');
      const reply = await viaProxy(gasper.proxyPort, host);
      expect(reply.body).to.equal('hello from postgres');
      expect((await viaProxy(gasper.proxyPort, host, `/resolve/gasper-db-${db.name}`)).body).to.equal('resolved');

      // A linked database cannot be deleted from under its app.
      const refused = await gasper.api().delete(`/databases/${db.name}`);
      expect(refused.status).to.equal(409);
      expect(refused.body.code).to.equal('DATABASE_LINKED');

      const unlinked = await gasper.api().patch(`/apps/${app}`).send({ databases: [] }).expect(202);
      job = await gasper.waitForJob(unlinked.body.job.id, 240_000);
      expect(job.state, job.log.join('\n')).to.equal('completed');
      expect((await viaProxy(gasper.proxyPort, host)).body).to.equal('no DATABASE_URL');
      await gasper.api().delete(`/apps/${app}`).expect(202);
      await deleteDatabase(db.name);
    });
  });
});
