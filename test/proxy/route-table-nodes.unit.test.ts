import { expect } from 'chai';
import type { Instance } from '../../src/events/schemas.ts';
import { RouteTable } from '../../src/proxy/route-table.ts';

const domain = 'apps.test';
const on = (node: string, port: number): Instance => ({ node, address: '127.0.0.1', port, container: `c${port}` });
const ports = (table: RouteTable, host: string, tries = 4) =>
  Array.from({ length: tries }, () => {
    const r = table.resolve(host);
    return r.kind === 'upstream' ? r.upstream.port : r.kind;
  });

describe('route-table: node.state', () => {
  it('stops routing to instances on a down node and resumes when it is up', () => {
    const table = new RouteTable(domain);
    table.apply({ type: 'app.instances', app: 'blog', release: 'r1', instances: [on('a', 1001), on('b', 1002)] });
    expect(new Set(ports(table, 'blog.apps.test'))).to.deep.equal(new Set([1001, 1002]));
    table.apply({ type: 'node.state', node: 'a', state: 'down', address: '127.0.0.1' });
    expect(ports(table, 'blog.apps.test')).to.deep.equal([1002, 1002, 1002, 1002]);
    table.apply({ type: 'node.state', node: 'a', state: 'up', address: '127.0.0.1' });
    expect(new Set(ports(table, 'blog.apps.test'))).to.deep.equal(new Set([1001, 1002]));
  });

  it('answers no-instances when every instance is on a down node', () => {
    const table = new RouteTable(domain);
    table.apply({ type: 'app.instances', app: 'blog', release: 'r1', instances: [on('a', 1001)] });
    table.apply({ type: 'node.state', node: 'a', state: 'down', address: '127.0.0.1' });
    expect(table.resolve('blog.apps.test')).to.deep.equal({ kind: 'no-instances', app: 'blog' });
  });

  it('applies a down node to instances published after it (any event order)', () => {
    const table = new RouteTable(domain);
    table.apply({ type: 'node.state', node: 'a', state: 'down', address: '127.0.0.1' });
    table.apply({ type: 'app.instances', app: 'blog', release: 'r1', instances: [on('a', 1001), on('b', 1002)] });
    expect(ports(table, 'blog.apps.test', 2)).to.deep.equal([1002, 1002]);
  });

  it('routes to the failed-over instance published on another node', () => {
    const table = new RouteTable(domain);
    table.apply({ type: 'app.instances', app: 'blog', release: 'r1', instances: [on('a', 1001)] });
    table.apply({ type: 'node.state', node: 'a', state: 'down', address: '127.0.0.1' });
    table.apply({ type: 'app.instances', app: 'blog', release: 'r2', instances: [on('b', 2001)] });
    expect(ports(table, 'blog.apps.test', 2)).to.deep.equal([2001, 2001]);
  });

  it('leaves apps on other nodes alone, and forgets removed apps', () => {
    const table = new RouteTable(domain);
    table.apply({ type: 'app.instances', app: 'blog', release: 'r1', instances: [on('b', 1002)] });
    table.apply({ type: 'app.instances', app: 'shop', release: 'r1', instances: [on('a', 1003)] });
    table.apply({ type: 'app.removed', app: 'shop' });
    table.apply({ type: 'node.state', node: 'a', state: 'down', address: '127.0.0.1' });
    table.apply({ type: 'node.state', node: 'a', state: 'up', address: '127.0.0.1' });
    expect(ports(table, 'blog.apps.test', 1)).to.deep.equal([1002]);
    expect(table.has('shop')).to.equal(false);
  });
});
