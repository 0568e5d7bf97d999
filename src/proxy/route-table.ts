import type { AppEdgeEvent, GasperEvent, Instance } from '../events/schemas.ts';

/** An app's HTTPS settings (app.edge events); apps without one: `allow`, no HSTS. */
export type EdgeSettings = Pick<AppEdgeEvent, 'https' | 'hsts'>;

/** The name requests for the platform itself (API, dashboard) are routed under, in results and metrics. */
export const platformApp = '(platform)';

/** The platform's own host name (GASPER_PLATFORM_HOST) and where it is served (the API's `host:port`). */
export interface PlatformRoute {
  host: string;
  upstream: string;
  /** HTTPS settings of the platform host (redirect once the platform certificate is there). */
  edge?: EdgeSettings;
}

/** Where a request goes: an upstream, or why there is none. Pure; tested with tables. */
export type RouteResult =
  | { kind: 'upstream'; app: string; upstream: Upstream }
  | { kind: 'unknown-host' }
  | { kind: 'no-instances'; app: string };

export interface Upstream {
  host: string;
  port: number;
  /** `host:port`, precomputed: the agent pool key. */
  key: string;
}

interface AppRoute {
  upstreams: Upstream[];
  next: number;
}

/** `Host` header → the lowercase name without port or trailing dot (`Shop.Example.com.:443` → `shop.example.com`). */
export function hostName(host: string | undefined): string {
  if (!host) return '';
  let end = host.length;
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && !host.includes(']')) end = colon;
  return host.slice(0, end).toLowerCase().replace(/\.$/, '');
}

/**
 * `Host: <app>.<domain>[:port]` → app name, or undefined. Only one label below the domain:
 * `a.b.<domain>` is not an app.
 */
export function appFromHost(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  return appFromName(hostName(host), domain);
}

function appFromName(name: string, domain: string): string | undefined {
  const suffixStart = name.length - domain.length - 1;
  if (suffixStart < 1 || name.charCodeAt(suffixStart) !== 46 /* . */ || !name.endsWith(domain)) return undefined;
  const app = name.slice(0, suffixStart);
  return app.includes('.') ? undefined : app;
}

/** Choosing an upstream: the clock (for down marks) and upstreams already tried for this request. */
export interface ResolveOptions {
  now?: number;
  exclude?: ReadonlySet<string>;
}

/**
 * The proxy's routing table, kept from state events; balances round-robin over instances.
 * Health is both active and passive: the worker publishes only instances that pass its health
 * checks, and the proxy marks an upstream down for a while when connecting to it fails
 * (`markDown`), skipping it until then unless no other is left.
 */
export class RouteTable {
  private readonly routes = new Map<string, AppRoute>();
  /** Upstream key → time until which it is skipped. */
  private readonly downUntil = new Map<string, number>();

  private readonly platformHost: string | undefined;
  private readonly platformRoute: RouteResult | undefined;
  /** HTTPS settings of the apps that have any (app.edge events). */
  private readonly edge = new Map<string, EdgeSettings>();

  constructor(
    private readonly domain: string,
    platform?: PlatformRoute,
  ) {
    if (platform) {
      const colon = platform.upstream.lastIndexOf(':');
      const host = platform.upstream.slice(0, colon).replace(/^\[|\]$/g, '');
      const port = Number(platform.upstream.slice(colon + 1));
      this.platformHost = hostName(platform.host);
      this.platformRoute = { kind: 'upstream', app: platformApp, upstream: { host, port, key: platform.upstream } };
      if (platform.edge) this.edge.set(platformApp, platform.edge);
    }
  }

  /**
   * Custom domains (domain.state events) → their app. Kept apart from the app routes: a snapshot
   * delivers entities in no particular order, so a domain may name an app not routed yet.
   */
  private readonly domains = new Map<string, string>();

  apply(event: GasperEvent): void {
    switch (event.type) {
      case 'node.state':
        this.setNodeState(event.node, event.state);
        return;
      case 'app.removed':
        this.forget(event.app);
        return;
      case 'app.instances':
        this.publish(event.app, event.instances);
        return;
      case 'domain.state':
        this.domains.set(hostName(event.domain), event.app);
        return;
      case 'domain.removed':
        this.domains.delete(hostName(event.domain));
        return;
      case 'app.edge':
        if (event.app === platformApp) return;
        if (event.https === 'allow' && !event.hsts) this.edge.delete(event.app);
        else this.edge.set(event.app, { https: event.https, hsts: event.hsts });
        return;
    }
  }

