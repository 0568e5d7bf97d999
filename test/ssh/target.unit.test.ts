import { expect } from 'chai';
import { chooseInstance, dockerEndpointFor, parseSshUser, runSessionPlace } from '../../src/ssh/target.ts';

const instance = (node: string, container: string) => ({ node, address: '127.0.0.1', port: 40000, container });

describe('parseSshUser', () => {
  const cases: Array<[string, ReturnType<typeof parseSshUser>]> = [
    ['shop', { app: 'shop' }],
    ['shop-2', { app: 'shop-2' }],
    ['shop.0', { app: 'shop', instance: 0 }],
    ['shop.12', { app: 'shop', instance: 12 }],
    ['Shop', undefined],
    ['shop.', undefined],
    ['shop.x', undefined],
    ['shop.run', { app: 'shop', run: true }],
    ['run.run', { app: 'run', run: true }],
    ['run', { app: 'run' }],
    ['shop.run.0', undefined],
    ['shop.RUN', undefined],
    ['api.run', undefined],
    ['shop.1.2', undefined],
    ['shop.1234', undefined],
    ['-shop', undefined],
    ['api', undefined],
    ['root', { app: 'root' }],
    ['', undefined],
    ['shop;id', undefined],
  ];
  for (const [user, expected] of cases) {
    it(`${JSON.stringify(user)} → ${JSON.stringify(expected)}`, () =>
      expect(parseSshUser(user)).to.deep.equal(expected));
  }
});

describe('chooseInstance', () => {
  const instances = [instance('n1', 'c0'), instance('n2', 'c1')];
  it('takes the first instance by default', () => {
    expect(chooseInstance(instances, { app: 'a' })).to.deep.equal({ ok: true, instance: instances[0] });
  });
  it('takes the one asked for', () => {
    expect(chooseInstance(instances, { app: 'a', instance: 1 })).to.deep.equal({ ok: true, instance: instances[1] });
  });
  it('says when the instance does not exist, and when there is none', () => {
    expect(chooseInstance(instances, { app: 'a', instance: 2 })).to.deep.equal({
      ok: false,
      problem: 'app "a" has no instance 2 (it has 2: 0..1)',
    });
    expect(chooseInstance([], { app: 'a' })).to.deep.equal({ ok: false, problem: 'app "a" has no running instance' });
  });
});

describe('dockerEndpointFor', () => {
  const self = { nodeId: 'n1', dockerHost: 'unix:///var/run/docker.sock' };
  const nodes = [{ id: 'n1' }, { id: 'n2', docker: 'tcp://198.51.100.2:2376' }, { id: 'n3' }];
  it("uses this node's own DOCKER_HOST for its instances, whatever its document says", () => {
    expect(dockerEndpointFor(instance('n1', 'c'), self, nodes)).to.deep.equal({
      ok: true,
      endpoint: 'unix:///var/run/docker.sock',
    });
    expect(dockerEndpointFor(instance('n1', 'c'), { nodeId: 'n1', dockerHost: undefined }, nodes)).to.deep.equal({
      ok: true,
      endpoint: undefined,
    });
  });
  it('uses the endpoint another node advertises', () => {
    expect(dockerEndpointFor(instance('n2', 'c'), self, nodes)).to.deep.equal({
      ok: true,
      endpoint: 'tcp://198.51.100.2:2376',
    });
  });
  it('explains when another node cannot be reached', () => {
    expect(dockerEndpointFor(instance('n3', 'c'), self, nodes))
      .to.deep.include({ ok: false })
      .and.have.property('problem')
      .that.matches(/does not advertise/);
    expect(dockerEndpointFor(instance('n9', 'c'), self, nodes)).to.deep.equal({
      ok: false,
      problem: 'node "n9" is not registered',
    });
  });
});

describe('runSessionPlace', () => {
  const self = { nodeId: 'n1', sshPort: 2222 };
  const nodes = [
    { id: 'n1', address: '10.0.0.1' },
    { id: 'n2', address: '10.0.0.2' },
  ];
  it("opens on the app's node once it has a release", () => {
    expect(runSessionPlace({ name: 'shop', node: 'n1', release: 'r000002' }, self, nodes)).to.deep.equal({ ok: true });
  });
  it('says the app has no release yet', () => {
    expect(runSessionPlace({ name: 'shop', node: 'n1' }, self, nodes)).to.deep.equal({
      ok: false,
      problem: 'app "shop" has no release to run in yet: deploy it first',
    });
  });
  it('sends the client to the node the app runs on, with its SSH endpoint', () => {
    expect(runSessionPlace({ name: 'shop', node: 'n2', release: 'r000002' }, self, nodes)).to.deep.equal({
      ok: false,
      problem:
        'app "shop" runs on node "n2", not this one ("n1"): open the session through that node\'s SSH service: ssh -p 2222 shop.run@10.0.0.2',
    });
  });
  it('names the node even when it is not registered', () => {
    expect(runSessionPlace({ name: 'shop', node: 'n9', release: 'r000002' }, self, nodes)).to.deep.equal({
      ok: false,
      problem: 'app "shop" runs on node "n9", not this one ("n1"): open the session through that node\'s SSH service',
    });
  });
});
