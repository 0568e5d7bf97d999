/**
 * Writes the parts of docs/ that the code already knows: the configuration reference (the zod
 * schema of src/core/config.ts), the error catalogue (src/api/errors.ts), the route list (the
 * OpenAPI registry, src/api/openapi) and the event list (src/events/schemas.ts).
 *
 * Each part lives in a Markdown page between `<!-- generated:<name> -->` and
 * `<!-- /generated:<name> -->`; the text around it is written by hand. `npm run docs` rewrites
 * the blocks in place; `npm run docs -- --check` only says which differ. test/docs checks the
 * same, so CI fails when the docs and the code disagree. Nothing here needs Redis or Docker:
 * importing the API's routers registers their routes and opens no connection.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import '../src/api/index.ts';
import { errorCatalog, errorMeanings, type ErrorCode } from '../src/api/errors.ts';
import { apiRoutes } from '../src/api/openapi/registry.ts';
import type { RouteAuth, RouteDoc } from '../src/api/openapi/registry.ts';
import { envSchema } from '../src/core/config.ts';
import { eventSchema } from '../src/events/schemas.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One generated block: the page it lives in (relative to the repository) and its Markdown. */
export interface GeneratedBlock {
  file: string;
  name: string;
  content: string;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

type JsonSchema = { type?: string; minimum?: number; maximum?: number; enum?: string[]; default?: unknown };

/** What a variable accepts, when its schema says it plainly: a range of numbers or a list of words. */
function accepts(json: JsonSchema): string {
  if (json.enum) {
    const words = json.enum.filter((v) => v !== '');
    return words.includes('true')
      ? 'on/off: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`'
      : words.map((w) => `\`${w}\``).join(', ');
  }
  if (json.type !== 'integer' && json.type !== 'number') return '';
  const unit = json.type === 'integer' ? 'integer' : 'number';
  const max = json.maximum !== undefined && json.maximum < Number.MAX_SAFE_INTEGER ? json.maximum : undefined;
  if (json.minimum !== undefined && max !== undefined) return `${unit}, ${json.minimum}–${max}`;
  if (json.minimum !== undefined) return `${unit}, ≥ ${json.minimum}`;
  return unit;
}

function shownDefault(schema: z.ZodType, meta: Record<string, unknown>): string {
  if (typeof meta.shownDefault === 'string') return meta.shownDefault;
  const def = schema._zod.def as { type: string; defaultValue?: unknown };
  if (def.type !== 'default') return 'unset';
  const value = def.defaultValue;
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return `\`${String(value)}\``;
}

/** The configuration table: every variable of the schema, its default, what it accepts and means. */
export function configurationTable(): string {
  const rows = Object.entries(envSchema.shape).map(([variable, field]) => {
    const schema = field as z.ZodType;
    const meta = (schema.meta() ?? {}) as Record<string, unknown>;
    const description = typeof meta.description === 'string' ? meta.description : '';
    if (!description) throw new Error(`${variable} has no description in src/core/config.ts (.describe('…'))`);
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    return `| \`${variable}\` | ${cell(shownDefault(schema, meta))} | ${cell(accepts(json))} | ${cell(description)} |`;
  });
  return ['| variable | default | accepts | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The error catalogue: code, HTTP status and when it is answered, in the catalogue's order. */
export function errorTable(): string {
  const rows = (Object.keys(errorCatalog) as ErrorCode[]).map((code) => {
    const meaning = errorMeanings[code];
    if (!meaning) throw new Error(`${code} has no line in errorMeanings (src/api/errors.ts)`);
    return `| \`${code}\` | ${errorCatalog[code]} | ${cell(meaning)} |`;
  });
  return ['| code | status | when |', '| --- | --- | --- |', ...rows].join('\n');
}

const authWords: Record<RouteAuth, string> = {
  admin: 'token',
  'admin-or-session': 'admin token or admin session',
  'github-signature': 'GitHub signature',
  none: 'none',
};

/** `/apps/:name` as the docs write it. */
export function routeName(route: Pick<RouteDoc, 'method' | 'path'>): string {
  return `${route.method.toUpperCase()} ${route.path}`;
}

/** Every documented route, grouped by its first tag, with its summary and how it authenticates. */
export function routeTable(routes: RouteDoc[] = apiRoutes.list()): string {
  const byTag = new Map<string, RouteDoc[]>();
  for (const route of routes) {
    const tag = route.tags[0] ?? 'other';
    byTag.set(tag, [...(byTag.get(tag) ?? []), route]);
  }
  const sections = [...byTag.keys()].sort().map((tag) => {
    const rows = byTag.get(tag)!.map((r) => `| \`${routeName(r)}\` | ${cell(r.summary)} | ${authWords[r.auth]} |`);
    return [`### ${tag}`, '', '| route | what | authentication |', '| --- | --- | --- |', ...rows].join('\n');
  });
  return sections.join('\n\n');
}

type ObjectJson = { properties?: Record<string, unknown>; required?: string[] };

/** A field's type in a few characters: `string`, `integer`, `[{node, address, port, container}]`. */
function typeOf(json: unknown): string {
  const j = json as {
    type?: string;
    enum?: unknown[];
    items?: unknown;
    properties?: Record<string, unknown>;
    const?: unknown;
  };
  if (j.const !== undefined) return `\`${JSON.stringify(j.const)}\``;
  if (j.enum) return j.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (j.type === 'array') return `[${typeOf(j.items)}]`;
  if (j.type === 'object' && j.properties) return `{${Object.keys(j.properties).join(', ')}}`;
  return j.type ?? 'any';
}

/** The event stream's events: type and fields, from the schemas producers and consumers share. */
export function eventTable(): string {
  const rows = eventSchema.options.map((option) => {
    const json = z.toJSONSchema(option, { io: 'output' }) as ObjectJson;
    const { type: typeField, ...fields } = json.properties ?? {};
    const type = (typeField as { const: string }).const;
    const list = Object.entries(fields).map(([name, field]) => `\`${name}\`: ${typeOf(field)}`);
    return `| \`${type}\` | ${list.join(', ')} |`;
  });
  return ['| type | fields |', '| --- | --- |', ...rows].join('\n');
}

/** Every generated block and the page it belongs in. */
export function generatedBlocks(): GeneratedBlock[] {
  return [
    { file: 'docs/operations/configuration.md', name: 'config', content: configurationTable() },
    { file: 'docs/reference/errors.md', name: 'errors', content: errorTable() },
    { file: 'docs/reference/api.md', name: 'api', content: routeTable() },
    { file: 'docs/reference/events.md', name: 'events', content: eventTable() },
  ];
}

const notice = '<!-- Written by `npm run docs` from the code; edit the code, not this block. -->';

/** `text` with the block `name` replaced by `content`. Throws when the page has no such markers. */
export function replaceBlock(text: string, name: string, content: string): string {
  const open = `<!-- generated:${name} -->`;
  const close = `<!-- /generated:${name} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) throw new Error(`no ${open} … ${close} markers`);
  return `${text.slice(0, start)}${open}\n${notice}\n\n${content}\n\n${text.slice(end)}`;
}

/** The pages whose generated blocks differ from the code, with the text they should have. */
export function stalePages(root = repoRoot): { file: string; expected: string }[] {
  const pages = new Map<string, string>();
  for (const block of generatedBlocks()) {
    const current = pages.get(block.file) ?? fs.readFileSync(path.join(root, block.file), 'utf8');
    try {
      pages.set(block.file, replaceBlock(current, block.name, block.content));
    } catch (err) {
      throw new Error(`${block.file}: ${(err as Error).message}`);
    }
  }
  return [...pages]
    .filter(([file, expected]) => fs.readFileSync(path.join(root, file), 'utf8') !== expected)
    .map(([file, expected]) => ({ file, expected }));
}

function main(): void {
  const check = process.argv.includes('--check');
  const stale = stalePages();
  for (const { file, expected } of stale) {
    if (!check) fs.writeFileSync(path.join(repoRoot, file), expected);
    console.log(`${check ? 'out of date' : 'wrote'} ${file}`);
  }
  if (stale.length === 0) console.log('docs are up to date');
  process.exitCode = check && stale.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
