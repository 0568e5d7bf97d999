import { expect } from 'chai';
import {
  appBridgeKey,
  bridgeName,
  bridgePrefix,
  cidrRange,
  databaseBridgeKey,
  networkPoolProblem,
  pickSubnet,
  routedRanges,
  type Range,
} from '../../src/core/networks.ts';

describe('network names and subnets (pure)', () => {
  it('bridge names: 15 characters, the installation prefix, distinct per app incarnation, database and node', () => {
    const keys = [
      appBridgeKey('n1', 'web', 'a1'),
      appBridgeKey('n1', 'web', 'a2'),
      appBridgeKey('n1', 'api', 'a1'),
      databaseBridgeKey('n1', 'web', 'a1'),
      appBridgeKey('n2', 'web', 'a1'),
    ];
    const names = keys.map((k) => bridgeName('1a2b3c4d', k));
    for (const n of names) {
      expect(n).to.have.length(15);
      expect(n.startsWith(bridgePrefix('1a2b3c4d'))).to.equal(true);
      expect(n).to.match(/^[a-z0-9]+$/);
    }
    expect(new Set(names).size).to.equal(5);
    expect(bridgeName('1a2b3c4d', appBridgeKey('n1', 'web', 'a1'))).to.equal(names[0]);
  });

  it('pool check', () => {
    expect(networkPoolProblem('10.210.0.0/16')).to.equal(undefined);
    expect(networkPoolProblem('10.210.0.0/26')).to.equal(undefined);
    expect(networkPoolProblem('10.210.0.0/27')).to.match(/\/26 or larger/);
    expect(networkPoolProblem('fd00::/64')).to.match(/IPv4 CIDR/);
    expect(networkPoolProblem('10.210.0.0')).to.match(/IPv4 CIDR/);
  });

  it('picks a free /26, skipping used and routed ranges, none when the pool is full', () => {
    const pool = '10.210.0.0/24'; // four /26 blocks
    const first = pickSubnet(pool, [], 'x')!;
    expect(first).to.match(/^10\.210\.0\.(0|64|128|192)\/26$/);
    expect(pickSubnet(pool, [], 'x')).to.equal(first);
    const used: Range[] = [cidrRange(first)!];
    const second = pickSubnet(pool, used, 'x')!;
    expect(second).to.not.equal(first);
    // A route covering the whole pool (another daemon's bridge, a VPN) leaves nothing.
    expect(pickSubnet(pool, [cidrRange('10.210.0.0/16')!], 'x')).to.equal(undefined);
    expect(pickSubnet(pool, [cidrRange('10.210.0.0/25')!, cidrRange('10.210.0.128/26')!], 'y')).to.equal(
      '10.210.0.192/26',
    );
  });

  it('reads /proc/net/route without the default route', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
      'gx\t00D2D20A\t00000000\t0001\t0\t0\t0\tC0FFFFFF\t0\t0\t0',
    ].join('\n');
    expect(routedRanges(table)).to.deep.equal([cidrRange('172.17.0.0/16'), cidrRange('10.210.210.0/26')]);
  });
});
