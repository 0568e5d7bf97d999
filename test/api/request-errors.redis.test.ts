import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { expect } from 'chai';
import pino from 'pino';
import supertest from 'supertest';
import type { Express } from 'express';
import { createApiApp } from '../../src/api/app.ts';
import { appName, expectError, startApiFixture, validBody, type ApiFixture } from './api-fixture.ts';

/**
 * Requests that cannot be read (a malformed `%` escape, an unknown charset or Content-Encoding,
 * a body that does not decompress) get their 4xx with the usual error body, and the log gets no
 * error and no stack trace: they were 500s each logging a stack.
 */
describe('unreadable requests -> 4xx, never a 500 (real Redis)', function () {
  let fx: ApiFixture;
  let app: Express;
  const records: Array<{ level: number; msg: string; err?: unknown; stack?: unknown }> = [];

  before(async function () {
    fx = await startApiFixture();
    const sink = new Writable({
      write: (chunk, _enc, done) => {
        records.push(JSON.parse(String(chunk)));
        done();
      },
    });
    app = createApiApp({ ...fx.deps, log: pino({ level: 'debug' }, sink) });
  });
  after(async function () {
    await fx?.close();
  });
  beforeEach(() => {
    records.length = 0;
  });
  afterEach(function () {
    const loud = records.filter((r) => r.level >= 40 || r.err !== undefined || JSON.stringify(r).includes('    at '));
    expect(loud, 'warnings, errors or stacks logged').to.deep.equal([]);
  });

  const auth = (t: supertest.Test) => t.set('authorization', `Bearer ${fx.token}`);
  const json = (body: unknown) => Buffer.from(JSON.stringify(body));
  /** Sends exactly these bytes (superagent would serialize a Buffer as JSON under a JSON content type). */
  const bytes = (t: supertest.Test, headers: Record<string, string>, body: Buffer) =>
    t
      .set(headers)
      .serialize((b: Buffer) => b as unknown as string)
      .send(body as unknown as object);
  const gzip = (t: supertest.Test, body: Buffer, encoding = 'gzip') =>
    bytes(t, { 'content-type': 'application/json', 'content-encoding': encoding }, body);

  const cases: Array<[string, () => supertest.Test, number, string]> = [
    ['a lone % in an app name', () => auth(supertest(app).get('/apps/%')), 400, 'BAD_REQUEST'],
    ['a truncated UTF-8 escape', () => auth(supertest(app).get('/apps/%E0%A4%A')), 400, 'BAD_REQUEST'],
    ['a % in a nested route', () => auth(supertest(app).delete('/apps/x/ssh-keys/%zz')), 400, 'BAD_REQUEST'],
    [
      'a % in the webhook path, unsigned',
      () => supertest(app).post('/webhooks/github/%').send('{}'),
      400,
      'BAD_REQUEST',
    ],
    ['a % in a users route', () => auth(supertest(app).get('/users/%/tokens')), 400, 'BAD_REQUEST'],
    [
      'an unsupported charset',
      () =>
        bytes(
          auth(supertest(app).post('/apps')),
          { 'content-type': 'application/json; charset=klingon' },
          json(validBody(appName())),
        ),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'latin1 JSON',
      () =>
        bytes(
          auth(supertest(app).post('/apps')),
          { 'content-type': 'application/json; charset=latin1' },
          json(validBody(appName())),
        ),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'an unsupported Content-Encoding',
      () => gzip(auth(supertest(app).post('/apps')), json(validBody(appName())), 'snappy'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'invalid gzip data',
      () => gzip(auth(supertest(app).post('/apps')), Buffer.from('not gzip at all')),
      400,
      'BAD_REQUEST',
    ],
    [
      'truncated gzip data',
      () => gzip(auth(supertest(app).post('/apps')), zlib.gzipSync(json(validBody(appName()))).subarray(0, 30)),
      400,
      'BAD_REQUEST',
    ],
    [
      'invalid deflate data',
      () => gzip(auth(supertest(app).patch('/apps/x')), Buffer.from([1, 2, 3, 4]), 'deflate'),
      400,
      'BAD_REQUEST',
    ],
    [
      'invalid brotli data',
      () => gzip(auth(supertest(app).post('/databases')), Buffer.from('xxxxxxxx'), 'br'),
      400,
      'BAD_REQUEST',
    ],
    [
      'a gzip bomb past the body limit',
      () => gzip(auth(supertest(app).post('/apps')), zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024, 32))),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
  ];
  for (const [what, request, status, code] of cases) {
    it(`${what} -> ${status} ${code}, nothing created`, async function () {
      const before = await fx.snapshot();
      const res = await request();
      expectError(res, status, code);
      await fx.expectNothingCreated(before);
    });
  }

  it('valid gzip JSON is still read', async function () {
    await fx.registerNode('n-gzip');
    const name = appName('gz');
    const res = await gzip(auth(supertest(app).post('/apps')), zlib.gzipSync(json(validBody(name))));
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
  });
});
