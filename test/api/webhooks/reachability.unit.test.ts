import { expect } from 'chai';
import { unreachableFromGitHub } from '../../../src/api/webhooks/reachability.ts';

describe('webhooks: a payload URL GitHub can reach', () => {
  const reachability: [string, string, boolean][] = [
    ['a public name', 'https://gasper.example.com/webhooks/github/web', true],
    ['a public address', 'http://203.0.113.7:3000/webhooks/github/web', true],
    ['loopback', 'http://127.0.0.1:3000/webhooks/github/web', false],
    ['localhost', 'http://localhost:3000/webhooks/github/web', false],
    ['a .localhost name', 'http://api.localhost/webhooks/github/web', false],
    ['a private address', 'http://10.1.2.3:3000/webhooks/github/web', false],
    ['IPv6 loopback', 'http://[::1]:3000/webhooks/github/web', false],
  ];
  for (const [what, url, reachable] of reachability) {
    it(`${what}: ${reachable ? 'no warning' : 'warns that GitHub cannot reach it'}`, () => {
      const warning = unreachableFromGitHub(url);
      if (reachable) expect(warning).to.equal(undefined);
      else expect(warning).to.match(/^GitHub cannot reach .*: set GASPER_API_URL/);
    });
  }
});
