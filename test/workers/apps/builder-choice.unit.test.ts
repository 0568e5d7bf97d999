import { expect } from 'chai';
import {
  appImageTag,
  type Builder,
  buildArgsOf,
  chooseBuilder,
  type DockerfileSettings,
  dockerfileInContext,
  imagePort,
  repoPathProblem,
} from '../../../src/workers/apps/builder-choice.ts';
import { ConventionError } from '../../../src/workers/apps/conventions.ts';

type App = { builder?: Builder; dockerfile?: DockerfileSettings; runtime?: string };

describe('chooseBuilder', () => {
  const cases: [string, App, string[], string][] = [
    [
      'auto, Dockerfile at the root',
      { runtime: 'node' },
      ['Dockerfile'],
      'dockerfile: Dockerfile found at the repository root',
    ],
    ['auto, no runtime, Dockerfile', {}, ['Dockerfile'], 'dockerfile: Dockerfile found at the repository root'],
    ['auto, no Dockerfile', { runtime: 'node' }, [], 'runtime: no Dockerfile at the repository root: runtime node'],
    [
      'runtime even with a Dockerfile',
      { builder: 'runtime', runtime: 'php' },
      ['Dockerfile'],
      'runtime: the app asks for builder "runtime"',
    ],
    [
      'dockerfile asked for',
      { builder: 'dockerfile' },
      ['Dockerfile'],
      'dockerfile: the app asks for builder "dockerfile"; Dockerfile at the repository root',
    ],
    [
      'monorepo: context only',
      { dockerfile: { context: 'services/api' } },
      ['services/api/Dockerfile'],
      'dockerfile: Dockerfile found at services/api/Dockerfile, context services/api/',
    ],
    [
      'monorepo: path and context',
      { dockerfile: { path: 'services/api/Dockerfile.prod', context: 'services/api/' } },
      ['services/api/Dockerfile.prod'],
      'dockerfile: Dockerfile found at services/api/Dockerfile.prod, context services/api/',
    ],
    [
      'monorepo: path at the root context',
      { dockerfile: { path: 'docker/web.Dockerfile' } },
      ['docker/web.Dockerfile'],
      'dockerfile: Dockerfile found at docker/web.Dockerfile',
    ],
  ];
  for (const [title, app, files, expected] of cases) {
    it(title, () => {
      const choice = chooseBuilder({ name: 'web', ...app }, (p) => files.includes(p));
      expect(`${choice.builder}: ${choice.reason}`).to.equal(expected);
    });
  }

  const failures: [string, App, string[], RegExp][] = [
    [
      'neither Dockerfile nor runtime',
      {},
      [],
      /^runtime: .*add a Dockerfile.*give the app a runtime \(PATCH \/apps\/web \{"runtime": …\}, or `gasper apps update web --runtime <runtime>`\)$/,
    ],
    [
      'neither, with a package.json',
      {},
      ['package.json', 'index.html'],
      /add a Dockerfile.*give the app runtime "node" as its package\.json suggests \(PATCH \/apps\/web \{"runtime": "node"\}, or `gasper apps update web --runtime node`\), which deploys it again$/,
    ],
    ['neither, with a go.mod', {}, ['go.mod'], /runtime "go" as its go\.mod suggests/],
    [
      'neither, with requirements.txt',
      {},
      ['README.md', 'requirements.txt'],
      /runtime "python" as its requirements\.txt/,
    ],
    ['builder runtime without runtime', { builder: 'runtime' }, ['Dockerfile'], /^runtime: /],
    ['builder dockerfile without one', { builder: 'dockerfile', runtime: 'node' }, [], /has no Dockerfile/],
    [
      'Dockerfile outside the context',
      { dockerfile: { path: 'docker/Dockerfile', context: 'app' } },
      ['docker/Dockerfile'],
      /not inside the build context app/,
    ],
  ];
  for (const [title, app, files, message] of failures) {
    it(`fails: ${title}`, () => {
      expect(() => chooseBuilder({ name: 'web', ...app }, (p) => files.includes(p)))
        .to.throw(ConventionError)
        .with.property('message')
        .that.matches(message);
    });
  }
});

describe('builder helpers', () => {
  it('repoPathProblem refuses paths leaving the repository', () => {
    const table: [string, boolean][] = [
      ['Dockerfile', true],
      ['services/api', true],
      ['services/api/', true],
      ['./x', true],
      ['../Dockerfile', false],
      ['a/../../b', false],
      ['/etc/passwd', false],
      ['a\\b', false],
      ['', false],
    ];
    for (const [value, ok] of table) expect(repoPathProblem(value) === undefined, value).to.equal(ok);
  });
  it('dockerfileInContext gives the path docker build -f wants', () => {
    expect(dockerfileInContext('Dockerfile', '.')).to.equal('Dockerfile');
    expect(dockerfileInContext('a/b/Dockerfile', 'a')).to.equal('b/Dockerfile');
    expect(dockerfileInContext('x/Dockerfile', 'a')).to.equal(undefined);
  });
  it('imagePort takes the lowest exposed TCP port, else the fallback', () => {
    expect(imagePort({ '8000/tcp': {}, '3000/tcp': {} }, 8080)).to.equal(3000);
    expect(imagePort({ '53/udp': {} }, 8080)).to.equal(8080);
    expect(imagePort(undefined, 8080)).to.equal(8080);
    expect(imagePort({ '5000': {} }, 8080)).to.equal(5000);
  });
  it('buildArgsOf passes only the variables named, those set', () => {
    expect(buildArgsOf(['A', 'MISSING'], { A: '1', B: '2' })).to.deep.equal({ A: '1' });
    expect(buildArgsOf(undefined, { A: '1' })).to.deep.equal({});
  });
  it('appImageTag names the installation, app and release', () => {
    expect(appImageTag('gasper', 'a1b2c3d4', 'blog', 'r000002')).to.equal('gasper-app/a1b2c3d4-blog:r000002');
  });
});
