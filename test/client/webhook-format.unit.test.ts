import { expect } from 'chai';
import { webhookLine, webhookSetup } from '../../src/client/webhook-commands.ts';

describe('gasper webhook (text)', () => {
  const created = {
    url: 'https://gasper.example.com/webhooks/github/web',
    secret: 's3cr3t',
    contentType: 'application/json',
  };
  it('prints the four fields to paste into GitHub, and which branch deploys', () => {
    expect(webhookSetup('web', created, 'main', false)).to.equal(
      [
        "web: push webhook ready. On GitHub, in the repository's Settings → Webhooks → Add webhook:",
        '  Payload URL:   https://gasper.example.com/webhooks/github/web',
        '  Content type:  application/json',
        '  Secret:        s3cr3t   (shown this once)',
        '  Events:        Just the push event',
        'A push to branch main then deploys exactly the pushed commit.',
      ].join('\n'),
    );
  });

  it('says a rotation stops the old secret, and names the default branch when the app has none', () => {
    const text = webhookSetup('web', created, undefined, true);
    expect(text).to.match(/^web: push webhook secret rotated: the old one stops working now/);
    expect(text).to.include("A push to the repository's default branch then deploys");
  });

  const lines: [string, unknown, string][] = [
    ['none', null, 'web: no push webhook (gasper webhook create web sets one up)'],
    [
      'set up, nothing pushed yet',
      { createdAt: '2026-12-01T09:00:00.000Z', lastPushAt: null },
      'web: push webhook set up 2026-12-01 09:00 UTC; no push deployed yet',
    ],
    [
      'with a push deployed',
      { createdAt: '2026-12-01T09:00:00.000Z', lastPushAt: '2026-12-02T08:30:00.000Z' },
      'web: push webhook set up 2026-12-01 09:00 UTC; last push deployed: 2026-12-02 08:30 UTC',
    ],
  ];
  for (const [what, webhook, line] of lines) {
    it(`show: ${what}`, () => expect(webhookLine('web', webhook as never)).to.equal(line));
  }
});
