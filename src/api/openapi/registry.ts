import type { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** How a route authenticates, as the document's security requirement. */
export type RouteAuth = 'admin' | 'admin-or-session' | 'github-signature' | 'none';

export interface RouteResponse {
  description: string;
  /** JSON body; omitted for empty or non-JSON answers. */
  schema?: z.ZodType;
  contentType?: string;
}

/** One route as the OpenAPI document shows it. Schemas are the zod schemas the route validates with. */
export interface RouteDoc {
  method: HttpMethod;
  /** Express syntax: `/apps/:name`. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: RouteAuth;
  /** Path parameter → description. */
  params?: Record<string, string>;
  /** Request header → description (documented as required). */
  headers?: Record<string, string>;
  body?: z.ZodType;
  bodyContentType?: string;
  responses: Record<number, RouteResponse>;
}

/**
 * The routes the API documents. Routers describe their routes here next to where they define
 * them (`apiRoutes.add({...})` at module level), and `/openapi.json` is built from it, so a new
 * route is documented by one call with the schema it already validates with. Adding a route
 * twice replaces it, so re-importing a module is harmless.
 */
export class RouteRegistry {
  private readonly routes = new Map<string, RouteDoc>();

  add(...routes: RouteDoc[]): this {
    for (const route of routes) this.routes.set(`${route.method.toUpperCase()} ${route.path}`, route);
    return this;
  }

  list(): RouteDoc[] {
    return [...this.routes.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  }
}

/** The API's routes. */
export const apiRoutes = new RouteRegistry();
