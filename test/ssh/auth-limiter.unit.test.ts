import { expect } from 'chai';
import { AuthLimiter } from '../../src/ssh/auth-limiter.ts';

describe('AuthLimiter', () => {
  const options = {
    freeFailures: 2,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    lockoutAfter: 8,
    lockoutMs: 60_000,
    windowMs: 10_000,
  };

  it('lets an unknown address try at once', () => {
    expect(new AuthLimiter(options).check('198.51.100.1', 0)).to.deep.equal({ allowed: true, delayMs: 0 });
  });

  it('gives the first failures for free, then doubles the delay up to the ceiling', () => {
    const limiter = new AuthLimiter(options);
    const delays = Array.from({ length: 7 }, (_, i) => {
      const verdict = limiter.failure('198.51.100.1', i);
      return verdict.allowed ? verdict.delayMs : -1;
    });
    expect(delays).to.deep.equal([0, 0, 100, 200, 400, 800, 1000]);
  });

  it('locks the address out after lockoutAfter failures, until lockoutMs has passed', () => {
    const limiter = new AuthLimiter(options);
    for (let i = 0; i < 7; i++) limiter.failure('198.51.100.1', 1000);
    expect(limiter.failure('198.51.100.1', 1000)).to.deep.equal({ allowed: false, retryAfterMs: 60_000 });
    expect(limiter.check('198.51.100.1', 31_000)).to.deep.equal({ allowed: false, retryAfterMs: 30_000 });
    // Once the lockout and the quiet window are over, the address starts afresh.
    expect(limiter.check('198.51.100.1', 61_000 + 10_001)).to.deep.equal({ allowed: true, delayMs: 0 });
  });

  it('keeps addresses apart', () => {
    const limiter = new AuthLimiter(options);
    for (let i = 0; i < 8; i++) limiter.failure('198.51.100.1', 0);
    expect(limiter.check('198.51.100.1', 0).allowed).to.equal(false);
    expect(limiter.check('198.51.100.2', 0)).to.deep.equal({ allowed: true, delayMs: 0 });
  });

  it('forgets failures after a quiet window', () => {
    const limiter = new AuthLimiter(options);
    for (let i = 0; i < 4; i++) limiter.failure('198.51.100.1', 0);
    expect(limiter.check('198.51.100.1', 10_000)).to.deep.equal({ allowed: true, delayMs: 200 });
    expect(limiter.check('198.51.100.1', 10_001)).to.deep.equal({ allowed: true, delayMs: 0 });
    expect(limiter.size).to.equal(0);
  });

  it('bounds its memory: the stalest addresses are dropped first', () => {
    const limiter = new AuthLimiter({ ...options, maxAddresses: 3 });
    for (const address of ['a', 'b', 'c', 'a', 'd']) limiter.failure(address, 0);
    expect(limiter.size).to.equal(3);
    // 'b' was the stalest; 'a' failed again, so it was kept with both failures.
    expect(limiter.failure('a', 0)).to.deep.equal({ allowed: true, delayMs: 100 });
    expect(limiter.failure('b', 0)).to.deep.equal({ allowed: true, delayMs: 0 });
  });

  it('has defaults and refuses nonsense options, naming them', () => {
    expect(new AuthLimiter().options).to.include({ freeFailures: 3, lockoutAfter: 20 });
    expect(() => new AuthLimiter({ baseDelayMs: -1 })).to.throw(/baseDelayMs/);
    expect(() => new AuthLimiter({ lockoutMs: Number.NaN })).to.throw(/lockoutMs/);
  });
});
