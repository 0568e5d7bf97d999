import { expect } from 'chai';
import { updateBody } from '../../src/client/app-update-command.ts';

describe('gasper apps update: the PATCH the options ask for', () => {
  const cases: [string, Record<string, unknown>, unknown][] = [
    ['no option: nothing', {}, undefined],
    ['a runtime', { runtime: 'python' }, { runtime: 'python' }],
    ['a builder', { builder: 'dockerfile' }, { builder: 'dockerfile' }],
    ['a Dockerfile alone', { dockerfile: 'api/Dockerfile' }, { dockerfile: { path: 'api/Dockerfile' } }],
    [
      'a Dockerfile and its context',
      { dockerfile: 'api/Dockerfile', context: 'api' },
      { dockerfile: { path: 'api/Dockerfile', context: 'api' } },
    ],
    ['the default Dockerfile', { defaultDockerfile: true }, { dockerfile: null }],
    ['build args (replacing the list)', { buildArg: ['NODE_ENV', 'API_URL'] }, { buildArgs: ['NODE_ENV', 'API_URL'] }],
    ['no build args', { noBuildArgs: true }, { buildArgs: null }],
    ['build commands, in order', { build: ['npm ci', 'npm run build'] }, { build: ['npm ci', 'npm run build'] }],
    ["the runtime's default build", { defaultBuild: true }, { build: null }],
    ['a run command', { run: 'node server.js' }, { run: 'node server.js' }],
    ['the default run command', { defaultRun: true }, { run: null }],
    ['a health check path', { healthPath: '/health' }, { healthCheck: { path: '/health' } }],
  ];
  for (const [what, options, body] of cases) {
    it(what, () => expect(updateBody(options)).to.deep.equal(body));
  }

  const refused: [string, Record<string, unknown>, string][] = [
    ['a build and the default one', { build: ['x'], defaultBuild: true }, 'give --build or --default-build, not both'],
    ['a run and the default one', { run: 'x', defaultRun: true }, 'give --run or --default-run, not both'],
    [
      'a context and the default Dockerfile',
      { context: 'api', defaultDockerfile: true },
      'give --dockerfile/--context or --default-dockerfile, not both',
    ],
    ['build args and none', { buildArg: ['A'], noBuildArgs: true }, 'give --build-arg or --no-build-args, not both'],
  ];
  for (const [what, options, message] of refused) {
    it(`refuses ${what}`, () => expect(() => updateBody(options)).to.throw(message));
  }
});
