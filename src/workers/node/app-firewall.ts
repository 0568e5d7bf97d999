import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import dns from 'node:dns/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import type { Logger } from '../../core/log.ts';
import { bridgePrefix } from '../../core/networks.ts';

/**
 * Keeps app, build and database containers from opening connections to the host's own services.
 *
 * With the services on their default `0.0.0.0` hosts, a container reaches the API, SSH, DNS, the
 * proxy's metrics and a local Redis at its bridge's gateway address. Every bridge of an
 * installation is named `g<installation>…` (core/networks.ts), so two rules cover them all:
 *  - INPUT (`-i g<installation>+`): new connections from a container to this host are refused,
 *    except to the allowed ports (the proxy's, as from anywhere else);
 *  - FORWARD, through Docker's DOCKER-USER chain when there is one: connections to the Redis of
 *    `REDIS_URL` on another machine, to link-local addresses (cloud metadata services) and to
 *    what GASPER_APP_FIREWALL_DENY lists (the control plane's other machines).
 * Replies to connections the host opened (the proxy and the health checks use published ports,
 * which are forwarded, not input) and traffic to the internet (npm install) are untouched.
 *
 * The rules live in chains of their own, named for the installation and the node
 * (`GSP-<installation>-<node hash>-I`/`-F`), hooked by one rule each. The worker creates them at
 * start (again from scratch: a killed worker's are replaced) and removes them when it stops with
 * none of its node's containers running (workers/index.ts); it never touches a rule it did not
 * create, and another installation's chains have other names.
 */

const run = promisify(execFile);

export interface FirewallInput {
  installation: string;
  node: string;
  /** TCP ports of this host containers may still open (the proxy's public port). */
  allowPorts: readonly number[];
  /** Addresses and ports of services elsewhere containers must not reach (the Redis of REDIS_URL). */
  blocked: readonly { address: string; port: number }[];
  /** Addresses and CIDRs elsewhere containers must not reach at all (GASPER_APP_FIREWALL_DENY). */
  denied?: readonly string[];
}

export interface FirewallPlan {
  /** Chain name → its rules, in order (iptables arguments after `-A <chain>`). */
  chains: Record<string, string[][]>;
  /** Rules that send traffic into the chains: the built-in chain and the rule (after `-I <chain>`). */
  hooks: { chain: string; rule: string[] }[];
}

/** The part of the chains' names that stands for the node id (6 hex characters of its hash). */
export const firewallNodeTag = (node: string) => crypto.createHash('sha256').update(node).digest('hex').slice(0, 6);

/** The chains' names: at most 28 characters (the kernel's limit), distinct per installation and node. */
export function firewallChains(installation: string, node: string): { input: string; forward: string } {
  const tag = firewallNodeTag(node);
  return { input: `GSP-${installation}-${tag}-I`, forward: `GSP-${installation}-${tag}-F` };
}

/**
 * The rules for one address family. Pure: tested in test/workers/node/app-firewall.unit.test.ts.
 * `forwardHook` is DOCKER-USER when Docker made it, else FORWARD.
 */
export function planFirewall(input: FirewallInput, family: 4 | 6, forwardHook: string): FirewallPlan {
  const { input: inChain, forward: fwdChain } = firewallChains(input.installation, input.node);
  const fromApps = ['-i', `${bridgePrefix(input.installation)}+`];
  const reject = family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const inRules: string[][] = [
    ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
    // IPv6 neighbour discovery and ICMP errors keep the bridge working; they open nothing.
    ...(family === 6 ? [['-p', 'ipv6-icmp', '-j', 'RETURN']] : []),
    ...[...new Set(input.allowPorts)]
      .filter((p) => p > 0)
      .map((p) => ['-p', 'tcp', '--dport', String(p), '-j', 'RETURN']),
    ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-j', 'REJECT', '--reject-with', reject],
  ];
  const isFamily = (address: string) => net.isIP(address.split('/')[0]!) === family;
  const fwdRules: string[][] = [
    ...input.blocked
      .filter((b) => isFamily(b.address))
      .map((b) => [
        '-d',
        b.address,
        '-p',
        'tcp',
        '--dport',
        String(b.port),
        '-j',
        'REJECT',
        '--reject-with',
        'tcp-reset',
      ]),
    ...(input.denied ?? []).filter(isFamily).map((d) => ['-d', d, '-j', 'REJECT', '--reject-with', reject]),
    ...(family === 4 ? [['-d', '169.254.0.0/16', '-j', 'REJECT', '--reject-with', reject]] : []),
    ['-j', 'RETURN'],
  ];
  return {
    chains: { [inChain]: inRules, [fwdChain]: fwdRules },
    hooks: [
      { chain: 'INPUT', rule: [...fromApps, '-j', inChain] },
      { chain: forwardHook, rule: [...fromApps, '-j', fwdChain] },
    ],
  };
}

