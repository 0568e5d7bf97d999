import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { apiRoutes } from '../../src/api/openapi/registry.ts';
import { appStatuses } from '../../src/store/app-document.ts';
import { databaseStatuses } from '../../src/store/database-document.ts';
import { domainStatuses } from '../../src/store/domain-document.ts';
import { generatedBlocks, replaceBlock, repoRoot, stalePages } from '../../scripts/docs.ts';

/** README.md and every page under docs/, relative to the repository. */
function pages(): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) return walk(rel);
      return entry.name.endsWith('.md') ? [rel] : [];
    });
  return ['README.md', ...walk('docs')];
}

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');

/** The page without its fenced code blocks (whose `#` lines are no headings, whose text no links). */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** The anchors GitHub gives a page's headings: lowercase, punctuation dropped, spaces to dashes, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const match of prose(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]!
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count ? `${base}-${count}` : base);
  }
  return anchors;
}

/** The code spans of a page's prose: `like this`. */
function codeSpans(text: string): string[] {
  return [...prose(text).matchAll(/(?<!`)`([^`\n]+)`(?!`)/g)].map((m) => m[1]!);
}

/** A path with `*` and `**` as a regular expression over repository-relative paths. */
function globPattern(glob: string): RegExp {
  const source = glob
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '**'
          ? '.*'
          : part === '*'
            ? '[^/]*'
            : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`);
}

function filesUnder(dir: string): string[] {
  const full = path.join(repoRoot, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    return entry.isDirectory() ? [rel, ...filesUnder(rel)] : [rel];
  });
}

describe('docs', function () {
  this.timeout(20_000);

  describe('the generated blocks', function () {
    it('match the code: configuration schema, error catalogue, routes, events (run `npm run docs` when this fails)', function () {
      const stale = stalePages().map((page) => page.file);
      expect(stale, `out of date: run npm run docs (${stale.join(', ')})`).to.deep.equal([]);
    });

    it('are found by their markers, and a page without them is an error naming the block', function () {
      expect(replaceBlock('a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb', 'x', 'new')).to.match(
        /^a\n<!-- generated:x -->\n.*\n\nnew\n\n<!-- \/generated:x -->\nb$/,
      );
      expect(() => replaceBlock('no markers', 'x', 'new')).to.throw(
        'no <!-- generated:x --> … <!-- /generated:x --> markers',
      );
    });

    it('list every configuration variable, error code and route', function () {
      const byName = Object.fromEntries(generatedBlocks().map((b) => [b.name, b.content]));
      expect(byName.config).to.include('| `GASPER_NODE_TIMEOUT_MS` | `30000` | integer, 500–600000 |');
      expect(byName.config).to.include('| `GASPER_STATE_DIR` | `~/.gasper` |');
      expect(byName.errors).to.include('| `NO_CAPACITY` | 409 |');
      expect(byName.api).to.include('| `POST /apps/:name/rollback` |');
      expect(byName.events).to.include(
        '| `node.state` | `node`: string, `state`: `"up"` \\| `"down"`, `address`: string |',
      );
    });
  });

  describe('the pages', function () {
    const files = pages();

    it('are found: README.md and the docs index at least', function () {
      expect(files).to.include.members([
        'README.md',
        'docs/README.md',
        'docs/operations/configuration.md',
        'docs/operations/security.md',
      ]);
    });

    it('link only to files and headings that exist', function () {
      const broken: string[] = [];
      for (const file of files) {
        for (const match of prose(read(file)).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
          const target = match[1]!;
          if (/^[a-z]+:/i.test(target)) continue;
          const [linked, anchor] = target.split('#', 2) as [string, string | undefined];
          const resolved = linked ? path.normalize(path.join(path.dirname(file), linked)) : file;
          if (!fs.existsSync(path.join(repoRoot, resolved))) {
            broken.push(`${file}: ${target} (no file ${resolved})`);
          } else if (anchor && resolved.endsWith('.md') && !anchorsOf(read(resolved)).has(anchor)) {
            broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
          }
        }
      }
      expect(broken).to.deep.equal([]);
    });

    it('name only routes the API has', function () {
      const known = apiRoutes.list().map((r) => ({
        method: r.method.toUpperCase(),
        path: new RegExp(`^${r.path.replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`),
      }));
      const unknown: string[] = [];
      for (const file of files) {
        for (const span of codeSpans(read(file))) {
          const route = /^(GET|POST|PUT|PATCH|DELETE) (\/\S*)$/.exec(span);
          if (!route) continue;
          const routePath = route[2]!.split('?')[0]!.replace(/\{([^}]+)\}/g, ':$1');
          if (!known.some((k) => k.method === route[1] && k.path.test(routePath))) unknown.push(`${file}: ${span}`);
        }
      }
      expect(unknown).to.deep.equal([]);
    });

    it('name only source, test and script paths that exist', function () {
      const missing: string[] = [];
      for (const file of files) {
        for (const span of codeSpans(read(file))) {
          if (!/^(src|test|bench|scripts|docker|bin)\/[^\s<>]*$/.test(span)) continue;
          const wanted = span.replace(/\/$/, '');
          const found = wanted.includes('*')
            ? filesUnder(wanted.split('/')[0]!).some((f) => globPattern(wanted).test(f))
            : fs.existsSync(path.join(repoRoot, wanted));
          if (!found) missing.push(`${file}: ${span}`);
        }
      }
      expect(missing).to.deep.equal([]);
    });
  });

  describe('the state machines', function () {
    const page = read('docs/architecture/state-machines.md');
    /** The first Mermaid diagram after the heading. */
    const diagramUnder = (heading: string) => {
      const start = page.indexOf(`\n## ${heading}\n`);
      expect(start, `no "## ${heading}" in state-machines.md`).to.be.greaterThan(-1);
      const match = /```mermaid\n([\s\S]*?)```/.exec(page.slice(start));
      expect(match, `no diagram under "## ${heading}"`).to.not.equal(null);
      return match![1]!;
    };

    it('draw every app status the code declares', function () {
      const diagram = diagramUnder('Apps');
      expect(appStatuses.filter((status) => !new RegExp(`\\b${status}\\b`).test(diagram))).to.deep.equal([]);
    });

    it('draw every database status the code declares', function () {
      const diagram = diagramUnder('Databases');
      expect(databaseStatuses.filter((status) => !new RegExp(`\\b${status}\\b`).test(diagram))).to.deep.equal([]);
    });

    it('draw every custom domain status the code declares', function () {
      const diagram = diagramUnder('Custom domains');
      expect(domainStatuses.filter((status) => !new RegExp(`\\b${status}\\b`).test(diagram))).to.deep.equal([]);
    });
  });

  describe('anchors', function () {
    it('are made as GitHub makes them', function () {
      const anchors = anchorsOf(
        '# Jobs of a down node\n## What `npm run up` starts\n## Logs\n## Logs\n```sh\n# not a heading\n```\n## What is done, and what is not',
      );
      expect([...anchors]).to.deep.equal([
        'jobs-of-a-down-node',
        'what-npm-run-up-starts',
        'logs',
        'logs-1',
        'what-is-done-and-what-is-not',
      ]);
    });
  });
});
