import { expect } from 'chai';
import { appJsonStartupCheck } from '../../../src/workers/apps/app-json-env.ts';
import {
  bodyPreview,
  describeCheck,
  failureMessage,
  judgeProbe,
  outOfAttempts,
  type ProbeOutcome,
  type ProbeVerdict,
  type StartupCheck,
} from '../../../src/workers/apps/health-verdict.ts';

describe('web startup check: one probe judged', () => {
  const health: StartupCheck = { path: '/health', content: 'ok', timeoutMs: 2000, attempts: 3 };
  const cases: { name: string; check: StartupCheck; outcome: ProbeOutcome; want: ProbeVerdict }[] = [
    { name: 'no path: any answer', check: {}, outcome: { kind: 'answer', status: 500, body: '' }, want: { ok: true } },
    {
      name: 'no path: refused is not an attempt',
      check: {},
      outcome: { kind: 'refused', detail: 'ECONNREFUSED' },
      want: { ok: false, attempt: false, reason: 'GET / could not connect (ECONNREFUSED)' },
    },
    {
      name: 'a path: 2xx passes',
      check: { path: '/health' },
      outcome: { kind: 'answer', status: 204, body: '' },
      want: { ok: true },
    },
    {
      name: 'a path: 3xx passes',
      check: { path: '/health' },
      outcome: { kind: 'answer', status: 302, body: '' },
      want: { ok: true },
    },
    {
      name: 'a path: 4xx is a failed attempt',
      check: { path: '/health' },
      outcome: { kind: 'answer', status: 404, body: 'nope' },
      want: { ok: false, attempt: true, reason: 'GET /health answered 404 (2xx or 3xx expected)' },
    },
    {
      name: 'content found',
      check: health,
      outcome: { kind: 'answer', status: 200, body: '{"status":"ok"}' },
      want: { ok: true },
    },
    {
      name: 'content missing: the message quotes the body',
      check: health,
      outcome: { kind: 'answer', status: 200, body: 'starting' },
      want: {
        ok: false,
        attempt: true,
        reason: 'GET /health answered 200 but the body does not contain "ok" (first 200 bytes: "starting")',
      },
    },
    {
      name: 'the status is checked before the content',
      check: health,
      outcome: { kind: 'answer', status: 503, body: 'ok' },
      want: { ok: false, attempt: true, reason: 'GET /health answered 503 (2xx or 3xx expected)' },
    },
    {
      name: "a timeout is an attempt, said with the check's timeout",
      check: health,
      outcome: { kind: 'timeout' },
      want: { ok: false, attempt: true, reason: 'GET /health did not answer within 2 s' },
    },
    {
      name: 'a timeout without one set: the default 1 s',
      check: { path: '/x' },
      outcome: { kind: 'timeout' },
      want: { ok: false, attempt: true, reason: 'GET /x did not answer within 1 s' },
    },
    {
      name: 'content is case-sensitive',
      check: { path: '/', content: 'OK' },
      outcome: { kind: 'answer', status: 200, body: 'ok' },
      want: {
        ok: false,
        attempt: true,
        reason: 'GET / answered 200 but the body does not contain "OK" (first 200 bytes: "ok")',
      },
    },
  ];
  for (const c of cases) it(c.name, () => expect(judgeProbe(c.check, c.outcome)).to.deep.equal(c.want));
});

describe('web startup check: preview, attempts, words', () => {
  it('the preview is the first 200 bytes, quoted, control characters escaped, no half character', () => {
    expect(bodyPreview('a\nb')).to.equal('"a\\nb"');
    expect(bodyPreview('x'.repeat(300))).to.equal(JSON.stringify('x'.repeat(200)));
    // 199 ASCII bytes then a 2-byte character cut in its middle: the half is dropped.
    expect(bodyPreview(`${'x'.repeat(199)}é`)).to.equal(JSON.stringify('x'.repeat(199)));
  });

  const attempts: [StartupCheck, number, boolean][] = [
    [{ path: '/' }, 1000, false],
    [{ path: '/', attempts: 3 }, 2, false],
    [{ path: '/', attempts: 3 }, 3, true],
    [{ path: '/', attempts: 1 }, 1, true],
  ];
  for (const [check, failed, want] of attempts)
    it(`attempts ${check.attempts ?? 'unset'}, ${failed} failed: ${want ? 'gives up' : 'goes on'}`, () =>
      expect(outOfAttempts(check, failed)).to.equal(want));

  const described: [StartupCheck, string][] = [
    [{}, 'HTTP'],
    [{ path: '/health' }, 'GET /health answering 2xx or 3xx'],
    [
      { path: '/health', content: 'ok', attempts: 3, timeoutMs: 2500 },
      'GET /health answering 2xx or 3xx with "ok" in its body (3 attempts, 2.5 s each)',
    ],
    [{ path: '/h', attempts: 1 }, 'GET /h answering 2xx or 3xx (1 attempt)'],
  ];
  for (const [check, want] of described)
    it(`describes ${JSON.stringify(check)}`, () => expect(describeCheck(check)).to.equal(want));

  it('failure messages: out of attempts, the deadline with and without a path', () => {
    expect(
      failureMessage(
        { path: '/h', attempts: 2 },
        { failedAttempts: 2, lastReason: 'GET /h answered 500 (2xx or 3xx expected)' },
      ),
    ).to.equal('app did not pass its health check after 2 attempts: GET /h answered 500 (2xx or 3xx expected)');
    expect(failureMessage({ path: '/h' }, { failedAttempts: 9, lastReason: 'why', deadlineMs: 60_000 })).to.equal(
      'app did not pass its health check (GET /h answering 2xx or 3xx) within 60 s: why',
    );
    expect(failureMessage({}, { failedAttempts: 0, deadlineMs: 30_000 })).to.equal(
      'app did not answer HTTP on its port within 30 s',
    );
  });

  it("app.json's check in the probe's terms: seconds to milliseconds, unset keys left out", () => {
    expect(appJsonStartupCheck({ path: '/h', content: 'ok', timeout: 2.5, attempts: 4 })).to.deep.equal({
      path: '/h',
      rules: { content: 'ok', timeoutMs: 2500, attempts: 4 },
    });
    expect(appJsonStartupCheck({ path: '/h' })).to.deep.equal({ path: '/h', rules: {} });
  });
});
