import { expect } from 'chai';
import type { Principal } from '../../src/core/access.ts';
import { transferRefusal, type TransferInput } from '../../src/core/transfer-plan.ts';

const member = (user: string): Principal => ({ user, role: 'member', scopes: ['read', 'deploy'] });
const admin: Principal = { user: 'root', role: 'admin', scopes: ['read', 'deploy', 'admin'] };
const base: TransferInput = { caller: member('alice'), owner: 'alice', to: 'bob', receiverExists: true, linked: [] };

describe('transferRefusal', function () {
  const cases: [string, Partial<TransferInput>, string | undefined][] = [
    ['the owner to an existing user', {}, undefined],
    ['an admin for another owner', { caller: admin }, undefined],
    ['a member who is not the owner', { caller: member('mallory') }, 'FORBIDDEN'],
    ['an unknown receiver', { receiverExists: false }, 'VALIDATION_FAILED'],
    ['to the owner', { to: 'alice' }, 'VALIDATION_FAILED'],
    ["linked to the owner's database", { linked: [{ name: 'pg', owner: 'alice' }] }, 'TRANSFER_LINKED'],
    ["linked to the receiver's database", { linked: [{ name: 'pg', owner: 'bob' }] }, undefined],
    [
      'linked to both',
      {
        linked: [
          { name: 'pg', owner: 'bob' },
          { name: 'cache', owner: 'alice' },
        ],
      },
      'TRANSFER_LINKED',
    ],
  ];
  for (const [label, input, code] of cases) {
    it(`${label} → ${code ?? 'allowed'}`, function () {
      expect(transferRefusal('app', 'web', { ...base, ...input })?.code).to.equal(code);
    });
  }

  it('names the stranded links only, and the field for a bad receiver', function () {
    const refusal = transferRefusal('database', 'pg', {
      ...base,
      linked: [
        { name: 'web', owner: 'bob' },
        { name: 'api', owner: 'alice' },
      ],
    });
    expect(refusal?.message).to.include('app(s) api').and.not.include('web,');
    expect(transferRefusal('app', 'web', { ...base, receiverExists: false })).to.include({ field: 'to' });
  });
});
