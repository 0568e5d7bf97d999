import { expect } from 'chai';
import type { Instance } from '../../src/events/schemas.ts';
import { appFromHost, RouteTable } from '../../src/proxy/route-table.ts';

const domain = 'apps.test';
const instance = (port: number, address = '198.51.100.1'): Instance => ({
  node: 'n1',
  address,
  port,
  container: `c${port}`,
});

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
    it('routes web instances only, and tells an app with no web process from one with no instance up', () => {
      const table = new RouteTable(domain);
      const worker: Instance = { node: 'n1', address: '198.51.100.1', port: 0, container: 'w', process: 'worker' };
      const web: Instance = { ...instance(4001), process: 'web' };
      table.apply({ type: 'app.instances', app: 'blog', release: 'r1', instances: [web, worker] });
      expect(table.resolve('blog.apps.test')).to.deep.include({ kind: 'upstream' });
      expect(table.routedKeys()).to.deep.equal(new Set(['198.51.100.1:4001']));
      table.apply({ type: 'app.instances', app: 'jobs', release: 'r1', instances: [worker], web: false });
      expect(table.resolve('jobs.apps.test')).to.deep.equal({ kind: 'no-instances', app: 'jobs', noWeb: true });
      table.apply({ type: 'app.instances', app: 'jobs', release: 'r2', instances: [] });
      expect(table.resolve('jobs.apps.test')).to.deep.equal({ kind: 'no-instances', app: 'jobs' });
    });

    it('routes a host to the instance of an app.instances event', () => {
      const table = new RouteTable(domain);
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000001', instances: [instance(32768)] });
      expect(table.resolve('blog.apps.test:8080')).to.deep.equal({
        kind: 'upstream',
        app: 'blog',
        upstream: { host: '198.51.100.1', port: 32768, key: '198.51.100.1:32768' },
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
        instances: [instance(1001), instance(1002, '198.51.100.2'), instance(1003)],
      });
      const keys = Array.from({ length: 7 }, () => {
        const result = table.resolve('blog.apps.test');
        return result.kind === 'upstream' ? result.upstream.key : result.kind;
      });
      expect(keys).to.deep.equal([
        '198.51.100.1:1001',
        '198.51.100.2:1002',
        '198.51.100.1:1003',
        '198.51.100.1:1001',
        '198.51.100.2:1002',
        '198.51.100.1:1003',
        '198.51.100.1:1001',
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

  describe('health: upstreams marked down', () => {
    const pick = (table: RouteTable, options = {}) => {
      const r = table.resolve('blog.apps.test', options);
      return r.kind === 'upstream' ? r.upstream.port : r.kind;
    };
    const table3 = () => {
      const table = new RouteTable(domain);
      table.apply({
        type: 'app.instances',
        app: 'blog',
        release: 'r000001',
        instances: [instance(1001), instance(1002), instance(1003)],
      });
      return table;
    };

    it('skips an upstream marked down until the mark expires', () => {
      const table = table3();
      table.markDown('198.51.100.1:1002', 1000, 5000);
      const during = Array.from({ length: 6 }, () => pick(table, { now: 2000 }));
      expect(during).to.not.include(1002);
      expect(new Set(during)).to.deep.equal(new Set([1001, 1003]));
      const after = Array.from({ length: 3 }, () => pick(table, { now: 6000 }));
      expect(after).to.include(1002);
      expect(table.isDown('198.51.100.1:1002', 5999)).to.equal(true);
      expect(table.isDown('198.51.100.1:1002', 6000)).to.equal(false);
    });

    it('still tries a down upstream when every upstream is down', () => {
      const table = table3();
      for (const port of [1001, 1002, 1003]) table.markDown(`198.51.100.1:${port}`, 0, 10_000);
      expect(pick(table, { now: 1 })).to.be.oneOf([1001, 1002, 1003]);
    });

    it('never picks an excluded upstream (a retry), and has none left when all are excluded', () => {
      const table = table3();
      const tried = new Set(['198.51.100.1:1001', '198.51.100.1:1003']);
      for (let i = 0; i < 4; i++) expect(pick(table, { exclude: tried })).to.equal(1002);
      tried.add('198.51.100.1:1002');
      expect(pick(table, { exclude: tried })).to.equal('no-instances');
    });

    it('clears the marks of upstreams a new app.instances event lists (the worker found them healthy)', () => {
      const table = table3();
      table.markDown('198.51.100.1:1002', 0, 10_000);
      table.apply({ type: 'app.instances', app: 'blog', release: 'r000002', instances: [instance(1002)] });
      expect(table.isDown('198.51.100.1:1002', 1)).to.equal(false);
    });

    it('lists the upstreams routed', () => {
      const table = table3();
      table.apply({ type: 'app.instances', app: 'shop', release: 'r000001', instances: [instance(2001)] });
      expect(table.routedKeys()).to.deep.equal(
        new Set(['198.51.100.1:1001', '198.51.100.1:1002', '198.51.100.1:1003', '198.51.100.1:2001']),
      );
    });
  });
});
