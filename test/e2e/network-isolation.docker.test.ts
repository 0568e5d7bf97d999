import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type Docker from 'dockerode';
import { cidrRange, ipv4String } from '../../src/core/networks.ts';
import { runExec } from '../../src/docker/exec.ts';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/**
 * What one tenant's container can reach: another app's container only through the proxy, never
 * at its container address (each app has a network of its own).
 */
describe('network isolation between apps (Docker)', function () {
  this.timeout(240_000);
  let gasper: TestPlatform;
  let repo: GitFixture;

  before(async () => {
    await requireDocker();
    repo = await createGitRepo(helloNodeApp('hello'));
    gasper = await startTestPlatform();
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
  });

  async function deploy(name: string): Promise<Docker.ContainerInspectInfo> {
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    const [container] = await managedContainers(gasper.nodeId, name);
    return docker.getContainer(container!.Id).inspect();
  }

  it("app B cannot open a connection to app A's container address; through the proxy both serve", async () => {
    const suffix = crypto.randomBytes(3).toString('hex');
    const a = await deploy(`iso-a-${suffix}`);
    const b = await deploy(`iso-b-${suffix}`);
    const addresses = Object.values(a.NetworkSettings.Networks)
      .map((n) => n.IPAddress)
      .filter(Boolean);
    expect(addresses, 'app A has a container address').to.not.be.empty;
    const port = Number(Object.keys(a.Config.ExposedPorts ?? {})[0]!.split('/')[0]);

    for (const address of addresses) {
      const started = Date.now();
      const outcome = await tryConnect(b.Id, address, port);
      expect(outcome, `from app B to app A at ${address}:${port}`).to.not.equal('connected');
      expect(Date.now() - started, 'the attempt ends within a few seconds').to.be.below(10_000);
      console.log(`      app B → app A at ${address}:${port}: ${outcome} after ${Date.now() - started} ms`);
    }
    // A container of the same app reaches its own address: the probe itself works.
    expect(await tryConnect(b.Id, Object.values(b.NetworkSettings.Networks)[0]!.IPAddress, port)).to.equal('connected');

    for (const name of [`iso-a-${suffix}`, `iso-b-${suffix}`]) {
      const reply = await viaProxy(gasper.proxyPort, `${name}.localhost`);
      expect(reply.status, name).to.equal(200);
      expect(reply.body).to.equal('hello world\n');
    }

    // Deleting an app removes its network.
    const network = Object.keys(a.NetworkSettings.Networks)[0]!;
    expect(network).to.match(/^gasper-[0-9a-f]{8}-app-iso-a-/);
    const res = await gasper.api().delete(`/apps/iso-a-${suffix}`).expect(202);
    expect((await gasper.waitForJob(res.body.job.id)).state).to.equal('completed');
    const left = await docker.listNetworks({ filters: { name: [network] } });
    expect(left.map((n) => n.Name)).to.not.include(network);
  });

  it('deleting an app waits for a container that still holds its network (a job ending), then removes the network', async () => {
    const name = `iso-late-${crypto.randomBytes(3).toString('hex')}`;
    const app = await deploy(name);
    const network = Object.keys(app.NetworkSettings.Networks)[0]!;
    // Stands for a container an ending job holds: on the network, not among the app's containers
    // the deletion lists, gone a second later.
    const late = await docker.createContainer({
      name: `${name}-late`,
      Image: 'gasper/base:bookworm',
      Cmd: ['sleep', '60'],
      HostConfig: { NetworkMode: network },
    });
    await late.start();
    try {
      const res = await gasper.api().delete(`/apps/${name}`).expect(202);
      await new Promise((r) => setTimeout(r, 1000));
      await late.remove({ force: true });
      const job = await gasper.waitForJob(res.body.job.id);
      expect(job.state).to.equal('completed');
      expect(job.log.join('\n')).to.include(`removed network ${network}`);
      expect((await docker.listNetworks({ filters: { name: [network] } })).map((n) => n.Name)).to.not.include(network);
    } finally {
      await late.remove({ force: true }).catch(() => undefined);
    }
  });
});

/**
 * What an app container can reach on its host: with the services on all addresses (the default
 * `0.0.0.0`), the API, SSH and DNS (TCP) ports at the gateway address of the app's network (and of Docker's
 * default bridge) refuse it; the rules are gone when the worker closes.
 */
