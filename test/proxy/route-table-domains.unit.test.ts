import { expect } from 'chai';
import type { GasperEvent, Instance } from '../../src/events/schemas.ts';
import { type EdgeSettings, hostName, platformApp, RouteTable } from '../../src/proxy/route-table.ts';

const domain = 'apps.test';
const instance = (port: number): Instance => ({ node: 'n1', address: '198.51.100.1', port, container: `c${port}` });
const instances = (app: string, port: number): GasperEvent => ({
  type: 'app.instances',
  app,
  release: 'r000001',
  instances: [instance(port)],
});
const domainState = (d: string, app: string): GasperEvent => ({ type: 'domain.state', domain: d, app });

/** Where `host` goes after `events`: the upstream port, or the result's kind. */
function after(events: GasperEvent[], host: string): number | string {
  const table = new RouteTable(domain);
  for (const event of events) table.apply(event);
  const result = table.resolve(host);
  return result.kind === 'upstream' ? result.upstream.port : result.kind;
}

describe('route-table: custom domains', () => {
  describe('hostName', () => {
    const cases: [string | undefined, string][] = [
      ['shop.example.com', 'shop.example.com'],
      ['Shop.Example.COM:443', 'shop.example.com'],
      ['shop.example.com.', 'shop.example.com'],
      ['shop.example.com.:8443', 'shop.example.com'],
      ['[::1]:8080', '[::1]:8080'],
      ['', ''],
      [undefined, ''],
    ];
    for (const [host, name] of cases) {
      it(`${JSON.stringify(host)} -> ${JSON.stringify(name)}`, () => expect(hostName(host)).to.equal(name));
    }
  });

  const cases: [string, GasperEvent[], string, number | string][] = [
    [
      'a domain routes to its app',
      [instances('shop', 1001), domainState('shop.example.com', 'shop')],
      'shop.example.com',
      1001,
    ],
    [
      'with a port, any case, a trailing dot',
      [instances('shop', 1001), domainState('shop.example.com', 'shop')],
      'SHOP.example.com.:8443',
      1001,
    ],
    [
      'the domain event before the app (snapshot order)',
      [domainState('shop.example.com', 'shop'), instances('shop', 1001)],
      'shop.example.com',
      1001,
    ],
    [
      'a domain of an app not routed yet',
      [domainState('shop.example.com', 'shop')],
      'shop.example.com',
      'unknown-host',
    ],
    [
      'the app name still routes',
      [instances('shop', 1001), domainState('shop.example.com', 'shop')],
      'shop.apps.test',
      1001,
    ],
    [
      'an unknown domain',
      [instances('shop', 1001), domainState('shop.example.com', 'shop')],
      'www.example.com',
      'unknown-host',
    ],
    [
      'a subdomain of a custom domain is not it',
      [instances('shop', 1001), domainState('shop.example.com', 'shop')],
      'a.shop.example.com',
      'unknown-host',
    ],
    [
      'a domain moved to another app',
      [
        instances('shop', 1001),
        instances('blog', 2001),
        domainState('x.example.com', 'shop'),
        domainState('x.example.com', 'blog'),
      ],
      'x.example.com',
      2001,
    ],
    [
      'domain.removed',
      [
        instances('shop', 1001),
        domainState('shop.example.com', 'shop'),
        { type: 'domain.removed', domain: 'shop.example.com' },
      ],
      'shop.example.com',
      'unknown-host',
    ],
    [
      'app.removed takes its domains along',
      [instances('shop', 1001), domainState('shop.example.com', 'shop'), { type: 'app.removed', app: 'shop' }],
      'shop.example.com',
      'unknown-host',
    ],
    [
      'app.removed then the app again: its domain needs a new domain.state',
      [
        instances('shop', 1001),
        domainState('shop.example.com', 'shop'),
        { type: 'app.removed', app: 'shop' },
        instances('shop', 1002),
      ],
      'shop.example.com',
      'unknown-host',
    ],
    [
      'another app removed keeps the domain',
      [
        instances('shop', 1001),
        instances('blog', 2001),
        domainState('shop.example.com', 'shop'),
        { type: 'app.removed', app: 'blog' },
      ],
      'shop.example.com',
      1001,
    ],
    [
      'a domain of an app without instances',
      [
        instances('shop', 1001),
        domainState('shop.example.com', 'shop'),
        { type: 'app.instances', app: 'shop', release: 'r2', instances: [] },
      ],
      'shop.example.com',
      'no-instances',
    ],
    [
      '<app>.<domain> wins over a custom domain spelled the same',
      [instances('shop', 1001), instances('blog', 2001), domainState('blog.apps.test', 'shop')],
      'blog.apps.test',
      2001,
    ],
  ];
  for (const [what, events, host, expected] of cases) {
    it(`${what}: ${host} -> ${expected}`, () => expect(after(events, host)).to.equal(expected));
  }
});

