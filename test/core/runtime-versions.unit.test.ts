import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseNodeVersions, runtimeCatalog } from '../../src/core/runtime-catalog.ts';
import {
  chooseRuntimeVersion,
  describeChoice,
  type RuntimeCatalog,
  type VersionFileContents,
} from '../../src/core/runtime-versions.ts';
import { runtimeImage } from '../../src/core/runtimes.ts';

/** A fixed catalog, so the table does not move when the pinned versions do. */
const catalog: RuntimeCatalog = {
  node: parseNodeVersions('20 20.20.2 10.9.4\n22 22.23.5 10.9.4\n24 24.22.3 11.6.2\ndefault 24\n'),
  python: { label: 'Python', versions: ['3.11'], exact: { '3.11': '3.11.2' }, default: '3.11' },
  ruby: { label: 'Ruby', versions: ['3.1'], exact: { '3.1': '3.1.2' }, default: '3.1' },
  php: { label: 'PHP', versions: ['8.2'], exact: { '8.2': '8.2' }, default: '8.2' },
  go: { label: 'Go', versions: ['1.19'], exact: { '1.19': '1.19.8' }, default: '1.19' },
  rust: { label: 'Rust', versions: ['1.63'], exact: { '1.63': '1.63.0' }, default: '1.63' },
};
const pkg = (engines?: string) => JSON.stringify({ name: 'a', ...(engines ? { engines: { node: engines } } : {}) });
const choose = (runtime: string, files: VersionFileContents) => chooseRuntimeVersion(runtime, files, catalog);

