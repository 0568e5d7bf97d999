import { expect } from 'chai';
import { type UpSummary, upMessage } from '../../src/core/up-message.ts';

describe('the start-up line of gasper up', () => {
  const all = { domain: 'localhost', api: 3000, proxy: 8080, dns: 8053 };
  const cases: [string, UpSummary, string][] = [
    [
      'plain HTTP only',
      { ...all, platformCertificate: false },
      'gasper is up: API on :3000, apps at http://<app>.localhost:8080, DNS on :8053',
    ],
    [
      'the platform certificate: apps on https too',
      { ...all, domain: 'apps.example.com', httpsPort: 443, platformCertificate: true },
      'gasper is up: API on :3000, apps at http://<app>.apps.example.com:8080 and https://<app>.apps.example.com:443, DNS on :8053',
    ],
    [
      'an HTTPS listener without the platform certificate: custom domains only, not apps on https',
      { ...all, httpsPort: 8443, platformCertificate: false },
      'gasper is up: API on :3000, apps at http://<app>.localhost:8080 (HTTPS on :8443 for custom domains only: no platform certificate, GASPER_TLS_CERT), DNS on :8053',
    ],
    ['the API alone', { domain: 'localhost', api: 3000, platformCertificate: false }, 'gasper is up: API on :3000'],
    ['a service without ports', { domain: 'localhost', platformCertificate: false }, 'gasper is up'],
  ];
  for (const [what, summary, expected] of cases) {
    it(what, () => expect(upMessage(summary)).to.equal(expected));
  }
});
