import { expect } from 'chai';
import supertest from 'supertest';
import { runtimeNames } from '../../src/core/runtimes.ts';
import { dashboardCsp } from '../../src/dashboard/router.ts';
import { startApiFixture, type ApiFixture } from '../api/api-fixture.ts';

/** The dashboard's files through the real API app (in-process), with real Redis behind it. */
describe('dashboard: static files under /dashboard (real Redis)', function () {
  let fx: ApiFixture;

  before(async function () {
    fx = await startApiFixture();
  });
  after(async function () {
    await fx?.close();
  });

  it('serves the page and its modules without a token, each under the strict CSP', async function () {
    const page = await supertest(fx.app)
      .get('/dashboard/')
      .expect(200)
      .expect('content-type', /text\/html/);
    expect(page.text).to.include('<script type="module" src="js/main.js"></script>');
    // No inline script or style anywhere in the page: the CSP would refuse it.
    expect(page.text).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).to.not.match(/\sstyle=|\son[a-z]+=/);
    for (const file of ['/dashboard/', '/dashboard/style.css', '/dashboard/js/main.js', '/dashboard/settings.json']) {
      const res = await supertest(fx.app).get(file).expect(200);
      expect(res.headers['content-security-policy'], file).to.equal(dashboardCsp);
      expect(res.headers['x-content-type-options'], file).to.equal('nosniff');
      expect(res.headers['referrer-policy'], file).to.equal('no-referrer');
      expect(res.headers['set-cookie'], file).to.equal(undefined);
    }
    // Module scripts load only with a JavaScript MIME type.
    await supertest(fx.app)
      .get('/dashboard/js/sse.js')
      .expect('content-type', /javascript/);
    expect(dashboardCsp).to.include("script-src 'self'").and.not.include('unsafe');
  });

  it('redirects /dashboard to /dashboard/ and lists the runtimes for the form', async function () {
    await supertest(fx.app).get('/dashboard').expect(301).expect('location', '/dashboard/');
    const settings = await supertest(fx.app).get('/dashboard/settings.json').expect(200);
    expect(settings.body).to.deep.equal({ runtimes: runtimeNames });
  });

  it('answers 404 for a file it does not have (never a directory listing), and the API still needs a token', async function () {
    const missing = await supertest(fx.app).get('/dashboard/nope.js').expect(404);
    expect(missing.body.code).to.equal('NOT_FOUND');
    await supertest(fx.app).get('/dashboard/js/').expect(404);
    await supertest(fx.app).get('/dashboard/../package.json').expect(404);
    await supertest(fx.app).get('/dashboard/%2e%2e/router.ts').expect(404);
    await supertest(fx.app).get('/apps').expect(401);
  });
});
