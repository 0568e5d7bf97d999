import SwaggerParser from '@apidevtools/swagger-parser';
import { expect } from 'chai';
import type { OpenAPIV3 } from 'openapi-types';
import supertest from 'supertest';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

/** Every route the API has, kept by hand: a new route is added here and registered with `apiRoutes.add`. */
const allRoutes = [
  'GET /healthz',
  'GET /openapi.json',
  'GET /runtimes',
  'GET /docs',
  'POST /apps',
  'GET /apps',
  'GET /apps/{name}',
  'DELETE /apps/{name}',
  'POST /apps/{name}/webhook',
  'POST /apps/{name}/transfer',
  'DELETE /apps/{name}/webhook',
  'GET /jobs/{id}',
  'GET /nodes',
  'GET /nodes/{id}',
  'POST /nodes/{id}/drain',
  'POST /nodes/{id}/undrain',
  'DELETE /nodes/{id}',
  'POST /users',
  'GET /users',
  'GET /users/{name}',
  'PATCH /users/{name}',
  'DELETE /users/{name}',
  'POST /users/{name}/tokens',
  'GET /users/{name}/tokens',
  'DELETE /users/{name}/tokens/{id}',
  'POST /apps/{name}/ssh-keys',
  'GET /apps/{name}/ssh-keys',
  'POST /apps/{name}/domains',
  'GET /apps/{name}/domains',
  'GET /apps/{name}/domains/{domain}',
  'DELETE /apps/{name}/domains/{domain}',
  'DELETE /apps/{name}/ssh-keys/{id}',
  'PUT /apps/{name}/ssh-password',
  'DELETE /apps/{name}/ssh-password',
  'DELETE /apps/{name}/volumes/{volume}',
  'POST /apps/{name}/volumes/{volume}/backups',
  'POST /apps/{name}/volumes/{volume}/restore',
  'GET /apps/{name}/volumes/{volume}/backups',
  'GET /apps/{name}/volumes/{volume}/backups/{id}',
  'POST /apps/{name}/terminal',
  'GET /apps/{name}/terminal/sessions',
  'PATCH /apps/{name}',
  'POST /apps/{name}/restart',
  'POST /apps/{name}/stop',
  'POST /apps/{name}/start',
  'POST /apps/{name}/rebuild',
  'POST /apps/{name}/rollback',
  'POST /apps/{name}/run',
  'POST /apps/{name}/schedules',
  'GET /apps/{name}/schedules',
  'DELETE /apps/{name}/schedules/{id}',
  'GET /apps/{name}/schedules/{id}/runs',
  'GET /apps/{name}/releases',
  'GET /apps/{name}/releases/{release}',
  'POST /databases',
  'GET /databases',
  'GET /databases/{name}',
  'DELETE /databases/{name}',
  'POST /databases/{name}/rotate-password',
  'POST /databases/{name}/backups',
  'GET /databases/{name}/backups',
  'GET /databases/{name}/backups/{id}',
  'POST /databases/{name}/restore',
  'POST /databases/{name}/transfer',
  'GET /apps/{name}/logs',
  'GET /apps/{name}/releases/{release}/build-log',
  'GET /apps/{name}/metrics',
  'GET /metrics',
  'POST /webhooks/github/{app}',
  'GET /admin/login',
  'POST /admin/login',
  'POST /admin/logout',
  'GET /admin/queues',
];

