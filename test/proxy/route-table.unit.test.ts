import { expect } from 'chai';
import type { Instance } from '../../src/events/schemas.ts';
import { appFromHost, RouteTable } from '../../src/proxy/route-table.ts';

const domain = 'apps.test';
const instance = (port: number, address = '10.0.0.1'): Instance => ({ node: 'n1', address, port, container: `c${port}` });

describe('route-table', () => {
  describe('appFromHost', () => {
    const cases: [string | undefined, string | undefined][] = [
      ['blog.apps.test', 'blog'],
      ['blog.apps.test:8080', 'blog'],
      ['BLOG.Apps.TEST', 'blog'],
      ['blog.apps.test.', 'blog'],
      ['blog.apps.test.:8080', 'blog'],
      ['a.blog.apps.test', undefined],
      ['blog.example.com', undefined],
      ['blog.evilapps.test', undefined],
      ['apps.test', undefined],
      ['apps.test:8080', undefined],
      ['.apps.test', undefined],
      ['[::1]:8080', undefined],
      ['', undefined],
      [undefined, undefined],
    ];
    for (const [host, app] of cases) {
      it(`${JSON.stringify(host)} -> ${JSON.stringify(app)}`, () => {
        expect(appFromHost(host, domain)).to.equal(app);
      });
    }
  });

  describe('RouteTable', () => {
    it('routes a host to the instance of an app.instances event', () => {
      const table = new RouteTable(domain);
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000001', instances: [instance(32768)] });
      expect(table.resolve('blog.apps.test:8080')).to.deep.equal({
        kind: 'upstream',
        app: 'blog',
        upstream: { host: '10.0.0.1', port: 32768, key: '10.0.0.1:32768' },
      });
      expect(table.size).to.equal(1);
      expect(table.has('blog')).to.equal(true);
    });

    it('balances round-robin over several instances', () => {
      const table = new RouteTable(domain);
      table.apply({
        type: 'app.instances',
        app: 'blog',
        release: 'r000001',
        instances: [instance(1001), instance(1002, '10.0.0.2'), instance(1003)],
      });
      const keys = Array.from({ length: 7 }, () => {
        const result = table.resolve('blog.apps.test');
        return result.kind === 'upstream' ? result.upstream.key : result.kind;
      });
      expect(keys).to.deep.equal([
        '10.0.0.1:1001', '10.0.0.2:1002', '10.0.0.1:1003',
        '10.0.0.1:1001', '10.0.0.2:1002', '10.0.0.1:1003',
        '10.0.0.1:1001',
      ]);
    });

    it('replaces the instances with those of a later event', () => {
      const table = new RouteTable(domain);
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000001', instances: [instance(1001)] });
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000002', instances: [instance(2001)] });
      const result = table.resolve('blog.apps.test');
      expect(result).to.have.nested.property('upstream.port', 2001);
    });

    it('answers no-instances for a known app without instances', () => {
      const table = new RouteTable(domain);
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000001', instances: [] });
      expect(table.resolve('blog.apps.test')).to.deep.equal({ kind: 'no-instances', app: 'blog' });
    });

    it('forgets an app on app.removed', () => {
      const table = new RouteTable(domain);
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000001', instances: [instance(1001)] });
      table.apply({ type: 'app.instances', app: 'shop', release: 'r000001', instances: [instance(1002)] });
      table.apply({ type: 'app.removed', app: 'blog' });
      expect(table.resolve('blog.apps.test')).to.deep.equal({ kind: 'unknown-host' });
      expect(table.has('blog')).to.equal(false);
      expect(table.size).to.equal(1);
      expect(table.resolve('shop.apps.test')).to.have.property('kind', 'upstream');
    });

    const unknown: [string, string | undefined][] = [
      ['an app never seen', 'other.apps.test'],
      ['another domain', 'blog.example.com'],
      ['the domain itself', 'apps.test'],
      ['no Host header', undefined],
    ];
    for (const [what, host] of unknown) {
      it(`answers unknown-host for ${what}`, () => {
        const table = new RouteTable(domain);
        table.apply({ type: 'app.instances', app: 'blog', release: 'r000001', instances: [instance(1001)] });
        expect(table.resolve(host)).to.deep.equal({ kind: 'unknown-host' });
      });
    }
  });
});
