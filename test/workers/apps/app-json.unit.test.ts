import { expect } from 'chai';
import { AppJsonError, parseAppJson } from '../../../src/workers/apps/app-json.ts';

describe('parseAppJson', () => {
  const cases: { name: string; json: unknown; want: Partial<ReturnType<typeof parseAppJson>> }[] = [
    {
      name: 'empty object',
      json: {},
      want: { env: {}, formation: {}, healthchecks: {}, scripts: {}, cron: [], ignored: [] },
    },
    {
      name: 'env: a string is a default, an object may be required or generated',
      json: {
        env: {
          GREETING: 'hi',
          SECRET_KEY: { generator: 'secret', description: 'signs cookies' },
          API_TOKEN: { description: 'from the provider' },
          OPTIONAL: { required: false },
          WITH_VALUE: { value: 'x', required: true },
        },
      },
      want: {
        env: {
          GREETING: { value: 'hi', required: false },
          SECRET_KEY: { generator: 'secret', description: 'signs cookies', required: false },
          API_TOKEN: { description: 'from the provider', required: true },
          OPTIONAL: { required: false },
          WITH_VALUE: { value: 'x', required: true },
        },
      },
    },
    {
      name: 'formation, scripts (top level and Dokku), cron',
      json: {
        formation: { web: { quantity: 2, size: 'standard-1X' }, worker: { quantity: 0 } },
        scripts: { postdeploy: 'node seed.js', dokku: { predeploy: 'npm run migrate' } },
        cron: [
          { command: 'node tick.js', schedule: '*/5 * * * *' },
          { command: 'backup', schedule: '@daily' },
        ],
      },
      want: {
        formation: { web: { quantity: 2 }, worker: { quantity: 0 } },
        scripts: { predeploy: 'npm run migrate', postdeploy: 'node seed.js' },
        cron: [
          { command: 'node tick.js', schedule: '*/5 * * * *' },
          { command: 'backup', schedule: '@daily' },
        ],
        ignored: ['formation.web.size'],
      },
    },
    {
      name: "healthchecks: Dokku's list, the first check is used",
      json: {
        healthchecks: {
          web: [{ type: 'startup', path: '/health', content: 'ok', timeout: 5, attempts: 3 }, { path: '/other' }],
          worker: [],
        },
      },
      want: {
        healthchecks: { web: { path: '/health', content: 'ok', timeout: 5, attempts: 3 } },
        ignored: ['healthchecks.worker', 'healthchecks.web.0.type', 'healthchecks.web.1'],
      },
    },
    {
      name: 'unknown keys are listed',
      json: { name: 'x', addons: ['heroku-postgresql'], env: { A: { value: 'a', foo: 1 } } },
      want: { ignored: ['name', 'addons', 'env.A.foo'] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = parseAppJson(JSON.stringify(c.json));
      for (const [key, value] of Object.entries(c.want)) expect(got[key as keyof typeof got], key).to.deep.equal(value);
    });
  }

  const errors: { json: string; message: string }[] = [
    { json: '{', message: 'app.json: not valid JSON' },
    { json: '[]', message: 'app.json: must be a JSON object' },
    {
      json: '{"env": {"SECRET_KEY": {"generator": "uuid"}}}',
      message: 'app.json: env.SECRET_KEY.generator must be "secret"',
    },
    { json: '{"env": {"A": 3}}', message: 'app.json: env.A must be a string or an object' },
    { json: '{"env": {"1A": "x"}}', message: 'app.json: env.1A is not a variable name' },
    {
      json: '{"env": {"A": {"value": "x", "generator": "secret"}}}',
      message: 'app.json: env.A has both a value and a generator',
    },
    { json: '{"env": {"A": {"required": "yes"}}}', message: 'app.json: env.A.required must be true or false' },
    { json: '{"formation": {"web": {"quantity": -1}}}', message: 'app.json: formation.web.quantity must be 0 or more' },
    { json: '{"formation": {"web": 2}}', message: 'app.json: formation.web must be an object such as {"quantity": 1}' },
    {
      json: '{"healthchecks": {"web": [{"path": "health"}]}}',
      message: 'app.json: healthchecks.web.0.path must start with /',
    },
    {
      json: '{"healthchecks": {"web": [{"path": "/", "attempts": 0}]}}',
      message: 'app.json: healthchecks.web.0.attempts',
    },
    { json: '{"scripts": {"predeploy": 3}}', message: 'app.json: scripts.predeploy must be a command' },
    { json: '{"cron": {}}', message: 'app.json: cron must be a list' },
    {
      json: '{"cron": [{"command": "x", "schedule": "soon"}]}',
      message: 'app.json: cron.0.schedule must be a cron schedule',
    },
    { json: '{"cron": [{"schedule": "@daily"}]}', message: 'app.json: cron.0.command must be a command' },
  ];
  for (const e of errors) {
    it(`refuses ${e.json}`, () => {
      expect(() => parseAppJson(e.json))
        .to.throw(AppJsonError)
        .with.property('message')
        .that.satisfies((m: string) => m.startsWith(e.message) || expect.fail(`${m} does not start with ${e.message}`));
    });
  }
});