describe('route-table: the platform host and app HTTPS settings', () => {
  const platform = { host: 'gasper.apps.test', upstream: '127.0.0.1:3000' };

  it('routes the platform host (any case, any port) to the API address, before any app of that name', () => {
    const table = new RouteTable(domain, platform);
    table.apply(instances('gasper', 1001));
    for (const host of ['gasper.apps.test', 'GASPER.apps.test:8443', 'gasper.apps.test.']) {
      expect(table.resolve(host), host).to.deep.equal({
        kind: 'upstream',
        app: platformApp,
        upstream: { host: '127.0.0.1', port: 3000, key: '127.0.0.1:3000' },
      });
    }
    expect(table.routedKeys().has('127.0.0.1:3000'), 'kept-alive API connections are not swept').to.equal(true);
    expect(new RouteTable(domain).resolve('gasper.apps.test')).to.deep.equal({ kind: 'unknown-host' });
    expect(
      new RouteTable(domain, { host: 'gasper.apps.test', upstream: '[::1]:3000' }).resolve('gasper.apps.test'),
    ).to.have.nested.property('upstream.host', '::1');
  });

  const edge = (app: string, https: 'allow' | 'redirect', hsts: boolean): GasperEvent => ({
    type: 'app.edge',
    app,
    https,
    hsts,
  });
  const cases: [string, GasperEvent[], string, EdgeSettings | undefined][] = [
    ['none: the defaults', [], 'shop', undefined],
    ['redirect', [edge('shop', 'redirect', false)], 'shop', { https: 'redirect', hsts: false }],
    ['hsts', [edge('shop', 'allow', true)], 'shop', { https: 'allow', hsts: true }],
    ['back to the defaults', [edge('shop', 'redirect', true), edge('shop', 'allow', false)], 'shop', undefined],
    ['another app', [edge('shop', 'redirect', true)], 'blog', undefined],
    [
      'app.removed drops them',
      [edge('shop', 'redirect', true), { type: 'app.removed', app: 'shop' }],
      'shop',
      undefined,
    ],
    ["an event cannot set the platform host's", [edge(platformApp, 'allow', true)], platformApp, undefined],
  ];
  for (const [what, events, app, expected] of cases) {
    it(`edge settings: ${what}`, () => {
      const table = new RouteTable(domain);
      for (const event of events) table.apply(event);
      expect(table.edgeOf(app)).to.deep.equal(expected);
    });
  }

  it('the platform host redirects when the proxy says so', () => {
    const table = new RouteTable(domain, { ...platform, edge: { https: 'redirect', hsts: false } });
    expect(table.edgeOf(platformApp)).to.deep.equal({ https: 'redirect', hsts: false });
  });

  describe('redirects only to a name a certificate covers (decided per route or certificate change)', () => {
    const edge = (app: string): GasperEvent => ({ type: 'app.edge', app, https: 'redirect', hsts: true });
    const covered = new Set(['shop.apps.test', 'shop.example.com', 'gasper.apps.test']);
    const cases: [string, string, boolean][] = [
      ['<app>.<domain> covered by the platform certificate', 'shop.apps.test', true],
      ['a custom domain with its certificate loaded', 'Shop.Example.com:80', true],
      ['a custom domain still pending (no certificate)', 'pending.example.com', false],
      ['the platform host, covered', 'gasper.apps.test', true],
    ];
    for (const [what, host, redirect] of cases) {
      it(`${what}: redirect ${redirect}`, () => {
        const table = new RouteTable(domain, { ...platform, edge: { https: 'redirect', hsts: false } });
        table.setCertificateCoverage((name) => covered.has(name));
        for (const event of [
          instances('shop', 3001),
          edge('shop'),
          domainState('shop.example.com', 'shop'),
          domainState('pending.example.com', 'shop'),
        ])
          table.apply(event);
        expect(table.hostEdge(host)?.redirect).to.equal(redirect);
      });
    }

    it('nothing covers anything without a coverage (no HTTPS listener), and a certificate change is seen', () => {
      const table = new RouteTable(domain, { ...platform, edge: { https: 'redirect', hsts: false } });
      table.apply(instances('shop', 3001));
      table.apply(edge('shop'));
      expect(table.hostEdge('shop.apps.test')).to.deep.equal({ redirect: false, hsts: true });
      expect(table.hostEdge('gasper.apps.test')).to.deep.equal({ redirect: false, hsts: false });
      const names = new Set<string>();
      table.setCertificateCoverage((name) => names.has(name));
      expect(table.hostEdge('shop.apps.test')?.redirect).to.equal(false);
      names.add('shop.apps.test');
      // Cached until told.
      expect(table.hostEdge('shop.apps.test')?.redirect).to.equal(false);
      table.certificatesChanged();
      expect(table.hostEdge('shop.apps.test')?.redirect).to.equal(true);
    });
  });
});