describe('runtime versions: chosen from the repository, pure', () => {
  describe('node', () => {
    const table: [string, VersionFileContents, string, string][] = [
      ['nothing asked', {}, '24', 'the default, the current LTS: no .node-version, .nvmrc or engines.node'],
      ['package.json without engines', { 'package.json': pkg() }, '24', 'the default'],
      ['engines 20.x', { 'package.json': pkg('20.x') }, '20', 'from engines.node "20.x" in package.json'],
      ['engines 22.x', { 'package.json': pkg('22.x') }, '22', 'from engines.node "22.x" in package.json'],
      ['engines 24.x', { 'package.json': pkg('24.x') }, '24', 'from engines.node "24.x" in package.json'],
      ['engines 22', { 'package.json': pkg('22') }, '22', 'engines.node "22"'],
      ['engines >=18: the highest', { 'package.json': pkg('>=18') }, '24', 'engines.node ">=18"'],
      ['engines ^22.1.0', { 'package.json': pkg('^22.1.0') }, '22', '"^22.1.0"'],
      ['engines ~20.20', { 'package.json': pkg('~20.20') }, '20', '"~20.20"'],
      ['engines >=20 <23', { 'package.json': pkg('>=20 <23') }, '22', '">=20 <23"'],
      ['engines 18 || 20', { 'package.json': pkg('18 || 20') }, '20', '"18 || 20"'],
      ['engines *', { 'package.json': pkg('*') }, '24', '"*"'],
      ['.nvmrc 20', { '.nvmrc': '20\n' }, '20', 'from .nvmrc "20"'],
      ['.nvmrc v22.1.0 (an older release of 22)', { '.nvmrc': 'v22.1.0' }, '22', 'has 22.23.5 of that major'],
      ['.nvmrc lts/*', { '.nvmrc': 'lts/*' }, '24', '.nvmrc "lts/*"'],
      ['.nvmrc lts/iron', { '.nvmrc': 'lts/iron' }, '20', '"lts/iron"'],
      ['.nvmrc node', { '.nvmrc': 'node' }, '24', '"node"'],
      ['.nvmrc with a comment', { '.nvmrc': '# ours\n22\n' }, '22', '.nvmrc "22"'],
      ['.node-version 20.19.0', { '.node-version': '20.19.0' }, '20', '.node-version "20.19.0"'],
      ['.nvmrc over engines', { '.nvmrc': '20', 'package.json': pkg('>=22') }, '20', '.nvmrc "20"'],
      ['.node-version over .nvmrc', { '.node-version': '22', '.nvmrc': '20' }, '22', '.node-version "22"'],
      ['an empty .nvmrc is not a choice', { '.nvmrc': '\n', 'package.json': pkg('20') }, '20', 'engines.node'],
      ['package.json that is not JSON: the default', { 'package.json': '{' }, '24', 'the default'],
    ];
    for (const [what, files, major, reason] of table)
      it(`${what} → Node ${major}`, () => {
        const choice = choose('node', files);
        expect(choice?.version).to.equal(major);
        expect(choice?.reason).to.include(reason);
      });

    const failures: [string, VersionFileContents, string][] = [
      [
        'engines >=26',
        { 'package.json': pkg('>=26') },
        'engines.node ">=26" in package.json: this platform has Node 20 (20.20.2), 22 (22.23.5) and 24 (24.22.3)',
      ],
      [
        'engines 18.x',
        { 'package.json': pkg('18.x') },
        'engines.node "18.x" in package.json: this platform has Node 20 (',
      ],
      [
        'engines ~20.19 (older than the 20 here)',
        { 'package.json': pkg('~20.19') },
        '"~20.19" in package.json: this platform has Node 20 (20.20.2)',
      ],
      ['.nvmrc lts/hydrogen', { '.nvmrc': 'lts/hydrogen' }, '.nvmrc "lts/hydrogen" asks for Node 18: this platform'],
      [
        '.nvmrc 16.20.2',
        { '.nvmrc': '16.20.2' },
        '.nvmrc "16.20.2": this platform has Node 20 (20.20.2), 22 (22.23.5) and 24',
      ],
      ['.nvmrc garbage', { '.nvmrc': 'banana' }, '.nvmrc "banana" is not a Node version or range: this platform'],
    ];
    for (const [what, files, message] of failures)
      it(`${what} fails naming the versions there are`, () => {
        expect(() => choose('node', files)).to.throw(message);
      });

    it('says which version and why, for the job log', () => {
      const choice = choose('node', { 'package.json': pkg('22.x') })!;
      expect(describeChoice(catalog.node!, choice)).to.equal('Node 22 (from engines.node "22.x" in package.json)');
    });
  });

  describe("python, ruby, php, go, rust: Debian's one version", () => {
    const table: [string, string, VersionFileContents, string][] = [
      ['python', 'nothing asked', {}, 'Debian'],
      ['python', '.python-version 3.11', { '.python-version': '3.11\n' }, '.python-version "3.11"'],
      ['python', '.python-version 3.11.9', { '.python-version': '3.11.9' }, '.python-version "3.11.9"'],
      ['python', 'runtime.txt python-3.11.4', { 'runtime.txt': 'python-3.11.4\n' }, 'runtime.txt "python-3.11.4"'],
      [
        'python',
        '.python-version over runtime.txt',
        { '.python-version': '3.11', 'runtime.txt': 'python-3.12' },
        '.python-version',
      ],
      ['python', 'runtime.txt python-3', { 'runtime.txt': 'python-3' }, 'runtime.txt'],
      ['ruby', '.ruby-version 3.1.2', { '.ruby-version': '3.1.2' }, '.ruby-version "3.1.2"'],
      ['ruby', '.ruby-version ruby-3.1', { '.ruby-version': 'ruby-3.1' }, '.ruby-version "ruby-3.1"'],
      ['php', 'runtime.txt php-8.2', { 'runtime.txt': 'php-8.2' }, 'runtime.txt "php-8.2"'],
      ['go', 'go.mod go 1.19', { 'go.mod': 'module a\n\ngo 1.19\n' }, 'go.mod "go 1.19"'],
      ['go', 'go.mod go 1.18 (older: fine)', { 'go.mod': 'module a\ngo 1.18\n' }, 'go.mod "go 1.18"'],
      ['go', 'go.mod go 1.19.5', { 'go.mod': 'module a\ngo 1.19.5\n' }, 'go.mod "go 1.19.5"'],
      ['go', 'go.mod without a go line', { 'go.mod': 'module a\n' }, 'Debian'],
      ['rust', 'rust-version 1.60', { 'Cargo.toml': '[package]\nrust-version = "1.60"\n' }, 'rust-version "1.60"'],
      ['rust', 'rust-version 1.63.0', { 'Cargo.toml': '[package]\nrust-version = "1.63.0"\n' }, 'rust-version'],
      ['rust', 'no rust-version', { 'Cargo.toml': '[package]\nname = "a"\n' }, 'Debian'],
    ];
    for (const [runtime, what, files, reason] of table)
      it(`${runtime}: ${what}`, () => {
        const choice = choose(runtime, files);
        expect(choice?.version).to.equal(catalog[runtime]!.default);
        expect(choice?.reason).to.include(reason);
      });

    const failures: [string, string, VersionFileContents, string][] = [
      [
        'python',
        '.python-version 3.12',
        { '.python-version': '3.12' },
        '.python-version "3.12" asks for Python 3.12: this platform has Python 3.11',
      ],
      [
        'python',
        'runtime.txt python-3.10.4',
        { 'runtime.txt': 'python-3.10.4' },
        'asks for Python 3.10.4: this platform has Python 3.11',
      ],
      [
        'python',
        '.python-version pypy3.10',
        { '.python-version': 'pypy3.10' },
        'is not a Python version: this platform has Python 3.11',
      ],
      ['ruby', '.ruby-version 3.3.0', { '.ruby-version': '3.3.0' }, 'asks for Ruby 3.3.0: this platform has Ruby 3.1'],
      ['php', 'runtime.txt php-8.3', { 'runtime.txt': 'php-8.3' }, 'asks for PHP 8.3: this platform has PHP 8.2'],
      [
        'go',
        'go.mod go 1.22',
        { 'go.mod': 'module a\n\ngo 1.22.1\n' },
        'go.mod "go 1.22.1" needs Go 1.22.1 or newer: this platform has Go 1.19',
      ],
      [
        'rust',
        'rust-version 1.70',
        { 'Cargo.toml': '[package]\nname = "a"\nrust-version = "1.70"\n' },
        'rust-version "1.70" in Cargo.toml needs Rust 1.70 or newer: this platform has Rust 1.63',
      ],
    ];
    for (const [runtime, what, files, message] of failures)
      it(`${runtime}: ${what} fails naming the version there is`, () => {
        expect(() => choose(runtime, files)).to.throw(message);
      });

    it('static has no versions', () => {
      expect(choose('static', { '.nvmrc': '22' })).to.equal(undefined);
    });
  });

  describe('images', () => {
    const options = { imagePrefix: 'gasper', runtimeImages: {} };
    const table: [string, string | undefined, Record<string, string>, string][] = [
      ['node', '22', {}, 'gasper/node:22'],
      ['node', undefined, {}, `gasper/node:${runtimeCatalog.node!.default}`],
      ['node', '22', { 'node:22': 'node:22-bookworm-slim' }, 'node:22-bookworm-slim'],
      ['node', '20', { 'node:22': 'node:22-bookworm-slim' }, 'gasper/node:20'],
      // The runtime's own entry stands for its default version only.
      ['node', runtimeCatalog.node!.default, { node: 'node:lts-bookworm-slim' }, 'node:lts-bookworm-slim'],
      ['node', '20', { node: 'node:lts-bookworm-slim' }, 'gasper/node:20'],
      ['python', '3.11', {}, 'gasper/python:latest'],
      ['python', undefined, { python: 'python:3.11-slim' }, 'python:3.11-slim'],
    ];
    for (const [runtime, version, images, image] of table)
      it(`${runtime} ${version ?? '(default)'} with ${JSON.stringify(images)} → ${image}`, () => {
        expect(runtimeImage(runtime, { ...options, runtimeImages: images }, version)).to.equal(image);
      });
  });

  it('the catalog is docker/runtimes/node/versions: 20, 22 and 24, and the default is 24 (the LTS on 2026-12-02)', () => {
    const file = parseNodeVersions(
      readFileSync(new URL('../../docker/runtimes/node/versions', import.meta.url), 'utf8'),
    );
    expect(runtimeCatalog.node).to.deep.equal(file);
    expect(file.versions).to.deep.equal(['20', '22', '24']);
    expect(file.default).to.equal('24');
    expect(Object.values(file.exact).every((v) => /^\d+\.\d+\.\d+$/.test(v))).to.equal(true);
  });
});
