import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';

const bin = path.resolve('bin/gasper.js');

/** `gasper apps transfer` and `gasper databases transfer` as a user runs them (real Redis, API in-process). */
describe('gasper apps/databases transfer (CLI against the API, real Redis)', function () {
  // Each run of the CLI starts node and tsx: seconds apiece on a busy machine.
  this.timeout(300_000);
  let fx: ApiFixture;
  let server: http.Server;
  let env: Record<string, string>;

  const gasper = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...env } },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    fx = await startApiFixture();
    await fx.registerNode(`n-${suffix()}`);
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    env = { GASPER_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, GASPER_TOKEN: fx.token };
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it('transfers an app and a database, saying what was revoked; an unknown user fails naming `to`', async () => {
    const bob = `bob-${suffix()}`;
    await fx.post('/users').send({ name: bob }).expect(201);
    const app = appName('cli');
    await fx.post('/apps').send(validBody(app)).expect(202);
    await fx.post(`/apps/${app}/webhook`).expect(201);
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);

    const moved = await gasper(['apps', 'transfer', app, bob]);
    expect(moved.code, moved.stderr).to.equal(0);
    expect(moved.stdout).to.include(`app ${app} now belongs to ${bob} (was admin)`).and.include('push webhook');
    const dbMoved = await gasper(['databases', 'transfer', db, bob]);
    expect(dbMoved.code, dbMoved.stderr).to.equal(0);
    expect(dbMoved.stdout).to.include(`database ${db} now belongs to ${bob}`).and.include('rotate-password');

    const refused = await gasper(['apps', 'transfer', app, 'nobody-here']);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.include('to: no user "nobody-here"');
  });
});
