import { expect } from 'chai';
import { cargoBinary, cargoOfflineHint } from '../../../src/workers/apps/cargo.ts';

describe('cargoBinary', () => {
  const table: [string, string, string | RegExp][] = [
    ['a package', '[package]\nname = "hello"\nversion = "0.1.0"\n', 'hello'],
    ['single quotes and a comment', "[package] # the app\nname = 'hello-web' # its binary\n", 'hello-web'],
    ['one [[bin]] wins over the package name', '[package]\nname = "p"\n\n[[bin]]\nname = "srv"\n', 'srv'],
    [
      'default-run among several',
      '[package]\nname = "p"\ndefault-run = "b"\n[[bin]]\nname = "a"\n[[bin]]\nname = "b"\n',
      'b',
    ],
    ['name keys of other tables do not count', '[package]\nname = "p"\n[dependencies.x]\nname = "y"\n', 'p'],
    [
      'several without default-run',
      '[package]\nname = "p"\n[[bin]]\nname = "a"\n[[bin]]\nname = "b"\n',
      /2 \[\[bin\]\]/,
    ],
    ['a workspace', '[workspace]\nmembers = ["a", "b"]\n', /no \[package\]/],
  ];
  for (const [what, manifest, want] of table)
    it(what, () => {
      const got = cargoBinary(manifest);
      if (typeof want === 'string') expect(got).to.include({ name: want });
      else expect('problem' in got ? got.problem : '').to.match(want);
    });
});

describe('cargoOfflineHint', () => {
  const table: [string, string, string[], boolean][] = [
    [
      'a crate from crates.io, offline',
      'cargo build --release --offline',
      ['error: no matching package named `serde` found', "As a reminder, you're using offline mode (--offline)"],
      true,
    ],
    [
      'a registry that cannot be reached',
      'cargo build --release',
      ['error: failed to download from `https://crates.io/api/v1/crates/libc/0.2.0/download`'],
      true,
    ],
    [
      'a compile error',
      'cargo build --release --offline',
      ['error[E0425]: cannot find value `x` in this scope'],
      false,
    ],
    ['not cargo', 'npm ci', ['npm ERR! offline mode'], false],
  ];
  for (const [what, command, output, hinted] of table)
    it(what, () => {
      const hint = cargoOfflineHint(command, output);
      if (hinted) expect(hint).to.match(/offline.*crates\.io.*cargo vendor/);
      else expect(hint).to.equal(undefined);
    });
});
