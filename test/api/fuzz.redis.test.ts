import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createApiApp } from '../../src/api/app.ts';
import { apiRoutes } from '../../src/api/openapi/registry.ts';
import { keys } from '../../src/core/keys.ts';
import { appDocumentSchema } from '../../src/store/app-document.ts';
import { databaseDocumentSchema } from '../../src/store/database-document.ts';
import { domainDocumentSchema } from '../../src/store/domain-document.ts';
import { tokenRecordSchema } from '../../src/store/tokens.ts';
import { userDocumentSchema } from '../../src/store/users.ts';
import { Prng } from '../support/prng.ts';
import { sendRaw, type RawOutcome } from './fuzz/raw-http.ts';
import { generateRequest, type FuzzContext, type FuzzRequest } from './fuzz/requests.ts';
import { startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

/** Fixed, so a failure is the same failure on the next run; FUZZ_SEED overrides it to explore. */
const seed = Number(process.env.FUZZ_SEED ?? 20261202);
const requests = Number(process.env.FUZZ_REQUESTS ?? 5000);
/** The run stops sending after this long, whatever the count reached (a slow machine). */
const budgetMs = 60_000;
const perRequestTimeoutMs = 10_000;
const concurrency = 12;

/**
 * Thousands of generated hostile requests against every route the API registers (the same list
 * docs/reference/api.md is written from), over real HTTP with a real Redis and BullMQ (no
 * worker: the API only records and enqueues). Methods, malformed `%` escapes, hostile queries,
 * tokens or none, JSON that JSON.stringify would not write, garbage, deep nesting, oversized
 * bodies, any content type, charset and encoding. No answer may be a 5xx, every request must be
 * answered in time, and what was written must be whole: every app, database, user and token in
 * Redis a valid document, listed where it should be.
 */
describe('fuzz: generated hostile requests across every route (real Redis, real HTTP)', function () {
  this.timeout(budgetMs + 60_000);
  let fx: ApiFixture;
  let server: http.Server;
  let port: number;
  const errors: unknown[] = [];

  before(async function () {
    // No worker beats for the nodes: they must not go down during the run.
    fx = await startApiFixture({
      authFailuresPerMinute: 1_000_000,
      changesPerMinute: 1_000_000,
      nodeTimeoutMs: 3_600_000,
    });
    const app = createApiApp({ ...fx.deps, log: fx.deps.log });
    server = http.createServer(app);
    server.on('clientError', (err) => errors.push(err));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async function () {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it(`${requests} requests (seed ${seed}): no 5xx, no hang, nothing half-created`, async function () {
    const node = `n-${suffix()}`;
    await fx.registerNode(node);
    // A node the requests never name: draining the one they know (they do) leaves room, so a
    // 503 NO_NODE_AVAILABLE (the answer when every node is drained) never excuses a 5xx here.
    await fx.registerNode(`n-hidden-${suffix()}`);
    const member = await fx
      .post('/users')
      .send({ name: `fz-member-${suffix()}`, role: 'member' })
      .expect(201);
    const appNames = [`fz-${suffix()}`, `fz-${suffix()}`];
    for (const name of appNames) await fx.post('/apps').send(validBody(name)).expect(202);
    const database = `fzdb-${suffix()}`;
    await fx.post('/databases').send({ name: database, engine: 'postgres' }).expect(202);
    const context: FuzzContext = {
      adminToken: fx.token,
      memberToken: member.body.token,
      routes: apiRoutes.list().map((r) => ({ method: r.method, path: r.path })),
      apps: appNames,
      databases: [database],
      users: [member.body.user.name, 'admin'],
      nodes: [node],
    };
    expect(context.routes.length, 'routes in the registry').to.be.above(40);

    const prng = new Prng(seed);
    const generated: FuzzRequest[] = Array.from({ length: requests }, () => generateRequest(prng, context));
    const outcomes: RawOutcome[] = new Array(generated.length);
    const started = Date.now();
    let next = 0;
    let sent = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < generated.length && Date.now() - started < budgetMs) {
          const index = next++;
          outcomes[index] = await sendRaw(port, generated[index]!, perRequestTimeoutMs);
          sent++;
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;

    const byStatus = new Map<string, number>();
    const serverErrors: string[] = [];
    const unanswered: string[] = [];
    outcomes.forEach((outcome, index) => {
      if (!outcome) return;
      const request = generated[index]!;
      const what = `#${index} ${request.method} ${request.target.slice(0, 120)} [${request.kind}${request.body ? `, ${request.body.length} B` : ''}${request.chunked ? ', chunked' : ''}] ${JSON.stringify(request.headers.filter(([n]) => n !== 'authorization')).slice(0, 200)}`;
      const key = outcome.status !== undefined ? String(outcome.status) : outcome.failure!;
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      if (outcome.status !== undefined && outcome.status >= 500)
        serverErrors.push(`${what} -> ${outcome.text?.slice(0, 600)}`);
      else if (outcome.status === undefined) unanswered.push(`${what} -> ${outcome.failure}`);
    });
    const figures = [...byStatus]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
    console.log(
      `      fuzz: ${sent} requests in ${seconds.toFixed(1)} s (seed ${seed}), ${serverErrors.length} 5xx, ${unanswered.length} unanswered; ${figures}`,
    );
    expect(serverErrors, `5xx answers (first 10 of ${serverErrors.length})`).to.deep.equal([]);
    expect(unanswered, `requests without an answer (first of ${unanswered.length})`).to.deep.equal([]);
    expect(sent, 'requests sent within the time budget').to.be.at.least(Math.min(requests, 1000));
    // The valid requests reach the code that creates documents (apps, users, tokens, keys,
    // domains…): counted as answered, not as what is left at the end, since a later DELETE may
    // remove it and which routes the seed picks moves with the route list.
    const created = outcomes.filter(
      (o, i) => generated[i]!.method === 'POST' && (o?.status === 201 || o?.status === 202),
    ).length;
    expect(created, 'documents created by valid requests').to.be.above(10);

    await expectWholeDocuments(fx);
    // The API still serves.
    await fx.get('/apps').expect(200);
  });
});

/** Every app, database, user, token and custom domain in Redis is a whole valid document, listed where it should be. */
async function expectWholeDocuments(fx: ApiFixture): Promise<void> {
  const { redis } = fx;
  const problems: string[] = [];
  const documents = async (
    prefix: string,
    set: string,
    schema: { safeParse(v: unknown): { success: boolean; error?: unknown } },
    what: string,
  ) => {
    const listed = new Set(await redis.smembers(set));
    // Document keys are `<prefix><name>`: names hold no colon, other keys of a resource do.
    const stored = (await redis.keys(`${prefix}*`)).filter((k) => !k.slice(prefix.length).includes(':'));
    for (const key of stored) {
      const name = key.slice(prefix.length);
      if (!listed.has(name)) problems.push(`${what} ${name}: stored but not in ${set}`);
      const raw = await redis.get(key);
      let parsed: { success: boolean; error?: unknown };
      try {
        parsed = schema.safeParse(JSON.parse(raw ?? ''));
      } catch (err) {
        parsed = { success: false, error: (err as Error).message };
      }
      if (!parsed.success)
        problems.push(`${what} ${name}: not a valid document: ${String(parsed.error).slice(0, 300)}`);
      else if ((JSON.parse(raw!) as { name?: string }).name !== name)
        problems.push(`${what} ${name}: its document names another`);
    }
    for (const name of listed)
      if (!stored.includes(`${prefix}${name}`)) problems.push(`${what} ${name}: in ${set} but not stored`);
    return stored.length;
  };
  const apps = await documents('gasper:app:', keys.apps, appDocumentSchema, 'app');
  const databases = await documents('gasper:database:', keys.databases, databaseDocumentSchema, 'database');
  const users = await documents('gasper:user:', keys.users, userDocumentSchema, 'user');
  const tokens = await redis.keys('gasper:token:*');
  for (const key of tokens) {
    const parsed = tokenRecordSchema.safeParse(JSON.parse((await redis.get(key)) ?? 'null'));
    if (!parsed.success) problems.push(`token ${key}: not a valid record`);
    else if (!(await redis.sismember(keys.users, parsed.data.user)))
      problems.push(`token ${key}: of user ${parsed.data.user}, who does not exist`);
  }
  // Custom domains: valid, listed in both sets, and of an app that exists.
  const domainKeys = (await redis.keys('gasper:domain:*')).filter(
    (k) => !k.slice('gasper:domain:'.length).includes(':'),
  );
  for (const key of domainKeys) {
    const name = key.slice('gasper:domain:'.length);
    const parsed = domainDocumentSchema.safeParse(JSON.parse((await redis.get(key)) ?? 'null'));
    if (!parsed.success || parsed.data.domain !== name) problems.push(`domain ${name}: not a valid document`);
    else {
      if (!(await redis.sismember(keys.domains, name))) problems.push(`domain ${name}: not in ${keys.domains}`);
      if (!(await redis.sismember(keys.appDomains(parsed.data.app), name)))
        problems.push(`domain ${name}: not in its app's set`);
      if (!(await redis.exists(keys.app(parsed.data.app)))) problems.push(`domain ${name}: of an app that is gone`);
    }
  }
  console.log(
    `      after the run: ${apps} apps, ${databases} databases, ${users} users, ${tokens.length} tokens, ${domainKeys.length} domains; ${problems.length} problems`,
  );
  expect(problems).to.deep.equal([]);
}
