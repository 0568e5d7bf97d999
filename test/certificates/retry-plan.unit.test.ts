import { expect } from 'chai';
import { classifyAcmeError, parseRetryAfter } from '../../src/certificates/acme-order.ts';
import { dnsMismatch } from '../../src/certificates/dns-check.ts';
import { planRetry, type CertificateFailure, type RetryPolicy } from '../../src/certificates/retry-plan.ts';

const now = Date.parse('2026-01-01T00:00:00Z');
const policy: RetryPolicy = {
  attemptsMade: 0,
  maxAttempts: 6,
  baseDelayMs: 30_000,
  maxDelayMs: 3600_000,
  rateLimitWaitMs: 3600_000,
};
const domain = 'shop.example.com';
const acme = (type: string, detail: string, extra: Partial<Extract<CertificateFailure, { kind: 'acme' }>> = {}) =>
  ({ kind: 'acme', type: `urn:ietf:params:acme:error:${type}`, detail, status: 400, ...extra }) as CertificateFailure;

describe('certificates: retry plan', () => {
  it('waits for a rate limit until Retry-After, saying what the CA said', () => {
    const until = now + 2 * 3600_000;
    const plan = planRetry(
      domain,
      acme('rateLimited', 'too many certificates (5) already issued', { status: 429, retryAfter: until }),
      policy,
      now,
    );
    expect(plan).to.deep.equal({
      action: 'wait',
      until,
      message: 'The certificate authority is rate limiting: too many certificates (5) already issued.',
    });
  });

  it('waits the default time for a rate limit without Retry-After, even on the last attempt', () => {
    const plan = planRetry(
      domain,
      acme('rateLimited', 'slow down', { status: 429 }),
      { ...policy, attemptsMade: 5 },
      now,
    );
    expect(plan.action).to.equal('wait');
    expect(plan.action === 'wait' && plan.until).to.equal(now + 3600_000);
  });

  const cases: [string, CertificateFailure, number, RetryPlan['action'], number | undefined, RegExp][] = [
    [
      'a challenge the CA could not connect to: give up, naming port 80',
      acme('connection', '127.0.0.1: Connection refused'),
      0,
      'give-up',
      undefined,
      /^The certificate authority refused: 127\.0\.0\.1: Connection refused\. The CA could not connect to http:\/\/shop\.example\.com\/\.well-known\/acme-challenge\/: port 80/,
    ],
    [
      'a wrong answer to the challenge: give up, naming another server',
      acme('unauthorized', 'The key authorization file from the server did not match this challenge'),
      0,
      'give-up',
      undefined,
      /another server/,
    ],
    [
      'a CAA record: give up',
      acme('caa', 'CAA record forbids'),
      0,
      'give-up',
      undefined,
      /CAA record of shop\.example\.com/,
    ],
    [
      'the CA failing inside: retry',
      acme('serverInternal', 'oops', { status: 500 }),
      0,
      'retry',
      30_000,
      /^The certificate authority refused: oops\.$/,
    ],
    [
      'a 503 without a problem type: retry, doubled',
      { kind: 'acme', detail: 'unavailable', status: 503 },
      2,
      'retry',
      120_000,
      /refused: unavailable/,
    ],
    [
      'the CA still unreachable on the last attempt: give up',
      { kind: 'network', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:14000' },
      9,
      'give-up',
      undefined,
      /^Could not reach the certificate authority \(ECONNREFUSED/,
    ],
    [
      'DNS elsewhere: retry (records take time to spread)',
      { kind: 'dns', found: ['192.0.2.7'], expected: ['203.0.113.5'] },
      1,
      'retry',
      60_000,
      /^DNS: shop\.example\.com points to 192\.0\.2\.7, not to this platform\. Point its A\/AAAA records to 203\.0\.113\.5\./,
    ],
    [
      'DNS still elsewhere on the last attempt: give up',
      { kind: 'dns', found: [], expected: ['203.0.113.5'] },
      5,
      'give-up',
      undefined,
      /^DNS: shop\.example\.com has no A or AAAA record\. Add one pointing to 203\.0\.113\.5\.$/,
    ],
  ];
  type RetryPlan = ReturnType<typeof planRetry>;
  for (const [name, failure, attemptsMade, action, delayMs, message] of cases) {
    it(name, () => {
      const plan = planRetry(
        domain,
        failure,
        { ...policy, attemptsMade, maxAttempts: attemptsMade >= 9 ? 10 : 6 },
        now,
      );
      expect(plan.action).to.equal(action);
      if (plan.action === 'retry') expect(plan.delayMs).to.equal(delayMs);
      expect(plan.message).to.match(message);
    });
  }

  it('caps the retry delay', () => {
    const plan = planRetry(
      domain,
      { kind: 'internal', message: 'x' },
      { ...policy, attemptsMade: 4, maxAttempts: 99, baseDelayMs: 1000_000 },
      now,
    );
    expect(plan.action === 'retry' && plan.delayMs).to.equal(3600_000);
  });
});

describe('certificates: DNS mismatch', () => {
  const cases: [string[], string[], CertificateFailure | undefined][] = [
    [['203.0.113.5'], ['203.0.113.5'], undefined],
    [['203.0.113.5', '2001:DB8::1'], ['203.0.113.5', '2001:db8::1'], undefined],
    [[], ['203.0.113.5'], { kind: 'dns', found: [], expected: ['203.0.113.5'] }],
    [['192.0.2.1'], ['203.0.113.5'], { kind: 'dns', found: ['192.0.2.1'], expected: ['203.0.113.5'] }],
    // One stray address is enough to fail: the CA may pick it.
    [
      ['203.0.113.5', '192.0.2.1'],
      ['203.0.113.5'],
      { kind: 'dns', found: ['192.0.2.1', '203.0.113.5'], expected: ['203.0.113.5'] },
    ],
  ];
  for (const [found, expected, result] of cases) {
    it(`${found.join(',') || '(none)'} vs ${expected.join(',')}`, () => {
      expect(dnsMismatch(found, expected)).to.deep.equal(result);
    });
  }

  it('names the stray address to remove', () => {
    const failure = dnsMismatch(['203.0.113.5', '192.0.2.1'], ['203.0.113.5'])!;
    expect(planRetry(domain, failure, { ...policy, attemptsMade: 5 }, now).message).to.equal(
      'DNS: shop.example.com points to 192.0.2.1, 203.0.113.5; remove 192.0.2.1, which is not this platform (the CA may try any of them). It should point to 203.0.113.5 only.',
    );
  });
});

describe('certificates: Retry-After', () => {
  const cases: [unknown, number | undefined][] = [
    ['120', now + 120_000],
    ['Thu, 01 Jan 2026 03:00:00 GMT', now + 3 * 3600_000],
    ['', undefined],
    [undefined, undefined],
    ['soon', undefined],
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} → ${expected}`, () => expect(parseRetryAfter(value, now)).to.equal(expected));
  }
});

describe('certificates: DNS messages for an administrator', () => {
  it('says GASPER_DNS_PROXY_ADDRESSES must be set when the platform knows only private addresses', () => {
    const plan = planRetry(
      domain,
      { kind: 'dns', found: ['198.51.100.4'], expected: ['127.0.0.1'] },
      { ...policy, attemptsMade: 5 },
      now,
    );
    expect(plan.message).to.equal(
      'DNS: shop.example.com points to 198.51.100.4, not to this platform. Point its A/AAAA records to 127.0.0.1. (This platform only knows private addresses for itself: an administrator sets GASPER_DNS_PROXY_ADDRESSES to its public ones.)',
    );
  });
});

describe('certificates: classifying what acme-client threw', () => {
  const problem = {
    last: {
      type: 'urn:ietf:params:acme:error:rateLimited',
      detail: 'too many new orders',
      status: 429,
      retryAfter: now + 60_000,
    },
  };
  const cases: [string, unknown, Parameters<typeof classifyAcmeError>[1], CertificateFailure][] = [
    [
      'a connection error: the CA unreachable, whatever problem came before',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:14000'), { code: 'ECONNREFUSED' }),
      problem,
      { kind: 'network', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:14000' },
    ],
    [
      "the CA's TLS not trusted (GASPER_ACME_CA_CERT missing)",
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      {},
      { kind: 'network', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' },
    ],
    [
      'a plain Error after a problem document: the problem, with its type and Retry-After',
      new Error('too many new orders'),
      problem,
      { kind: 'acme', ...problem.last },
    ],
    [
      'a plain Error and no problem seen',
      new Error('Unable to locate API resource URL in ACME directory: "newOrder"'),
      {},
      { kind: 'internal', message: 'Unable to locate API resource URL in ACME directory: "newOrder"' },
    ],
  ];
  for (const [name, err, record, expected] of cases) {
    it(name, () => expect(classifyAcmeError(err, record)).to.deep.equal(expected));
  }
});
