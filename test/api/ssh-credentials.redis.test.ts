import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { requireTools } from '../support/ssh-client.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

const run = promisify(execFile);

describe('API /apps/:name/ssh-keys and /ssh-password (real Redis)', function () {
  let fx: ApiFixture;
  let dir: string;
  let app: string;
  const pub: Record<string, { line: string; fingerprint: string }> = {};

  /** A key pair made by ssh-keygen: its public line and the fingerprint ssh-keygen prints. */
  async function keygen(
    type: string,
    bits?: string,
  ): Promise<{ line: string; fingerprint: string; privateKey: string }> {
    const file = path.join(dir, `${type}-${suffix()}`);
    await run('ssh-keygen', [
      '-q',
      '-t',
      type,
      ...(bits ? ['-b', bits] : []),
      '-N',
      '',
      '-C',
      `${type}@laptop`,
      '-f',
      file,
    ]);
    const fingerprint = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`])).stdout.split(' ')[1]!;
    return {
      line: (await fs.readFile(`${file}.pub`, 'utf8')).trim(),
      fingerprint,
      privateKey: await fs.readFile(file, 'utf8'),
    };
  }

  before(async function () {
    this.timeout(30_000);
    await requireTools('ssh-keygen');
    fx = await startApiFixture();
    await fx.registerNode(`n-${suffix()}`);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-keys-'));
    for (const [type, bits] of [['ed25519'], ['ecdsa', '256'], ['rsa', '2048']] as const)
      pub[type] = await keygen(type, bits);
    app = appName('keys');
    await fx.post('/apps').send(validBody(app)).expect(202);
  });
  after(async function () {
    await fx?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('needs the admin token', async function () {
    expectError(await supertest(fx.app).get(`/apps/${app}/ssh-keys`), 401, 'UNAUTHORIZED');
    expectError(
      await supertest(fx.app).post(`/apps/${app}/ssh-keys`).send({ key: pub.ed25519!.line }),
      401,
      'UNAUTHORIZED',
    );
  });

  for (const type of ['ed25519', 'ecdsa', 'rsa']) {
    it(`registers an ${type} key: 201 with id, type, fingerprint (as ssh-keygen prints it), comment`, async function () {
      const res = await fx.post(`/apps/${app}/ssh-keys`).send({ key: `  ${pub[type]!.line}\n` });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(Object.keys(res.body).sort()).to.deep.equal(['comment', 'createdAt', 'fingerprint', 'id', 'type']);
      expect(res.body.fingerprint).to.equal(pub[type]!.fingerprint);
      expect(res.body.comment).to.equal(`${type}@laptop`);
      expect(res.body.type).to.equal(pub[type]!.line.split(' ')[0]);
      expect(res.body.id).to.match(/^key_[0-9a-f]{16}$/);
      expect(res.headers.location).to.equal(`/apps/${app}/ssh-keys/${res.body.id}`);
    });
  }

  it('lists the keys, and refuses the same key twice with 409 naming key', async function () {
    const list = await fx.get(`/apps/${app}/ssh-keys`).expect(200);
    expect(list.body.keys.map((k: { fingerprint: string }) => k.fingerprint).sort()).to.deep.equal(
      Object.values(pub)
        .map((p) => p.fingerprint)
        .sort(),
    );
    const again = await fx
      .post(`/apps/${app}/ssh-keys`)
      .send({ key: pub.ed25519!.line.replace(/\S+$/, 'other-comment') });
    expectError(again, 409, 'SSH_KEY_EXISTS');
    expect(again.body.fields).to.have.property('key');
  });

  it('deletes a key: 204, then 404', async function () {
    const list = await fx.get(`/apps/${app}/ssh-keys`).expect(200);
    const rsa = list.body.keys.find((k: { type: string }) => k.type === 'ssh-rsa');
    await fx.del(`/apps/${app}/ssh-keys/${rsa.id}`).expect(204);
    expectError(await fx.del(`/apps/${app}/ssh-keys/${rsa.id}`), 404, 'NOT_FOUND');
    expect((await fx.get(`/apps/${app}/ssh-keys`).expect(200)).body.keys).to.have.length(2);
  });

  describe('bad keys get 400 naming key, and nothing is stored', function () {
    const cases: Array<[string, () => unknown]> = [
      ['a missing key', () => ({})],
      ['a key that is not a string', () => ({ key: 42 })],
      ['an empty key', () => ({ key: '  ' })],
      ['garbage', () => ({ key: 'not a key at all' })],
      ['a truncated blob', () => ({ key: pub.ed25519!.line.slice(0, 40) })],
      ['a blob of another type than declared', () => ({ key: pub.ed25519!.line.replace(/^ssh-ed25519/, 'ssh-rsa') })],
      ['two keys', () => ({ key: `${pub.ed25519!.line}\n${pub.rsa!.line}` })],
      ['a huge value', () => ({ key: `ssh-ed25519 ${'A'.repeat(20_000)}` })],
    ];
    for (const [what, body] of cases) {
      it(what, async function () {
        const before = await fx.snapshot();
        expectFieldError(await fx.post(`/apps/${app}/ssh-keys`).send(body() as object), 'key');
        await fx.expectNothingCreated(before);
      });
    }

    it('a private key, which the answer does not echo', async function () {
      const secret = (await keygen('ed25519')).privateKey;
      const before = await fx.snapshot();
      const res = await fx.post(`/apps/${app}/ssh-keys`).send({ key: secret });
      expectFieldError(res, 'key');
      expect(res.body.fields.key).to.match(/private key/);
      const body = secret.split('\n')[1]!;
      expect(JSON.stringify(res.body)).to.not.include(body);
      await fx.expectNothingCreated(before);
    });

    it('an unknown field', async function () {
      expectFieldError(await fx.post(`/apps/${app}/ssh-keys`).send({ key: pub.ed25519!.line, admin: true }), 'admin');
    });
  });

  it('answers 404 for an unknown app on every route, storing nothing', async function () {
    const ghost = appName('ghost');
    const before = await fx.snapshot();
    expectError(await fx.post(`/apps/${ghost}/ssh-keys`).send({ key: pub.ed25519!.line }), 404, 'NOT_FOUND');
    expectError(await fx.get(`/apps/${ghost}/ssh-keys`), 404, 'NOT_FOUND');
    expectError(await fx.del(`/apps/${ghost}/ssh-keys/key_0000000000000000`), 404, 'NOT_FOUND');
    expectError(
      await fx.put(`/apps/${ghost}/ssh-password`).send({ password: 'long enough password' }),
      404,
      'NOT_FOUND',
    );
    expectError(await fx.del(`/apps/${ghost}/ssh-password`), 404, 'NOT_FOUND');
    await fx.expectNothingCreated(before, ghost);
  });

  it('sets the password as a scrypt hash (204), refuses short ones naming password, removes it', async function () {
    const before = await fx.snapshot();
    expectFieldError(await fx.put(`/apps/${app}/ssh-password`).send({ password: 'short' }), 'password');
    expectFieldError(await fx.put(`/apps/${app}/ssh-password`).send({}), 'password');
    await fx.expectNothingCreated(before);

    await fx.put(`/apps/${app}/ssh-password`).send({ password: 'a fine long password' }).expect(204);
    const stored = await fx.redis.get(keys.appSshPassword(app));
    expect(stored).to.match(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(stored).to.not.include('a fine long password');
    await fx.del(`/apps/${app}/ssh-password`).expect(204);
    expect(await fx.redis.exists(keys.appSshPassword(app))).to.equal(0);
    expectError(await fx.del(`/apps/${app}/ssh-password`), 404, 'NOT_FOUND');
  });

  it('refuses new credentials for an app being deleted', async function () {
    const doomed = appName('doomed');
    await fx.post('/apps').send(validBody(doomed)).expect(202);
    await fx.del(`/apps/${doomed}`).expect(202);
    expectError(await fx.post(`/apps/${doomed}/ssh-keys`).send({ key: pub.ed25519!.line }), 404, 'NOT_FOUND');
    expectError(
      await fx.put(`/apps/${doomed}/ssh-password`).send({ password: 'long enough password' }),
      404,
      'NOT_FOUND',
    );
    expect(await fx.redis.exists(keys.appSshKeys(doomed), keys.appSshPassword(doomed))).to.equal(0);
  });
});
