import { expect } from 'chai';
import { engines } from '../../../src/core/engines.ts';
import { observeDatabase } from '../../../src/workers/databases/health.ts';
import { databaseContainerSpec, type DatabaseSpecInput } from '../../../src/workers/databases/container-spec.ts';

describe('database container spec and health (pure)', () => {
  const input: DatabaseSpecInput = {
    name: 'shop',
    uid: 'abc',
    installation: 'a1b2c3d4',
    node: 'n1',
    engine: engines.postgres!,
    image: 'gasper/postgres:latest',
    credentials: { database: 'shop', user: 'u_shop', password: 'secret' },
    container: 'gasper-a1b2c3d4-db-shop',
    host: 'gasper-db-shop',
    volume: 'gasper-db-shop-abc',
    network: 'gasper-db-shop-abc',
    publishAddress: '127.0.0.1',
    hostPort: 15123,
  };

  it('puts the database on its own network, publishes on the node address only, keeps data in the volume', () => {
    const spec = databaseContainerSpec(input);
    expect(spec.HostConfig?.NetworkMode).to.equal('gasper-db-shop-abc');
    expect(spec.HostConfig?.PortBindings).to.deep.equal({ '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '15123' }] });
    expect(spec.HostConfig?.Mounts).to.deep.equal([
      { Type: 'volume', Source: 'gasper-db-shop-abc', Target: '/var/lib/postgresql/data' },
    ]);
    expect(spec.HostConfig?.RestartPolicy).to.deep.equal({ Name: 'unless-stopped' });
    expect(spec.Labels).to.include({
      'io.gasper.database': 'shop',
      'io.gasper.installation': 'a1b2c3d4',
      'io.gasper.node': 'n1',
      'io.gasper.role': 'database',
    });
    // Linked apps reach it by the same host name whatever the installation.
    expect(spec.NetworkingConfig?.EndpointsConfig?.['gasper-db-shop-abc']?.Aliases).to.deep.equal(['gasper-db-shop']);
  });

  it('applies resource limits', () => {
    const spec = databaseContainerSpec({ ...input, resources: { memoryMb: 256, cpus: 0.5 } });
    expect(spec.HostConfig?.Memory).to.equal(256 * 1024 * 1024);
    expect(spec.HostConfig?.NanoCpus).to.equal(5e8);
  });

  it('changes its hash when the password changes (a rotation recreates the container), not otherwise', () => {
    const hash = (i: DatabaseSpecInput) => databaseContainerSpec(i).Labels!['io.gasper.spec-hash'];
    expect(hash(input)).to.equal(hash({ ...input }));
    expect(hash(input)).to.not.equal(hash({ ...input, credentials: { ...input.credentials, password: 'other' } }));
  });

  it('reads running, restarting and down from inspect data', () => {
    const ports = { Ports: { '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '15123' }] } };
    const info = (state: object, restarts = 0) =>
      ({ State: state, RestartCount: restarts, NetworkSettings: ports }) as never;
    expect(observeDatabase(info({ Running: true, Restarting: false }), 5432)).to.deep.equal({
      status: 'running',
      restarts: 0,
      port: 15123,
      problem: undefined,
    });
    expect(observeDatabase(info({ Running: true, Restarting: true, ExitCode: 137 }, 2), 5432)).to.include({
      status: 'restarting',
      restarts: 2,
    });
    const down = observeDatabase(info({ Running: false, Restarting: false, ExitCode: 1, OOMKilled: true }, 1), 5432);
    expect(down.status).to.equal('down');
    expect(down.problem).to.equal('exited with code 1 (out of memory)');
  });
});