  /** An app's HTTPS settings, if it has any other than the defaults. */
  edgeOf(app: string): EdgeSettings | undefined {
    return this.edge.size === 0 ? undefined : this.edge.get(app);
  }

  /** The app a request's Host names: `<app>.<domain>` first (platform names win), then a custom domain. */
  appOf(host: string | undefined): string | undefined {
    const name = hostName(host);
    return appFromName(name, this.domain) ?? this.domains.get(name);
  }

  /** The app a custom domain routes to, if any. */
  domainApp(domain: string): string | undefined {
    return this.domains.get(hostName(domain));
  }

  set(app: string, instances: readonly Instance[]): void {
    const upstreams = instances.map((i) => ({ host: i.address, port: i.port, key: `${i.address}:${i.port}` }));
    // The worker publishes instances that pass its health check: they are up again.
    for (const u of upstreams) this.downUntil.delete(u.key);
    this.routes.set(app, { upstreams, next: 0 });
  }

  resolve(host: string | undefined, options: ResolveOptions = {}): RouteResult {
    const name = hostName(host);
    if (this.platformRoute && name === this.platformHost) return this.platformRoute;
    const app = appFromName(name, this.domain) ?? this.domains.get(name);
    const route = app === undefined ? undefined : this.routes.get(app);
    if (!route) return { kind: 'unknown-host' };
    const { upstreams } = route;
    if (upstreams.length === 0) return { kind: 'no-instances', app: app! };
    if (route.next >= 1 << 30) route.next = 0;
    // Fast path: one upstream, or nothing down and nothing to avoid.
    if (!options.exclude?.size && (this.downUntil.size === 0 || upstreams.length === 1)) {
      return { kind: 'upstream', app: app!, upstream: upstreams[route.next++ % upstreams.length]! };
    }
    const now = options.now ?? Date.now();
    let fallback: Upstream | undefined;
    for (let i = 0; i < upstreams.length; i++) {
      const upstream = upstreams[route.next++ % upstreams.length]!;
      if (options.exclude?.has(upstream.key)) continue;
      const until = this.downUntil.get(upstream.key);
      if (until === undefined || until <= now) return { kind: 'upstream', app: app!, upstream };
      fallback ??= upstream;
    }
    // Every candidate is marked down: trying one beats refusing outright.
    if (fallback) return { kind: 'upstream', app: app!, upstream: fallback };
    return { kind: 'no-instances', app: app! };
  }

  /** Passive health: connecting to `key` failed; skip it for `forMs` unless nothing else is left. */
  markDown(key: string, now: number, forMs: number): void {
    this.downUntil.set(key, now + forMs);
    if (this.downUntil.size > 1024) {
      for (const [k, until] of this.downUntil) if (until <= now) this.downUntil.delete(k);
    }
  }

  isDown(key: string, now: number): boolean {
    return (this.downUntil.get(key) ?? 0) > now;
  }

  /** Every `host:port` some app routes to; kept-alive connections to others can be closed. */
  routedKeys(): Set<string> {
    const keys = new Set<string>();
    for (const route of this.routes.values()) for (const u of route.upstreams) keys.add(u.key);
    if (this.platformRoute?.kind === 'upstream') keys.add(this.platformRoute.upstream.key);
    return keys;
  }

  get size(): number {
    return this.routes.size;
  }

  has(app: string): boolean {
    return this.routes.has(app);
  }

  /** Every app's published instances, down nodes' included, so a node coming back is routed again. */
  private readonly published = new Map<string, readonly Instance[]>();
  /** Nodes the node monitor declared down (node.state events): their instances get no traffic. */
  private readonly downNodes = new Set<string>();

  /** Routes to the instances an app.instances event lists, but those on down nodes. */
  private publish(app: string, instances: readonly Instance[]): void {
    this.published.set(app, instances);
    this.set(app, this.downNodes.size ? instances.filter((i) => !this.downNodes.has(i.node)) : instances);
  }

  /** An app removed takes its custom domains along (their own domain.removed may come later, or never). */
  private forget(app: string): void {
    this.routes.delete(app);
    this.published.delete(app);
    this.edge.delete(app);
    for (const [domain, owner] of this.domains) if (owner === app) this.domains.delete(domain);
  }

  /** Stops (or resumes) routing to the instances on `node`. */
  setNodeState(node: string, state: 'up' | 'down'): void {
    if ((state === 'down') === this.downNodes.has(node)) return;
    if (state === 'down') this.downNodes.add(node);
    else this.downNodes.delete(node);
    for (const [app, instances] of this.published)
      if (instances.some((i) => i.node === node)) this.publish(app, instances);
  }
}