/** Addresses of the Redis of `redisUrl` (loopback ones are this host's: the INPUT rule covers them). */
export async function redisTargets(redisUrl: string): Promise<{ address: string; port: number }[]> {
  const url = new URL(redisUrl);
  const port = Number(url.port) || 6379;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(host)
    ? [host]
    : (await dns.lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  return addresses.filter((a) => !/^127\.|^::1$/.test(a)).map((address) => ({ address, port }));
}

export class FirewallError extends Error {
  constructor(reason: string) {
    super(
      `GASPER_APP_FIREWALL=on needs iptables on the Docker daemon's host (root or CAP_NET_ADMIN): ${reason}. ` +
        "Set GASPER_APP_FIREWALL=off to run without it: app containers can then reach this host's services (see the security notes)",
    );
    this.name = 'FirewallError';
  }
}

type Tool = (args: string[]) => Promise<void>;

const tool =
  (binary: string): Tool =>
  async (args) => {
    await run(binary, ['-w', '5', ...args], { timeout: 20_000 });
  };

/** Creates (or refills) the chains and adds the hooks that are not there yet. */
async function install(iptables: Tool, plan: FirewallPlan): Promise<void> {
  for (const [chain, rules] of Object.entries(plan.chains)) {
    await iptables(['-N', chain]).catch(() => {}); // exists already: refilled below
    await iptables(['-F', chain]);
    for (const rule of rules) await iptables(['-A', chain, ...rule]);
  }
  for (const hook of plan.hooks) {
    const present = await iptables(['-C', hook.chain, ...hook.rule]).then(
      () => true,
      () => false,
    );
    if (!present) await iptables(['-I', hook.chain, '1', ...hook.rule]);
  }
}

/** Removes the hooks (every copy) and the chains; what is gone already is fine. */
async function uninstall(iptables: Tool, plan: FirewallPlan): Promise<void> {
  for (const hook of plan.hooks) {
    for (let i = 0; i < 10; i++)
      if (
        !(await iptables(['-D', hook.chain, ...hook.rule]).then(
          () => true,
          () => false,
        ))
      )
        break;
  }
  for (const chain of Object.keys(plan.chains)) {
    await iptables(['-F', chain]).catch(() => {});
    await iptables(['-X', chain]).catch(() => {});
  }
}

export interface FirewallHandle {
  close(): Promise<void>;
}

/**
 * Sets the rules up for IPv4 (required: a FirewallError when iptables cannot be used) and IPv6
 * (when ip6tables works; containers get no IPv6 address from Gasper's networks, but a link-local
 * one may reach the host). `dockerHost` must be this host's daemon: rules here protect nothing
 * of another machine's.
 */
export async function startAppFirewall(
  input: FirewallInput & { dockerHost: string | undefined },
  log: Logger,
): Promise<FirewallHandle> {
  if (input.dockerHost && !input.dockerHost.startsWith('unix://')) {
    throw new FirewallError(
      `the Docker daemon (${input.dockerHost}) is not on this host; set the rules up there (docs/operations/security.md)`,
    );
  }
  const installed: { iptables: Tool; plan: FirewallPlan }[] = [];
  for (const [family, binary] of [
    [4, 'iptables'],
    [6, 'ip6tables'],
  ] as const) {
    const iptables = tool(binary);
    try {
      await iptables(['-S', 'INPUT']);
    } catch (err) {
      if (family === 4)
        throw new FirewallError(`${binary} cannot be used (${String((err as Error).message).split('\n')[0]})`);
      log.warn(
        { err: (err as Error).message },
        'ip6tables cannot be used: app containers are not kept from this host over IPv6',
      );
      continue;
    }
    const hook = await iptables(['-S', 'DOCKER-USER']).then(
      () => 'DOCKER-USER',
      () => 'FORWARD',
    );
    const plan = planFirewall(input, family, hook);
    try {
      await install(iptables, plan);
    } catch (err) {
      await uninstall(iptables, plan);
      if (family === 4)
        throw new FirewallError(`${binary} refused a rule (${String((err as Error).message).split('\n')[0]})`);
      log.warn(
        { err: (err as Error).message },
        'ip6tables refused a rule: app containers are not kept from this host over IPv6',
      );
      continue;
    }
    installed.push({ iptables, plan });
  }
  log.info(
    { chains: Object.keys(installed[0]!.plan.chains), allowPorts: input.allowPorts, blocked: input.blocked },
    'app firewall set up',
  );
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= Promise.all(installed.map(({ iptables, plan }) => uninstall(iptables, plan))).then(() => undefined);
      return closing;
    },
  };
}