describe('OpenAPI document and /docs (real Redis)', function () {
  let fx: ApiFixture;
  let doc: OpenAPIV3.Document;

  before(async function () {
    fx = await startApiFixture();
    const res = await supertest(fx.app).get('/openapi.json').expect(200).expect('content-type', /json/);
    doc = res.body;
  });
  after(async function () {
    await fx?.close();
  });

  it('is served without a token and is a valid OpenAPI 3 document', async function () {
    expect(doc.openapi).to.match(/^3\.0\.\d$/);
    expect(doc.info.title).to.equal('Gasper API');
    // swagger-parser validates against the OpenAPI 3.0 JSON Schema and checks every $ref.
    const validated = await SwaggerParser.validate(structuredClone(doc) as OpenAPIV3.Document);
    expect(validated.paths).to.have.property('/apps');
  });

  it('documents every route, and no route that does not exist', async function () {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item!).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).to.deep.equal([...allRoutes].sort());
    for (const route of allRoutes) {
      const [method, path] = route.split(' ') as [string, string];
      const concrete = path.replace(/\{[^}]+\}/g, 'x');
      const res = await supertest(fx.app)
        [method.toLowerCase() as 'get'](concrete)
        .set('authorization', `Bearer ${fx.token}`)
        .redirects(0);
      expect(res.body?.message ?? '', route).to.not.match(/^no route /);
    }
  });

  it('holds the POST /apps request schema: the zod schema the route validates with', function () {
    const body = doc.paths['/apps']!.post!.requestBody as OpenAPIV3.RequestBodyObject;
    const schema = body.content['application/json']!.schema as OpenAPIV3.SchemaObject;
    expect(schema.type).to.equal('object');
    expect(Object.keys(schema.properties!)).to.have.members([
      'name',
      'repo',
      'runtime',
      'builder',
      'dockerfile',
      'buildArgs',
      'build',
      'run',
      'env',
      'port',
      'volumes',
      'instances',
      'processes',
      'resources',
      'healthCheck',
      'https',
      'hsts',
    ]);
    // runtime is optional: an app may be built from its Dockerfile alone.
    expect(schema.required).to.have.members(['name', 'repo']);
    expect(schema.additionalProperties).to.equal(false);
    const repo = schema.properties!.repo as OpenAPIV3.SchemaObject;
    expect(Object.keys(repo.properties!)).to.have.members(['url', 'branch', 'path', 'token', 'username']);
    expect(repo.required).to.deep.equal(['url']);
    expect(schema.properties!.port).to.deep.include({ type: 'integer', minimum: 1, maximum: 65535 });
    expect(schema.properties!.build).to.deep.include({ type: 'array', maxItems: 50 });
  });

  it('states how each route authenticates', function () {
    expect(doc.components!.securitySchemes).to.have.keys('adminToken', 'adminSession', 'githubSignature');
    expect(doc.paths['/apps']!.get!.security).to.deep.equal([{ adminToken: [] }]);
    expect(doc.paths['/healthz']!.get!.security).to.deep.equal([]);
    expect(doc.paths['/webhooks/github/{app}']!.post!.security).to.deep.equal([{ githubSignature: [] }]);
    expect(doc.paths['/admin/queues']!.get!.security).to.deep.equal([{ adminToken: [] }, { adminSession: [] }]);
    const params = doc.paths['/apps/{name}']!.get!.parameters as OpenAPIV3.ParameterObject[];
    expect(params).to.deep.include({
      name: 'name',
      in: 'path',
      required: true,
      description: 'the app name',
      schema: { type: 'string' },
    });
    expect(doc.paths['/apps']!.post!.responses['202']).to.have.nested.property(
      'content.application/json.schema.properties.job',
    );
  });

  it('/docs is a browsable page whose assets are served locally (no CDN)', async function () {
    const page = await supertest(fx.app).get('/docs').expect(200).expect('content-type', /html/);
    expect(page.text).to.not.match(/https?:\/\//);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).to.include.members([
      '/docs/assets/swagger-ui.css',
      '/docs/assets/swagger-ui-bundle.js',
      '/docs/init.js',
    ]);
    for (const asset of assets) {
      const res = await supertest(fx.app).get(asset).expect(200);
      expect(res.headers['content-type'], asset).to.match(/css|javascript/);
    }
    expect((await supertest(fx.app).get('/docs/init.js')).text).to.include("url: '/openapi.json'");
    expect((await supertest(fx.app).get('/docs/assets/no-such-file.js')).status).to.equal(404);
  });
});