describe("the host's services from inside an app container (Docker, iptables)", function () {
  this.timeout(240_000);
  let gasper: TestPlatform | undefined;
  let repo: GitFixture;

  before(async () => {
    await requireDocker();
    repo = await createGitRepo(helloNodeApp('hello'));
    gasper = await startTestPlatform({
      GASPER_API_HOST: '0.0.0.0',
      GASPER_SSH_HOST: '0.0.0.0',
      GASPER_DNS_HOST: '0.0.0.0',
    });
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
  });

  it('the API, SSH and DNS ports on the gateway addresses are not reachable, also while the worker is stopped and the app runs', async () => {
    const name = `fw-${crypto.randomBytes(3).toString('hex')}`;
    const res = await gasper!
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' })
      .expect(202);
    const job = await gasper!.waitForJob(res.body.job.id);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    const [container] = await managedContainers(gasper!.nodeId, name);
    const info = await docker.getContainer(container!.Id).inspect();
    // The app network's gateway, and Docker's default bridge's (the host too), as Docker reports it.
    // (Some daemons report only the subnet: the gateway is then its first address.)
    const bridgeConfig = (await docker.getNetwork('bridge').inspect()).IPAM?.Config?.[0] as
      | { Gateway?: string; Subnet?: string }
      | undefined;
    const bridgeRange = cidrRange(bridgeConfig?.Subnet ?? '');
    const defaultBridge = bridgeConfig?.Gateway ?? (bridgeRange ? ipv4String(bridgeRange[0] + 1) : undefined);
    const gateways = [
      ...new Set(
        [...Object.values(info.NetworkSettings.Networks).map((n) => n.Gateway), defaultBridge].filter(
          (g): g is string => Boolean(g),
        ),
      ),
    ];
    expect(gateways, 'two gateway addresses to try').to.have.length(2);
    const apiPort = Number(new URL(gasper!.apiUrl).port);
    const outcomes: string[] = [];
    for (const gateway of gateways) {
      for (const [service, port] of [
        ['API', apiPort],
        ['SSH', gasper!.sshPort],
        ['DNS', gasper!.platform.dns!.port],
      ] as const) {
        const outcome = await tryConnect(container!.Id, gateway, port);
        outcomes.push(`${service} ${gateway}:${port} ${outcome}`);
        expect(outcome, `${service} at ${gateway}:${port} from inside the app`).to.not.equal('connected');
      }
    }
    // The API does listen there: from the host it answers.
    const health = await fetch(`http://127.0.0.1:${apiPort}/health`).catch(() => undefined);
    expect(health, 'the API answers on the host').to.not.equal(undefined);
    console.log(`      ${outcomes.join('; ')}`);

    const rules = await run('iptables', ['-S']);
    const chains = [...new Set([...rules.matchAll(/-N (GSP-[0-9a-f]{8}-[0-9a-f]{6}-[IF])/g)].map((m) => m[1]!))];
    const installation = info.Config.Labels['io.gasper.installation'];
    const mine = chains.filter((c) => c.startsWith(`GSP-${installation}-`));
    expect(mine, "this worker's input and forward chains").to.have.length(2);
    // The app still runs when its worker stops (as during an upgrade): the rules stay with it.
    await gasper!.platform.close();
    expect(
      await tryConnect(container!.Id, gateways[0]!, apiPort),
      'the API from inside the app, worker stopped',
    ).to.not.equal('connected');
    const kept = await run('iptables', ['-S']);
    for (const chain of mine) expect(kept, `${chain} kept while the app runs`).to.include(`-N ${chain}`);
    // The test's cleanup removes the containers, then the rules a worker would remove at its next stop.
    await gasper!.close();
    gasper = undefined;
    const after = await run('iptables', ['-S']);
    for (const chain of mine) expect(after, `${chain} removed with its hooks`).to.not.include(chain);
  });
});

const run = async (file: string, args: string[]) => (await promisify(execFile)(file, args)).stdout;

/** From inside `container`: `connected`, or why not (`timeout`, `ECONNREFUSED`, `EHOSTUNREACH`...), within 3 s. */
async function tryConnect(container: string, host: string, port: number): Promise<string> {
  const script = `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
const done = (what) => { console.log(what); process.exit(0); };
s.setTimeout(3000, () => done('timeout'));
s.on('connect', () => done('connected'));
s.on('error', (e) => done(e.code || e.message));`;
  const result = await runExec(docker, container, { cmd: ['node', '-e', script] }, { timeoutMs: 15_000 });
  if (result.exitCode !== 0) throw new Error(`probe failed (${result.exitCode}): ${result.stderr}`);
  return result.stdout.toString('utf8').trim();
}
