import { expect } from 'chai';
import type { Role } from '../../src/core/access.ts';
import {
  decideRevocations,
  holderOf,
  revocationNotice,
  streamEndReason,
  type AccessState,
  type RevocationReason,
  type SessionHolder,
} from '../../src/core/session-revocation.ts';

interface World {
  app?: { owner: string; status: string };
  users: Record<string, Role>;
  tokens: string[];
}

const state = (w: World): AccessState => ({
  app: () => w.app,
  user: (name) => (w.users[name] ? { role: w.users[name] } : undefined),
  tokenLive: (user, id) => w.tokens.includes(`${user}/${id}`),
});

const alice: SessionHolder = { kind: 'user', user: 'alice', role: 'member', tokenId: 't1' };
const root: SessionHolder = { kind: 'user', user: 'root', role: 'admin', tokenId: 'r1' };
const bootstrap: SessionHolder = { kind: 'user', user: 'admin', role: 'admin' };
const aliceKeys: SessionHolder = { kind: 'credentials', owner: 'alice' };
const before: World = {
  app: { owner: 'alice', status: 'running' },
  users: { alice: 'member', bob: 'member', root: 'admin', admin: 'admin' },
  tokens: ['alice/t1', 'root/r1'],
};

describe('decideRevocations', function () {
  const cases: [string, SessionHolder, Partial<World>, RevocationReason | undefined][] = [
    ["the owner's follow, nothing changed", alice, {}, undefined],
    ["the owner's follow, app given to bob", alice, { app: { owner: 'bob', status: 'running' } }, 'app transferred'],
    ["an admin's follow, app given to bob", root, { app: { owner: 'bob', status: 'running' } }, undefined],
    [
      'the bootstrap admin (no token id), app given away',
      bootstrap,
      { app: { owner: 'bob', status: 'running' } },
      undefined,
    ],
    ["the owner's follow, app gone", alice, { app: undefined }, 'app deleted'],
    ["an admin's follow, app being deleted", root, { app: { owner: 'alice', status: 'deleting' } }, 'app deleted'],
    ["the owner's follow, user deleted", alice, { users: { root: 'admin' } }, 'user deleted'],
    ["the owner's follow, its token revoked", alice, { tokens: ['root/r1'] }, 'token revoked'],
    [
      'an admin made a member, on an app not theirs',
      root,
      { users: { alice: 'member', root: 'member' } },
      'role changed',
    ],
    ["an SSH session with the owner's keys, nothing changed", aliceKeys, {}, undefined],
    [
      "an SSH session with the owner's keys, app given to bob",
      aliceKeys,
      { app: { owner: 'bob', status: 'running' } },
      'app transferred',
    ],
    ['an SSH session, app being deleted', aliceKeys, { app: { owner: 'alice', status: 'deleting' } }, 'app deleted'],
    // The credentials are the app's, not a user's: deleting a user or a token does not touch them.
    ['an SSH session, tokens and users gone', aliceKeys, { users: {}, tokens: [] }, undefined],
  ];
  for (const [label, holder, change, reason] of cases) {
    it(`${label} → ${reason ?? 'kept'}`, function () {
      const got = decideRevocations([{ id: 's', app: 'web', holder }], state({ ...before, ...change }));
      expect(got).to.deep.equal(reason ? [{ id: 's', reason }] : []);
    });
  }

  it('decides each session on its own: the owner and the old keys go, the admin stays', function () {
    const sessions = [
      { id: 'a', app: 'web', holder: alice },
      { id: 'r', app: 'web', holder: root },
      { id: 'k', app: 'web', holder: aliceKeys },
    ];
    expect(decideRevocations(sessions, state({ ...before, app: { owner: 'bob', status: 'running' } }))).to.deep.equal([
      { id: 'a', reason: 'app transferred' },
      { id: 'k', reason: 'app transferred' },
    ]);
  });
});

describe('revocation wording', function () {
  it('tells a terminal why it closes, and a stream its end reason', function () {
    expect(revocationNotice('app transferred')).to.equal(
      '[gasper] this app was transferred to another user; session closed',
    );
    expect(revocationNotice('app deleted')).to.equal('[gasper] this app was deleted; session closed');
    expect(streamEndReason('app deleted')).to.equal('app deleted');
    for (const r of ['app transferred', 'user deleted', 'token revoked', 'role changed'] as const)
      expect(streamEndReason(r)).to.equal('access revoked');
  });

  it('takes the holder of a request from its principal, token id included when there is one', function () {
    expect(holderOf({ user: 'alice', role: 'member', scopes: ['read'], tokenId: 't1' })).to.deep.equal(alice);
    expect(holderOf({ user: 'admin', role: 'admin', scopes: ['admin'] })).to.deep.equal(bootstrap);
  });
});
