import { expect } from 'chai';
import { oomKills, outOfMemoryMessage } from '../../../src/workers/apps/build.ts';

describe('build: out-of-memory detection', () => {
  const cases: [string, string, number][] = [
    ['cgroup v2 memory.events', 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n', 1],
    ['cgroup v1 memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 3],
    ['no kill yet', 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n', 0],
    ['neither file readable', '', 0],
    ['an old kernel without the counter', 'oom_kill_disable 0\nunder_oom 0\n', 0],
    ['oom_group_kill is not oom_kill', 'oom_group_kill 5\n', 0],
  ];
  for (const [what, text, kills] of cases) {
    it(`reads ${kills} kill(s) from ${what}`, () => expect(oomKills(text)).to.equal(kills));
  }

  it('names the limit and the setting', () => {
    expect(outOfMemoryMessage(1, 'npm run build', 256)).to.equal(
      'the build ran out of memory (limit 256 MiB, GASPER_BUILD_MEMORY_MB): build command 2 (npm run build) was killed',
    );
  });
});
