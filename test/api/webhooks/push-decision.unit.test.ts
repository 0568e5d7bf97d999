import { expect } from 'chai';
import {
  decidePush,
  normalizeRepoUrl,
  orderPush,
  pushPayloadSchema,
  type LastPush,
  type PushPayload,
} from '../../../src/api/webhooks/push-decision.ts';

const sha = 'a'.repeat(40);
const repository = {
  full_name: 'o/r',
  default_branch: 'trunk',
  clone_url: 'https://github.com/o/r.git',
  ssh_url: 'git@github.com:o/r.git',
  git_url: 'git://github.com/o/r.git',
  html_url: 'https://github.com/o/r',
  pushed_at: 1_700_000_000,
};
const push = (over: Partial<PushPayload> = {}): PushPayload => ({
  ref: 'refs/heads/main',
  after: sha,
  repository,
  ...over,
});

describe('normalizeRepoUrl', function () {
  const same: string[] = [
    'https://github.com/o/r.git',
    'https://github.com/o/r',
    'https://GitHub.com/o/r/',
    'http://github.com/o/r',
    'git@github.com:o/r.git',
    'ssh://git@github.com/o/r.git',
    'git://github.com/o/r',
    'https://user:tok@github.com/o/r.git',
  ];
  for (const url of same)
    it(`${url} -> github.com/o/r`, () => expect(normalizeRepoUrl(url)).to.equal('github.com/o/r'));
  it('keeps ports and file paths apart', () => {
    expect(normalizeRepoUrl('ssh://git@host:2222/o/r.git')).to.equal('host:2222/o/r');
    expect(normalizeRepoUrl('file:///srv/git/r.git')).to.equal('file:/srv/git/r');
    expect(normalizeRepoUrl('https://github.com/o/r2')).to.not.equal(normalizeRepoUrl('https://github.com/o/r'));
  });
});

describe('decidePush', function () {
  const app = { repo: { url: 'git@github.com:o/r.git', branch: 'main' } };
  const table: Array<[string, Parameters<typeof decidePush>[0], PushPayload, ReturnType<typeof decidePush>]> = [
    ['the app branch', app, push(), { deploy: true, branch: 'main', commit: sha }],
    [
      'the default branch when the app has none',
      { repo: { url: app.repo.url } },
      push({ ref: 'refs/heads/trunk' }),
      { deploy: true, branch: 'trunk', commit: sha },
    ],
    [
      'another branch',
      app,
      push({ ref: 'refs/heads/dev' }),
      { deploy: false, reason: 'push to branch dev; the app deploys main' },
    ],
    [
      'a branch whose name extends the app one',
      app,
      push({ ref: 'refs/heads/main2' }),
      { deploy: false, reason: 'push to branch main2; the app deploys main' },
    ],
    [
      'a tag',
      app,
      push({ ref: 'refs/tags/v1' }),
      { deploy: false, reason: 'tag push (v1); only branch pushes deploy' },
    ],
    [
      'a deletion',
      app,
      push({ deleted: true, after: '0'.repeat(40) }),
      { deploy: false, reason: 'refs/heads/main was deleted' },
    ],
    ['the zero sha', app, push({ after: '0'.repeat(40) }), { deploy: false, reason: 'refs/heads/main was deleted' }],
    [
      'a pull request ref',
      app,
      push({ ref: 'refs/pull/1/head' }),
      { deploy: false, reason: 'refs/pull/1/head is not a branch' },
    ],
    [
      'another repository',
      app,
      push({
        repository: {
          ...repository,
          full_name: 'x/y',
          clone_url: 'https://github.com/x/y.git',
          ssh_url: undefined,
          git_url: undefined,
          html_url: undefined,
        },
      }),
      { deploy: false, reason: 'push to repository x/y; the app deploys git@github.com:o/r.git' },
    ],
    [
      'an "after" that is not a sha',
      app,
      push({ after: 'main' }),
      { deploy: false, reason: '"after" is not a commit id: main' },
    ],
    [
      'no branch anywhere',
      { repo: { url: app.repo.url } },
      push({ repository: { ...repository, default_branch: undefined } }),
      { deploy: false, reason: 'the app has no branch and the payload names no default branch' },
    ],
  ];
  for (const [what, a, p, expected] of table) it(what, () => expect(decidePush(a, p)).to.deep.equal(expected));
});

describe('orderPush', function () {
  const at = (pushedAt: number | string) => push({ repository: { ...repository, pushed_at: pushedAt } });
  const b = 'b'.repeat(40);
  const last: LastPush = { pushedAt: 1_700_000_000, commits: [sha] };
  const table: Array<[string, LastPush | undefined, PushPayload, string, ReturnType<typeof orderPush>]> = [
    [
      'the first push',
      undefined,
      at(1_700_000_000),
      sha,
      { deploy: true, lastPush: { pushedAt: 1_700_000_000, commits: [sha] } },
    ],
    ['a newer push', last, at(1_700_000_060), b, { deploy: true, lastPush: { pushedAt: 1_700_000_060, commits: [b] } }],
    [
      'a newer push of an older commit (a force push back)',
      { pushedAt: 1_700_000_000, commits: [b] },
      at(1_700_000_060),
      sha,
      { deploy: true, lastPush: { pushedAt: 1_700_000_060, commits: [sha] } },
    ],
    [
      'an older push (a replayed delivery)',
      last,
      at(1_699_999_000),
      b,
      {
        deploy: false,
        reason:
          'push of 2023-11-14T21:56:40.000Z is older than the last deployed push (2023-11-14T22:13:20.000Z); not deployed again',
      },
    ],
    [
      'the same push again',
      last,
      at(1_700_000_000),
      sha,
      { deploy: false, reason: `push of ${sha} at 2023-11-14T22:13:20.000Z was already deployed` },
    ],
    [
      'another commit pushed the same second',
      last,
      at(1_700_000_000),
      b,
      { deploy: true, lastPush: { pushedAt: 1_700_000_000, commits: [sha, b] } },
    ],
    [
      'an ISO pushed_at',
      last,
      at('2023-11-14T22:14:20Z'),
      b,
      { deploy: true, lastPush: { pushedAt: 1_700_000_060, commits: [b] } },
    ],
  ];
  for (const [what, before, p, commit, expected] of table)
    it(what, () => expect(orderPush(before, p, commit)).to.deep.equal(expected));

  it('keeps at most 20 commits of one second', () => {
    let record: LastPush = { pushedAt: 1, commits: [] };
    for (let i = 0; i < 30; i++) {
      const order = orderPush(record, at(1), i.toString(16).padStart(40, '0'));
      if (!order.deploy) throw new Error(order.reason);
      record = order.lastPush;
    }
    expect(record.commits).to.have.length(20);
  });

  it('the payload schema needs repository.pushed_at, a number or an ISO time', () => {
    const { pushed_at: _omitted, ...without } = repository;
    expect(pushPayloadSchema.safeParse({ ref: 'refs/heads/main', after: sha, repository: without }).success).to.equal(
      false,
    );
    expect(pushPayloadSchema.safeParse(at('yesterday')).success).to.equal(false);
    expect(pushPayloadSchema.safeParse(at('2023-11-14T22:14:20+02:00')).success).to.equal(true);
  });
});
