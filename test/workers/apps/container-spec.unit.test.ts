import { expect } from 'chai';
import { containerLabels } from '../../../src/core/naming.ts';
import {
  containerCaPath,
  containerLaunchDir,
  containerSpec,
  type ContainerSpecInput,
} from '../../../src/workers/apps/container-spec.ts';

const appInput: ContainerSpecInput = {
  name: 'gasper-a1b2c3d4-blog-r000001-0',
  image: 'gasper/node:latest',
  app: 'blog',
  release: 'r000001',
  installation: 'a1b2c3d4',
  node: 'n1',
  role: 'app',
  releaseDir: '/var/gasper/releases/blog/r000001',
  command: 'npm start',
  port: 8080,
  env: { NODE_ENV: 'production', GREETING: 'a=b c' },
  publishAddress: '198.51.100.5',
};
const buildInput: ContainerSpecInput = {
  ...appInput,
  name: 'gasper-a1b2c3d4-blog-r000001-build',
  role: 'build',
  command: undefined,
};

describe('containerSpec', () => {
  it("runs an app container's command under sh, publishes its port and restarts it", () => {
    const spec = containerSpec(appInput);
    expect(spec.name).to.equal('gasper-a1b2c3d4-blog-r000001-0');
    expect(spec.Image).to.equal('gasper/node:latest');
    expect(spec.Cmd).to.deep.equal(['sh', '-c', 'npm start']);
    expect(spec.ExposedPorts).to.deep.equal({ '8080/tcp': {} });
    expect(spec.HostConfig?.PortBindings).to.deep.equal({ '8080/tcp': [{ HostIp: '198.51.100.5', HostPort: '' }] });
    expect(spec.HostConfig?.RestartPolicy).to.deep.equal({ Name: 'no' });
  });

  it('keeps a build container idle, unpublished and not restarted', () => {
    const spec = containerSpec(buildInput);
    expect(spec.Cmd).to.deep.equal(['sleep', 'infinity']);
    expect(spec.ExposedPorts).to.equal(undefined);
    expect(spec.HostConfig?.PortBindings).to.equal(undefined);
    expect(spec.HostConfig?.RestartPolicy).to.deep.equal({ Name: 'no' });
  });

  it("puts app and build containers on the app's network, never on Docker's default bridge when one is given", () => {
    const network = 'gasper-a1b2c3d4-app-blog-0123456789';
    expect(containerSpec({ ...appInput, network }).HostConfig?.NetworkMode).to.equal(network);
    expect(containerSpec({ ...buildInput, network }).HostConfig?.NetworkMode).to.equal(network);
    expect(containerSpec({ ...appInput, network }).Labels![containerLabels.specHash]).to.not.equal(
      containerSpec(appInput).Labels![containerLabels.specHash],
    );
  });

  it('sets PORT, keeps the user env, and sorts Env', () => {
    const env = containerSpec({ ...appInput, env: { ZED: '1', NODE_ENV: 'production', GREETING: 'a=b c' } }).Env;
    expect(env).to.deep.equal(['GREETING=a=b c', 'HOME=/tmp', 'NODE_ENV=production', 'PORT=8080', 'ZED=1']);
  });

  it('lets PORT follow the port, not a user PORT, while a user HOME wins', () => {
    const env = containerSpec({ ...appInput, env: { PORT: '1234', HOME: '/home/app' } }).Env;
    expect(env).to.deep.equal(['HOME=/home/app', 'PORT=8080']);
  });

  it('binds only the release directory without an extra CA bundle', () => {
    const spec = containerSpec(appInput);
    expect(spec.HostConfig?.Binds).to.deep.equal(['/var/gasper/releases/blog/r000001:/app']);
    expect(spec.Env!.filter((e) => /CA|CERT/.test(e))).to.deep.equal([]);
  });

  for (const role of ['app', 'build'] as const) {
    it(`mounts the CA bundle read-only and points TLS clients at it (${role})`, () => {
      const spec = containerSpec({ ...appInput, role, extraCaCerts: '/etc/ssl/corp.pem' });
      expect(spec.HostConfig?.Binds).to.deep.equal([
        '/var/gasper/releases/blog/r000001:/app',
        `/etc/ssl/corp.pem:${containerCaPath}:ro`,
      ]);
      for (const variable of [
        'NODE_EXTRA_CA_CERTS',
        'SSL_CERT_FILE',
        'GIT_SSL_CAINFO',
        'PIP_CERT',
        'REQUESTS_CA_BUNDLE',
      ]) {
        expect(spec.Env).to.include(`${variable}=${containerCaPath}`);
      }
    });
  }

  it('mounts the launch directory read-only in app containers only', () => {
    const launchDir = '/var/gasper/apps/blog/launch/r000001';
    expect(containerSpec({ ...appInput, launchDir }).HostConfig?.Binds).to.deep.equal([
      '/var/gasper/releases/blog/r000001:/app',
      `${launchDir}:${containerLaunchDir}:ro`,
    ]);
    expect(containerSpec({ ...buildInput, launchDir }).HostConfig?.Binds).to.deep.equal([
      '/var/gasper/releases/blog/r000001:/app',
    ]);
  });

  it('labels the container', () => {
    const labels = containerSpec(buildInput).Labels!;
    expect(labels).to.deep.include({
      [containerLabels.managed]: 'true',
      [containerLabels.app]: 'blog',
      [containerLabels.release]: 'r000001',
      [containerLabels.node]: 'n1',
      [containerLabels.role]: 'build',
    });
    expect(labels[containerLabels.specHash]).to.match(/^[0-9a-f]{16}$/);
  });

  it("carries the build's own limits: memory without swap, CPU, pids; no tmpfs (its /tmp is on the measured layer)", () => {
    const spec = containerSpec({ ...buildInput, resources: { cpu: 0.5, memoryMb: 256 }, pidsLimit: 300, tmpMb: 16 });
    expect(spec.HostConfig).to.include({
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 300,
    });
    expect(spec.HostConfig?.Tmpfs).to.equal(undefined);
  });

  it("mounts a size-limited tmpfs at an app's /tmp, executable, sticky", () => {
    const spec = containerSpec({ ...appInput, resources: { cpu: 1, memoryMb: 128 }, tmpMb: 16 });
    expect(spec.HostConfig?.Tmpfs).to.deep.equal({ '/tmp': 'rw,exec,nosuid,nodev,size=16m,mode=1777' });
    expect(spec.HostConfig).to.include({ Memory: 128 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024 });
  });

  it('makes a one-off run container as an app container without a port: same env, limits, tmpfs and hardening', () => {
    const input = { ...appInput, resources: { cpu: 1, memoryMb: 128 }, tmpMb: 16 };
    const app = containerSpec(input);
    const run = containerSpec({ ...input, role: 'run', command: 'rake db:migrate' });
    expect(run.Cmd).to.deep.equal(['sh', '-c', 'rake db:migrate']);
    expect(run.ExposedPorts).to.equal(undefined);
    expect(run.HostConfig?.PortBindings).to.equal(undefined);
    expect(run.Labels?.[containerLabels.role]).to.equal('run');
    for (const key of ['Env', 'User', 'WorkingDir', 'Image'] as const) expect(run[key]).to.deep.equal(app[key]);
    const host = (s: typeof app) => {
      const { PortBindings: _p, ...rest } = s.HostConfig!;
      return rest;
    };
    expect(host(run)).to.deep.equal(host(app));
  });

  it("makes an interactive session's one-off container with stdin open, a TTY if asked, and the session label", () => {
    const input = { ...appInput, role: 'run' as const, command: 'bash' };
    const plain = containerSpec(input);
    expect(plain).to.not.have.any.keys('Tty', 'OpenStdin', 'StdinOnce');
    expect(plain.Labels).to.not.have.property(containerLabels.session);
    for (const tty of [true, false]) {
      const session = containerSpec({ ...input, interactive: { tty, session: 'ssh' } });
      expect(session).to.include({ Tty: tty, OpenStdin: true, StdinOnce: true, AttachStdin: true });
      expect(session.Labels?.[containerLabels.session]).to.equal('ssh');
      expect(session.Labels?.[containerLabels.role]).to.equal('run');
      for (const key of ['Cmd', 'Env', 'User', 'WorkingDir', 'Image', 'HostConfig'] as const)
        expect(session[key]).to.deep.equal(plain[key]);
    }
  });

  describe('spec-hash label', () => {
    const hash = (input: ContainerSpecInput) => containerSpec(input).Labels![containerLabels.specHash];

    it('is the same for the same input', () => {
      expect(hash({ ...appInput })).to.equal(hash(appInput));
    });

    it('does not depend on the order of env keys', () => {
      expect(hash({ ...appInput, env: { GREETING: 'a=b c', NODE_ENV: 'production' } })).to.equal(hash(appInput));
    });

    const changes: [string, Partial<ContainerSpecInput>][] = [
      ['image', { image: 'gasper/node:20' }],
      ['command', { command: 'node server.js' }],
      ['port', { port: 3000 }],
      ['env value', { env: { NODE_ENV: 'development', GREETING: 'a=b c' } }],
      ['role', { role: 'build' }],
      ['publish address', { publishAddress: '198.51.100.6' }],
      ['CA bundle', { extraCaCerts: '/etc/ssl/corp.pem' }],
      ['release directory', { releaseDir: '/tmp/other' }],
      ['launch directory', { launchDir: '/tmp/launch' }],
      ['limits', { resources: { cpu: 1, memoryMb: 64 } }],
      ['tmpfs size', { tmpMb: 32 }],
    ];
    for (const [what, change] of changes) {
      it(`changes with the ${what}`, () => {
        expect(hash({ ...appInput, ...change })).not.to.equal(hash(appInput));
      });
    }
  });
});

