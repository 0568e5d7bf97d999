import type { AppEdgeEvent, GasperEvent, Instance } from '../events/schemas.ts';
import { isWeb } from '../core/formation.ts';

/** An app's HTTPS settings (app.edge events); apps without one: `allow`, no HSTS. */
export type EdgeSettings = Pick<AppEdgeEvent, 'https' | 'hsts'>;

/** What a host's plain HTTP and HTTPS answers get, decided per route and certificate change. */
export interface HostEdge {
  /** Plain HTTP is answered with 308 to https: asked for, and a certificate covers the host. */
  redirect: boolean;
  /** Strict-Transport-Security on its HTTPS answers. */
  hsts: boolean;
}

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
  | {
      kind: 'no-instances';
      app: string;
      /** The app's release runs no web process (app.instances `web: false`): nothing will ever answer. */
      noWeb?: boolean;
    };

export interface Upstream {
  host: string;
  port: number;
  /** `host:port`, precomputed: the agent pool key. */
  key: string;
}

interface AppRoute {
  upstreams: Upstream[];
  /** One result per upstream, built per route change: resolving allocates nothing. */
  results: Extract<RouteResult, { kind: 'upstream' }>[];
  noInstances: Extract<RouteResult, { kind: 'no-instances' }>;
  next: number;
}

function routeTo(app: string, upstreams: Upstream[], noWeb = false): AppRoute {
  return {
    upstreams,
    results: upstreams.map((upstream) => Object.freeze({ kind: 'upstream' as const, app, upstream })),
    noInstances: Object.freeze({ kind: 'no-instances' as const, app, ...(noWeb ? { noWeb } : {}) }),
    next: 0,
  };
}

/** A Host header's route and HTTPS treatment, cached per spelling. */
interface HostEntry {
  route: AppRoute;
  edge: HostEdge | undefined;
}

