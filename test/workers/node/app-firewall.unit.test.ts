import { expect } from 'chai';
import { createLogger } from '../../../src/core/log.ts';
import {
  firewallChains,
  planFirewall,
  redisTargets,
  startAppFirewall,
} from '../../../src/workers/node/app-firewall.ts';

describe('app firewall rules (pure)', () => {
  const input = {
    installation: '1a2b3c4d',
    node: 'n1',
    allowPorts: [8080, 8080, 0],
    blocked: [
      { address: '10.0.0.5', port: 6379 },
      { address: 'fd00::5', port: 6380 },
    ],
    denied: ['10.0.0.0/24', 'fd00::/64'],
  };

  it('chains named for the installation and the node, within the kernel limit of 28 characters', () => {
    const a = firewallChains('1a2b3c4d', 'n1');
    const b = firewallChains('1a2b3c4d', 'n2');
    const c = firewallChains('ffffffff', 'n1');
    expect(a.input).to.match(/^GSP-1a2b3c4d-[0-9a-f]{6}-I$/);
    expect(a.forward).to.match(/^GSP-1a2b3c4d-[0-9a-f]{6}-F$/);
    expect(new Set([a.input, b.input, c.input]).size).to.equal(3);
    for (const name of [a.input, a.forward]) expect(name.length).to.be.at.most(28);
  });

  it('IPv4: replies pass, the proxy port stays open, every other new connection to the host is refused; remote Redis and link-local refused on the way out', () => {
    const { input: inChain, forward } = firewallChains('1a2b3c4d', 'n1');
    const plan = planFirewall(input, 4, 'DOCKER-USER');
    expect(plan.hooks).to.deep.equal([
      { chain: 'INPUT', rule: ['-i', 'g1a2b3c4d+', '-j', inChain] },
      { chain: 'DOCKER-USER', rule: ['-i', 'g1a2b3c4d+', '-j', forward] },
    ]);
    expect(plan.chains[inChain]).to.deep.equal([
      ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
      ['-p', 'tcp', '--dport', '8080', '-j', 'RETURN'],
      ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
    ]);
    expect(plan.chains[forward]).to.deep.equal([
      ['-d', '10.0.0.5', '-p', 'tcp', '--dport', '6379', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-d', '10.0.0.0/24', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
      ['-d', '169.254.0.0/16', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
      ['-j', 'RETURN'],
    ]);
  });

  it('IPv6: neighbour discovery passes, the IPv6 Redis is refused, hooked from FORWARD when Docker made no DOCKER-USER', () => {
    const { input: inChain, forward } = firewallChains('1a2b3c4d', 'n1');
    const plan = planFirewall(input, 6, 'FORWARD');
    expect(plan.hooks[1]).to.deep.equal({ chain: 'FORWARD', rule: ['-i', 'g1a2b3c4d+', '-j', forward] });
    expect(plan.chains[inChain]![1]).to.deep.equal(['-p', 'ipv6-icmp', '-j', 'RETURN']);
    expect(plan.chains[inChain]!.at(-1)).to.deep.equal(['-j', 'REJECT', '--reject-with', 'icmp6-port-unreachable']);
    expect(plan.chains[forward]).to.deep.equal([
      ['-d', 'fd00::5', '-p', 'tcp', '--dport', '6380', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-d', 'fd00::/64', '-j', 'REJECT', '--reject-with', 'icmp6-port-unreachable'],
      ['-j', 'RETURN'],
    ]);
  });

  it('the Redis of REDIS_URL: addresses elsewhere only (loopback is this host: the input chain covers it)', async () => {
    expect(await redisTargets('redis://:secret@10.0.0.5:6380/0')).to.deep.equal([{ address: '10.0.0.5', port: 6380 }]);
    expect(await redisTargets('redis://[fd00::5]')).to.deep.equal([{ address: 'fd00::5', port: 6379 }]);
    expect(await redisTargets('redis://127.0.0.1:6379')).to.deep.equal([]);
    expect(await redisTargets('redis://localhost:6379')).to.deep.equal([]);
  });

  it('refuses a Docker daemon on another host, naming the setting (its rules would protect nothing here)', async () => {
    const error = await startAppFirewall({ ...input, dockerHost: 'tcp://10.0.0.9:2375' }, createLogger('silent')).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).to.match(/GASPER_APP_FIREWALL=on .*not on this host.*GASPER_APP_FIREWALL=off/);
  });
});
