import { edgeOf } from './app-edge.ts';
import { placementOf } from '../core/app-placement.ts';
import { desiredFormation, webProcess } from '../core/formation.ts';
import { appUrl } from '../core/naming.ts';
import { defaultResourcePolicy, resolveResources, type ResourcePolicy } from '../core/resources.ts';
import { splitRepoCredentials } from '../core/repo-url.ts';
import type { AppDocument } from '../store/app-document.ts';

export interface ViewOptions {
  domain: string;
  proxyPort: number;
  /** The proxy's HTTPS port when a platform certificate is configured: apps' URLs are then https. */
  appsHttpsPort?: number;
  resources?: ResourcePolicy;
}

/** The public shape of an app. Env values never leave the API: only their names do. */
export function appView(doc: AppDocument, options: ViewOptions) {
  return {
    name: doc.name,
    owner: doc.owner,
    status: doc.status,
    url: appUrl(doc.name, options.domain, options.proxyPort, options.appsHttpsPort),
    // Whether the repository has a token; the token itself never leaves the API.
    // Documents from before sealed credentials may still hold them in the URL: never shown.
    repo: {
      url: splitRepoCredentials(doc.repo.url).url,
      ...(doc.repo.branch ? { branch: doc.repo.branch } : {}),
      ...(doc.repo.path ? { path: doc.repo.path } : {}),
      hasToken: doc.repo.sealedCredentials !== undefined,
    },
    runtime: doc.runtime ?? null,
    builder: doc.builder ?? 'auto',
    ...(doc.dockerfile ? { dockerfile: doc.dockerfile } : {}),
    ...(doc.buildArgs ? { buildArgs: doc.buildArgs } : {}),
    build: doc.build ?? null,
    run: doc.run ?? null,
    port: doc.port,
    envKeys: Object.keys(doc.sealedEnv).sort(),
    databases: doc.databases ?? [],
    /** Persistent volumes; an app with any runs all its instances on `node`, where they are. */
    volumes: (doc.volumes ?? []).map((v) => ({ name: v.name, path: v.path, size: v.size ?? null })),
    node: doc.node,
    /** The node of each instance: an app's instances are spread over the nodes with room. */
    placement: placementOf(doc),
    release: doc.release ?? null,
    commit: doc.commit ?? null,
    instances: doc.instances.map((i) => ({
      node: i.node,
      host: i.address,
      port: i.port,
      container: i.container,
      process: i.process ?? webProcess,
    })),
    /**
     * Process types (core/formation.ts): `desired` is the count asked for each (web: `instances`
     * unless set), `running` what the current release runs of each type it declares (null: no
     * release yet, or one from before process types, which runs web only). `source`: `app.json`
     * when `desired` is app.json's formation (api/app-json-formation.ts), `asked` while app.json's
     * waits to be applied, else `app` (the user's, or the default).
     */
    formation: {
      desired: desiredFormation(doc),
      running: doc.formation ?? null,
      source: doc.formationSource ?? (doc.formationAsk ? 'asked' : 'app'),
    },
    /** Desired instance count, limits (defaults resolved) and health check. */
    scale: {
      instances: desiredFormation(doc).web,
      resources: (({ cpu, memoryMb }) => ({ cpu, memory: memoryMb }))(
        resolveResources(doc.resources, options.resources ?? defaultResourcePolicy),
      ),
      healthCheck: { path: doc.healthCheck?.path ?? null },
    },
    /** How the proxy serves it over HTTPS. */
    ...edgeOf(doc),
    lastError: doc.lastError ?? null,
    lastJob: doc.lastJob ? { id: doc.lastJob, url: `/jobs/${doc.lastJob}` } : null,
    // Whether a push webhook is set up, and since when; its secret is never shown again.
    webhook: doc.webhook
      ? {
          createdAt: doc.webhook.createdAt,
          lastPushAt: doc.webhook.lastPush ? new Date(doc.webhook.lastPush.pushedAt * 1000).toISOString() : null,
        }
      : null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function jobRef(id: string) {
  return { id, url: `/jobs/${id}` };
}

/**
 * An app's volumes with what they use, from its node's last disk measurement (GET /apps/:name):
 * `usedBytes` null until measured; `overSize` when over the declared `size`, which is reported,
 * not enforced (docs/guides/volumes.md). Pure.
 */
export function volumesWithUse(
  doc: Pick<AppDocument, 'uid' | 'name' | 'volumes'>,
  measured: readonly { app: string; uid: string; volume: string; bytes: number }[] | undefined,
) {
  return (doc.volumes ?? []).map((v) => {
    const used = measured?.find((m) => m.app === doc.name && m.uid === doc.uid && m.volume === v.name)?.bytes;
    return {
      name: v.name,
      path: v.path,
      size: v.size ?? null,
      usedBytes: used ?? null,
      overSize: used !== undefined && v.size !== undefined && used > v.size * 1024 * 1024,
    };
  });
}