const unknownHost: RouteResult = Object.freeze({ kind: 'unknown-host' });
/** Host header values remembered (→ their route) before the cache starts over: clients choose them. */
const hostCacheSize = 4096;

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
  /**
   * Host header, as sent, → its route and HTTPS treatment: parsing the host and checking its
   * certificate are done once per spelling and route or certificate change, not per request.
   * Emptied on every such change (a route object may be replaced).
   */
  private readonly byHost = new Map<string, HostEntry>();
  private readonly platformHost: string | undefined;
  private readonly platformRoute: AppRoute | undefined;
  /** HTTPS settings of the apps that have any (app.edge events). */
  private readonly edge = new Map<string, EdgeSettings>();
  /**
   * Custom domains (domain.state events) → their app. Kept apart from the app routes: a snapshot
   * delivers entities in no particular order, so a domain may name an app not routed yet.
   */
  private readonly domains = new Map<string, string>();
  /** Every app's published instances, down nodes' included, so a node coming back is routed again. */
  private readonly published = new Map<string, readonly Instance[]>();
  /** Apps whose release runs no web process (app.instances `web: false`): their 503 says so. */
  private readonly noWeb = new Set<string>();
  /** Nodes the node monitor declared down (node.state events): their instances get no traffic. */
  private readonly downNodes = new Set<string>();
  /** Whether a certificate served over HTTPS covers a host name: a redirect to a name without one would fail. */
  private covered: (name: string) => boolean = () => false;

  constructor(
    private readonly domain: string,
    platform?: PlatformRoute,
  ) {
    if (platform) {
      const colon = platform.upstream.lastIndexOf(':');
      const host = platform.upstream.slice(0, colon).replace(/^\[|\]$/g, '');
      const port = Number(platform.upstream.slice(colon + 1));
      this.platformHost = hostName(platform.host);
      this.platformRoute = routeTo(platformApp, [{ host, port, key: platform.upstream }]);
      if (platform.edge) this.edge.set(platformApp, platform.edge);
    }
  }

  apply(event: GasperEvent): void {
    this.byHost.clear();
    switch (event.type) {
      case 'node.state':
        this.setNodeState(event.node, event.state);
        return;
      case 'app.removed':
        this.forget(event.app);
        return;
      case 'app.instances':
        if (event.web === false) this.noWeb.add(event.app);
        else this.noWeb.delete(event.app);
        // Only web instances are routed: the other process types have no port (core/formation.ts).
        this.publish(event.app, event.instances.filter(isWeb));
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

  /**
   * How the proxy tells whether a certificate covers a name (a custom domain's own loaded, or the
   * platform certificate's names): `redirect` settings apply only to covered names, the others
   * stay served over plain HTTP. Call `certificatesChanged` whenever its answers may change.
   */
  setCertificateCoverage(covered: (name: string) => boolean): void {
    this.covered = covered;
    this.byHost.clear();
  }

  /** A certificate was loaded, replaced or dropped: hosts' redirects are decided again. */
  certificatesChanged(): void {
    this.byHost.clear();
  }

  /**
   * The HTTPS treatment of a request's Host (its route's settings, a redirect only where a
   * certificate covers the name); undefined for the defaults or an unknown host. Cached with the route.
   */
  hostEdge(host: string | undefined): HostEdge | undefined {
    return this.edge.size === 0 ? undefined : this.entryOf(host)?.edge;
  }

  /** The app a custom domain routes to, if any. */
  domainApp(domain: string): string | undefined {
    return this.domains.get(hostName(domain));
  }

  set(app: string, instances: readonly Instance[]): void {
    this.byHost.clear();
    const upstreams = instances.map((i) => ({ host: i.address, port: i.port, key: `${i.address}:${i.port}` }));
    // The worker publishes instances that pass its health check: they are up again.
    for (const u of upstreams) this.downUntil.delete(u.key);
    this.routes.set(app, routeTo(app, upstreams, this.noWeb.has(app)));
  }

  /** The result is shared between requests (built per route change): read it, never change it. */
  resolve(host: string | undefined, options: ResolveOptions = {}): RouteResult {
    const route = this.routeOf(host);
    if (!route) return unknownHost;
    const { upstreams, results } = route;
    if (upstreams.length === 0) return route.noInstances;
    if (route.next >= 1 << 30) route.next = 0;
    // Fast path: one upstream, or nothing down and nothing to avoid.
    if (!options.exclude?.size && (this.downUntil.size === 0 || upstreams.length === 1)) {
      return results[route.next++ % upstreams.length]!;
    }
    const now = options.now ?? Date.now();
    let fallback: RouteResult | undefined;
    for (let i = 0; i < upstreams.length; i++) {
      const at = route.next++ % upstreams.length;
      const upstream = upstreams[at]!;
      if (options.exclude?.has(upstream.key)) continue;
      const until = this.downUntil.get(upstream.key);
      if (until === undefined || until <= now) return results[at]!;
      fallback ??= results[at];
    }
    // Every candidate is marked down: trying one beats refusing outright.
    return fallback ?? route.noInstances;
  }

  private routeOf(host: string | undefined): AppRoute | undefined {
    return this.entryOf(host)?.route;
  }

  /** The platform host first, then `<app>.<domain>` (platform names win), then a custom domain. */
  private entryOf(host: string | undefined): HostEntry | undefined {
    if (host === undefined) return undefined;
    const cached = this.byHost.get(host);
    if (cached) return cached;
    const name = hostName(host);
    let app: string | undefined;
    let route: AppRoute | undefined;
    if (this.platformRoute && name === this.platformHost) {
      app = platformApp;
      route = this.platformRoute;
    } else {
      app = appFromName(name, this.domain) ?? this.domains.get(name);
      route = app === undefined ? undefined : this.routes.get(app);
    }
    if (!route || app === undefined) return undefined;
    const settings = this.edge.get(app);
    const entry: HostEntry = {
      route,
      edge: settings && { redirect: settings.https === 'redirect' && this.covered(name), hsts: settings.hsts },
    };
    if (this.byHost.size >= hostCacheSize) this.byHost.clear();
    this.byHost.set(host, entry);
    return entry;
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
    for (const u of this.platformRoute?.upstreams ?? []) keys.add(u.key);
    return keys;
  }

  get size(): number {
    return this.routes.size;
  }

  has(app: string): boolean {
    return this.routes.has(app);
  }

  /** Routes to the instances an app.instances event lists, but those on down nodes. */
  private publish(app: string, instances: readonly Instance[]): void {
    this.published.set(app, instances);
    this.set(app, this.downNodes.size ? instances.filter((i) => !this.downNodes.has(i.node)) : instances);
  }

  /** An app removed takes its custom domains along (their own domain.removed may come later, or never). */
  private forget(app: string): void {
    this.byHost.clear();
    this.routes.delete(app);
    this.published.delete(app);
    this.noWeb.delete(app);
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