describe('containerSpec for an image built from a Dockerfile', () => {
  const input: ContainerSpecInput = {
    ...appInput,
    image: 'gasper-app/a1b2c3d4-blog:r000001',
    command: '',
    fromImage: true,
  };
  it("keeps the image's command, user and working directory, and mounts no release", () => {
    const spec = containerSpec(input);
    expect(spec).to.not.have.property('Cmd');
    expect(spec).to.not.have.property('User');
    expect(spec).to.not.have.property('WorkingDir');
    expect(spec.HostConfig?.Binds).to.deep.equal([]);
    expect(spec.HostConfig?.CapDrop).to.deep.equal(['ALL']);
    expect(spec.HostConfig?.SecurityOpt).to.deep.equal(['no-new-privileges']);
  });
  it("runs the app's run command with sh -c, in place of the image's ENTRYPOINT", () => {
    const spec = containerSpec({ ...input, command: 'node worker.js' });
    expect(spec.Entrypoint).to.deep.equal(['sh', '-c']);
    expect(spec.Cmd).to.deep.equal(['node worker.js']);
  });
});

describe('containerSpec: the build cache', () => {
  const bind = '/var/gasper/apps/blog/build-cache/u1/go:/var/cache/gasper/go';
  it('is bound into a build container only, never an app or one-off container', () => {
    expect(containerSpec({ ...buildInput, buildCacheBinds: [bind] }).HostConfig?.Binds).to.include(bind);
    for (const role of ['app', 'run'] as const)
      expect(containerSpec({ ...appInput, role, buildCacheBinds: [bind] }).HostConfig?.Binds).not.to.include(bind);
  });
});
