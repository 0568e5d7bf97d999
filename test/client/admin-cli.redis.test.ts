import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import supertest from 'supertest';
import { type ApiFixture, startApiFixture, suffix } from '../api/api-fixture.ts';
import { ensureCliBuilt, runGasper } from '../support/cli.ts';

/**
 * `gasper users`, `gasper tokens` and `gasper nodes`, run as a user runs them (the compiled CLI,
 * a child process) against the API on a loopback port with a private Redis: an admin onboards a
 * member, the member makes and revokes their own tokens, and an admin drains a node.
 */
describe('gasper users, tokens, nodes (CLI against the API, real Redis)', function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let server: http.Server;
  let url: string;
  const as = (token: string, args: string[]) => runGasper(args, { GASPER_URL: url, GASPER_TOKEN: token });
  const admin = (args: string[]) => as(fx.token, args);
  /** Whether `token` is accepted by the API (GET /apps). */
  const accepted = async (token: string) =>
    (await supertest(fx.app).get('/apps').set('authorization', `Bearer ${token}`)).status === 200;

  before(async () => {
    await ensureCliBuilt();
    fx = await startApiFixture();
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it('an admin creates a member with quotas: their first token printed once, with the login that uses it', async () => {
    const name = `alice-${suffix()}`;
    const created = await admin(['users', 'create', name, '--max-apps', '2', '--max-memory', '1024']);
    expect(created.code, created.stderr).to.equal(0);
    const token = /^ {2}(gsp_\S+)$/m.exec(created.stdout)?.[1];
    expect(token, created.stdout).to.be.a('string');
    expect(created.stdout).to.include(`${name} created (member; quotas: apps ≤ 2, memory ≤ 1024 MiB)`);
    expect(created.stdout).to.include(`They sign in with: gasper login ${url} --token ${token}`);
    expect(await accepted(token!)).to.equal(true);
    expect((await admin(['users', 'list'])).stdout).to.match(
      new RegExp(`^${name} +member +apps ≤ 2, memory ≤ 1024 MiB`, 'm'),
    );

    // Quotas named change, the others stay; none lifts one; no option at all is refused before any request.
    const updated = await admin(['users', 'update', name, '--max-apps', 'none', '--max-cpu', '2']);
    expect(updated.code, updated.stderr).to.equal(0);
    expect(updated.stdout.trim()).to.equal(`${name}: member; quotas: CPU ≤ 2, memory ≤ 1024 MiB`);
    expect((await fx.get(`/users/${name}`).expect(200)).body.user.quotas).to.deep.equal({
      maxCpu: 2,
      maxMemoryMb: 1024,
    });
    const nothing = await admin(['users', 'update', name]);
    expect(nothing.code).to.equal(1);
    expect(nothing.stderr).to.include('give --role or a quota option');
    const bad = await admin(['users', 'update', name, '--max-apps', 'lots']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('quotas.maxApps');

    // The member: sees themselves, may not manage users, makes a read-only token and revokes it.
    expect((await as(token!, ['users', 'show'])).stdout).to.include(
      `${name}  (member)\n  quotas:  CPU ≤ 2, memory ≤ 1024 MiB`,
    );
    const refused = await as(token!, ['users', 'list']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`only admins may do this (you are ${name}, a member)`);
    const minted = await as(token!, ['tokens', 'create', 'ci', '--scopes', 'read']);
    expect(minted.code, minted.stderr).to.equal(0);
    const id = /^(tok_\S+) \(ci: read\) created for /.exec(minted.stdout)?.[1];
    const ci = /^ {2}(gsp_\S+)$/m.exec(minted.stdout)?.[1];
    expect(id, minted.stdout).to.be.a('string');
    expect(await accepted(ci!)).to.equal(true);
    const listed = await as(token!, ['tokens', 'list']);
    expect(listed.stdout).to.match(new RegExp(`^${id} +ci +read `, 'm'));
    expect(listed.stdout).to.not.include(ci!);
    expect((await as(token!, ['tokens', 'revoke', id!])).stdout.trim()).to.equal(`${id} revoked`);
    expect(await accepted(ci!)).to.equal(false);

    // Deleting the user revokes their tokens.
    expect((await admin(['users', 'delete', name])).stdout.trim()).to.equal(
      `${name} deleted; their tokens no longer work`,
    );
    expect(await accepted(token!)).to.equal(false);
  });

  it('an admin lists, shows, drains and undrains a node; retiring one that is up is refused with the reason', async () => {
    const node = `n-${suffix()}`;
    await fx.registerNode(node);
    const listed = await admin(['nodes', 'list']);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.match(new RegExp(`^${node} +up +127\\.0\\.0\\.1 +0 of 16 +0 B of 64\\.0 GiB `, 'm'));
    const shown = await admin(['nodes', 'show', node]);
    expect(shown.stdout).to.include(`${node}  (up)\n  address:     127.0.0.1\n  cpu:         0 of 16 reserved`);
    const drained = await admin(['nodes', 'drain', node]);
    expect(drained.code, drained.stderr).to.equal(0);
    expect(drained.stdout).to.include(`${node} draining: nothing new is placed there`);
    expect((await admin(['nodes', 'list'])).stdout).to.match(new RegExp(`^${node} +up, draining `, 'm'));
    expect((await admin(['nodes', 'undrain', node])).stdout.trim()).to.equal(
      `${node}: new apps may be placed there again`,
    );
    const retire = await admin(['nodes', 'remove', node]);
    expect(retire.code).to.equal(1);
    expect(retire.stderr).to.include(`node "${node}" is up: stop its worker first`);
  });
});
