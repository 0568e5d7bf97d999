import { z } from 'zod';
import { errorCatalog } from '../errors.ts';
import type { RouteAuth, RouteDoc, RouteRegistry } from './registry.ts';

/** `{statusCode, code, message, fields?}`: every error answer. */
export const errorBodySchema = z.object({
  statusCode: z.number().int(),
  code: z.enum(Object.keys(errorCatalog) as [keyof typeof errorCatalog, ...(keyof typeof errorCatalog)[]]),
  message: z.string(),
  fields: z.record(z.string(), z.string()).optional().describe('field path → problem, for VALIDATION_FAILED'),
});

const securitySchemes = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      "An API token (`Authorization: Bearer <token>`): the admin token or a user's token with the scope the route needs (`read` for GET, `deploy` otherwise).",
  },
  adminSession: {
    type: 'apiKey',
    in: 'cookie',
    name: 'gasper_admin',
    description: 'A browser session from `POST /admin/login` (HttpOnly, SameSite=Strict).',
  },
  githubSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Hub-Signature-256',
    description: '`sha256=<hex HMAC-SHA256 of the raw body with the app webhook secret>`, as GitHub signs deliveries.',
  },
} as const;

const security: Record<RouteAuth, Record<string, string[]>[]> = {
  admin: [{ adminToken: [] }],
  'admin-or-session': [{ adminToken: [] }, { adminSession: [] }],
  'github-signature': [{ githubSignature: [] }],
  none: [],
};

/** zod → the JSON Schema dialect of OpenAPI 3.0. Refinements (custom checks) have no JSON form and are left out. */
function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    unrepresentable: 'any',
    io: 'input',
  }) as Record<string, unknown>;
  return json;
}

/** `/apps/:name` → `/apps/{name}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function operation(route: RouteDoc) {
  const parameters = [
    ...Object.entries(route.params ?? {}).map(([name, description]) => ({
      name,
      in: 'path',
      required: true,
      description,
      schema: { type: 'string' },
    })),
    ...Object.entries(route.headers ?? {}).map(([name, description]) => ({
      name,
      in: 'header',
      required: true,
      description,
      schema: { type: 'string' },
    })),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { [response.contentType ?? 'application/json']: { schema: schemaOf(response.schema) } } }
        : {}),
    };
  }
  if (route.auth !== 'none')
    responses['401'] ??= {
      description: 'missing or wrong credentials',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  return {
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    operationId: `${route.method}${route.path.replace(/[:/{}-]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    security: security[route.auth],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { [route.bodyContentType ?? 'application/json']: { schema: schemaOf(route.body) } },
          },
        }
      : {}),
    responses,
  };
}

export interface DocumentInfo {
  title: string;
  version: string;
  description?: string;
}

/** The OpenAPI 3.0 document of every registered route. Pure: built from the registry alone. */
export function buildOpenApiDocument(registry: RouteRegistry, info: DocumentInfo) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of registry.list()) (paths[openApiPath(route.path)] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.0.3',
    info,
    paths,
    components: { schemas: { Error: schemaOf(errorBodySchema) }, securitySchemes },
  };
}
