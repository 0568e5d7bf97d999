import { expect } from 'chai';
import { decideRestart, recentCrashes, type CrashPolicy } from '../../../src/workers/apps/crash-policy.ts';

const policy: CrashPolicy = { backoffMs: 1000, backoffMaxMs: 8000, maxCrashes: 5, windowMs: 60_000 };

describe('crash-policy', () => {
  it('restarts after the base delay on a first crash', () => {
    expect(decideRestart([], 100_000, policy)).to.deep.equal({ action: 'restart', delayMs: 1000, recentCrashes: 1 });
  });

  const cases: [number[], number, ReturnType<typeof decideRestart>][] = [
    [[99_000], 100_000, { action: 'restart', delayMs: 2000, recentCrashes: 2 }],
    [[98_000, 99_000], 100_000, { action: 'restart', delayMs: 4000, recentCrashes: 3 }],
    [[97_000, 98_000, 99_000], 100_000, { action: 'restart', delayMs: 8000, recentCrashes: 4 }],
    // The fifth crash within the window is a crash loop.
    [[96_000, 97_000, 98_000, 99_000], 100_000, { action: 'give-up', recentCrashes: 5 }],
    // Crashes older than the window are forgotten: back to the base delay.
    [[10_000, 20_000, 30_000, 39_999], 100_000, { action: 'restart', delayMs: 1000, recentCrashes: 1 }],
    // Times in the future (a clock step) do not count.
    [[200_000], 100_000, { action: 'restart', delayMs: 1000, recentCrashes: 1 }],
  ];
  for (const [history, now, expected] of cases) {
    it(`${JSON.stringify(history)} at ${now} -> ${JSON.stringify(expected)}`, () => {
      expect(decideRestart(history, now, policy)).to.deep.equal(expected);
    });
  }

  it('caps the delay at the maximum', () => {
    const wide = { ...policy, maxCrashes: 20 };
    const history = Array.from({ length: 10 }, (_, i) => 90_000 + i * 100);
    expect(decideRestart(history, 100_000, wide)).to.deep.equal({
      action: 'restart',
      delayMs: 8000,
      recentCrashes: 11,
    });
  });

  it('gives up at once when a single crash is allowed', () => {
    expect(decideRestart([], 0, { ...policy, maxCrashes: 1 }).action).to.equal('give-up');
  });

  it('keeps only the crashes inside the window, oldest first', () => {
    expect(recentCrashes([50_000, 99_000, 41_000, 30_000], 100_000, 60_000)).to.deep.equal([41_000, 50_000, 99_000]);
  });
});
