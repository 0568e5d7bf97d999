import { expect } from 'chai';
import { appNameProblem, appUrl, queueName, releaseId, reservedAppNames } from '../../src/core/naming.ts';

describe('naming', () => {
  describe('appNameProblem', () => {
    const valid = ['a', 'web', 'my-app', 'app2', '9lives', 'a'.repeat(40)];
    for (const name of valid) {
      it(`accepts "${name.length > 12 ? `${name.slice(0, 8)}… (${name.length})` : name}"`, () => {
        expect(appNameProblem(name)).to.equal(undefined);
      });
    }

    const invalid: [string, string, RegExp][] = [
      ['empty', '', /1 to 40/],
      ['41 characters', 'a'.repeat(41), /1 to 40/],
      ['uppercase', 'MyApp', /lowercase/],
      ['leading dash', '-app', /DNS label/],
      ['trailing dash', 'app-', /DNS label/],
      ['a dot', 'my.app', /DNS label/],
      ['an underscore', 'my_app', /DNS label/],
      ['"--"', 'my--app', /"--"/],
    ];
    for (const [why, name, message] of invalid) {
      it(`rejects ${why}`, () => {
        expect(appNameProblem(name)).to.match(message);
      });
    }

    for (const name of reservedAppNames) {
      it(`rejects the reserved name "${name}"`, () => {
        expect(appNameProblem(name)).to.equal(`"${name}" is reserved`);
      });
    }

    it('treats a reserved name as a prefix only when it is the whole name', () => {
      expect(appNameProblem('api-docs')).to.equal(undefined);
    });
  });

  describe('releaseId', () => {
    it('zero-pads the sequence', () => {
      expect(releaseId(1)).to.equal('r000001');
      expect(releaseId(123456)).to.equal('r123456');
    });

    it('sorts as strings in sequence order', () => {
      const seqs = [10, 2, 100000, 1, 99, 1000];
      const ids = seqs.map(releaseId);
      expect([...ids].sort()).to.deep.equal([...seqs].sort((a, b) => a - b).map(releaseId));
    });
  });

  describe('appUrl', () => {
    const cases: [number, string][] = [
      [80, 'http://blog.example.com'],
      [8080, 'http://blog.example.com:8080'],
      [443, 'http://blog.example.com:443'],
    ];
    for (const [port, url] of cases) {
      it(`builds the URL for proxy port ${port}`, () => {
        expect(appUrl('blog', 'example.com', port)).to.equal(url);
      });
    }
    const httpsCases: [number, string][] = [
      [443, 'https://blog.example.com'],
      [8443, 'https://blog.example.com:8443'],
    ];
    for (const [port, url] of httpsCases) {
      it(`with a platform certificate, HTTPS port ${port}: ${url}`, () => {
        expect(appUrl('blog', 'example.com', 80, port)).to.equal(url);
      });
    }
  });

  describe('queueName', () => {
    it('prefixes the node id', () => {
      expect(queueName('n1')).to.equal('node-n1');
    });
  });
});
