import { expect } from 'chai';
import {
  bootstrapAdmin,
  canSee,
  demandProblem,
  grantableScopes,
  hasScope,
  quotaProblem,
  scopeForMethod,
  type Principal,
} from '../../src/core/access.ts';

const member = (scopes: Principal['scopes']): Principal => ({ user: 'alice', role: 'member', scopes });

describe('access rules', () => {
  it('reads need read, every other method deploy', () => {
    expect(['GET', 'HEAD', 'OPTIONS'].map(scopeForMethod)).to.deep.equal(['read', 'read', 'read']);
    expect(['POST', 'PATCH', 'PUT', 'DELETE'].map(scopeForMethod)).to.deep.equal([
      'deploy',
      'deploy',
      'deploy',
      'deploy',
    ]);
  });

  const scopeCases: [string, Principal, 'read' | 'deploy' | 'admin', boolean][] = [
    ['read token reads', member(['read']), 'read', true],
    ['read token cannot deploy', member(['read']), 'deploy', false],
    ['deploy token reads too', member(['deploy']), 'read', true],
    ['deploy token deploys', member(['deploy']), 'deploy', true],
    ['a member never has admin, even if a token says so', member(['admin']), 'admin', false],
    ['a member admin-scoped token counts for nothing', member(['admin']), 'read', false],
    ['the bootstrap admin has admin', bootstrapAdmin, 'admin', true],
    ['an admin with a read token cannot administer', { user: 'root', role: 'admin', scopes: ['read'] }, 'admin', false],
  ];
  for (const [why, principal, scope, expected] of scopeCases) {
    it(`hasScope: ${why}`, () => expect(hasScope(principal, scope)).to.equal(expected));
  }

  it('members see only their own resources; admins see all', () => {
    expect(canSee(member(['read']), 'alice')).to.equal(true);
    expect(canSee(member(['read']), 'bob')).to.equal(false);
    expect(canSee(member(['read']), undefined)).to.equal(false);
    expect(canSee(bootstrapAdmin, 'bob')).to.equal(true);
  });

  it('only admins may hold the admin scope', () => {
    expect(grantableScopes('member')).to.deep.equal(['read', 'deploy']);
    expect(grantableScopes('admin')).to.deep.equal(['read', 'deploy', 'admin']);
  });

  it('quotas: unlimited when unset, refused at the limit', () => {
    expect(quotaProblem({}, { apps: 1000, databases: 1000 }, 'app')).to.equal(undefined);
    expect(quotaProblem({ maxApps: 2 }, { apps: 1, databases: 0 }, 'app')).to.equal(undefined);
    expect(quotaProblem({ maxApps: 2 }, { apps: 2, databases: 0 }, 'app')).to.match(/at most 2 app/);
    expect(quotaProblem({ maxApps: 2 }, { apps: 5, databases: 0 }, 'database')).to.equal(undefined);
    expect(quotaProblem({ maxDatabases: 0 }, { apps: 0, databases: 0 }, 'database')).to.match(/at most 0 database/);
  });

  it('CPU and memory quotas sum every instance, refusing only past the limit', () => {
    const used = { cpu: 1.5, memoryMb: 1024 };
    expect(demandProblem({}, used, { cpu: 100, memoryMb: 1e6 })).to.equal(undefined);
    expect(demandProblem({ maxCpu: 2 }, used, { cpu: 0.5, memoryMb: 0 })).to.equal(undefined);
    expect(demandProblem({ maxCpu: 2 }, used, { cpu: 0.75, memoryMb: 0 })).to.match(/at most 2 CPU/);
    expect(demandProblem({ maxMemoryMb: 2048 }, used, { cpu: 0, memoryMb: 1024 })).to.equal(undefined);
    expect(demandProblem({ maxMemoryMb: 2048 }, used, { cpu: 0, memoryMb: 1025 })).to.match(/at most 2048 MiB/);
  });
});
