import { expect } from 'chai';
import { quotasAfter, quotaWords, userCreated } from '../../src/client/user-commands.ts';

describe('gasper users (text and quotas)', () => {
  const current = { maxApps: 3, maxMemoryMb: 2048 };
  const changes: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['no quota option: kept', {}, current],
    ['one set, the others kept', { maxDatabases: '2' }, { ...current, maxDatabases: 2 }],
    ['one changed', { maxApps: '5' }, { ...current, maxApps: 5 }],
    ['none lifts one', { maxApps: 'none' }, { maxMemoryMb: 2048 }],
    [
      '--max-memory is maxMemoryMb, --max-cpu takes fractions',
      { maxMemory: '512', maxCpu: '1.5' },
      { maxApps: 3, maxMemoryMb: 512, maxCpu: 1.5 },
    ],
    [
      'not a number: left for the API to refuse, naming the field',
      { maxApps: 'lots' },
      { ...current, maxApps: 'lots' },
    ],
  ];
  for (const [what, options, quotas] of changes) {
    it(`quotas: ${what}`, () => expect(quotasAfter(current, options)).to.deep.equal(quotas));
  }

  it('words the quotas, or none', () => {
    expect(quotaWords({})).to.equal('none');
    expect(quotaWords(undefined)).to.equal('none');
    expect(quotaWords({ maxApps: 3, maxDatabases: 1, maxCpu: 2, maxMemoryMb: 1024 })).to.equal(
      'apps ≤ 3, databases ≤ 1, CPU ≤ 2, memory ≤ 1024 MiB',
    );
  });

  it('prints the first token once, with the login that uses it', () => {
    expect(
      userCreated('https://gasper.example.com', {
        user: { name: 'alice', role: 'member', quotas: { maxApps: 2 } },
        token: 'gsp_abc',
      }),
    ).to.equal(
      [
        'alice created (member; quotas: apps ≤ 2). Their first token, shown this once:',
        '  gsp_abc',
        'They sign in with: gasper login https://gasper.example.com --token gsp_abc',
      ].join('\n'),
    );
  });
});
