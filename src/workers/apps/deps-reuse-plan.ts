/**
 * Whether a release's dependency install can be skipped by reusing the node_modules of an
 * earlier release of the same app on this node (pure: deps-reuse.ts does the I/O).
 *
 * The key is the sha256 of the lockfile's name and bytes and of the runtime image: the same
 * lockfile under another Node major can need other native builds, so it installs again.
 * Only a whole build command that is a plain install (`npm ci`, `npm install`, `yarn install`,
 * `pnpm install`, flags only, no package named) is skipped; any other command (`npm run build`,
 * `npm ci && make`) runs as always.
 */

/**
 * The lockfiles each package manager's install follows, first found wins: a key on a file the
 * install ignores (npm and a yarn.lock) would reuse what a fresh install would resolve anew.
 */
const lockfilesOf: Record<string, string[]> = {
  npm: ['npm-shrinkwrap.json', 'package-lock.json'],
  yarn: ['yarn.lock'],
  pnpm: ['pnpm-lock.yaml'],
};

/** The file in a release directory that records its dependency key, written only after a successful build. */
export const depsMarker = '.gasper-deps-sha256';

const installCommand = /^(npm (ci|install|i)|yarn( install)?|pnpm (install|i))( +--?[\w-]+(=[\w.-]+)?)*$/;

/** Whether `command` is a plain dependency install that a reuse may stand in for. */
export function isInstallCommand(command: string): boolean {
  return installCommand.test(command.trim());
}

/** The build's first plain install command (its index) and the lockfiles it follows, if it has one. */
export function installOf(commands: string[]): { index: number; lockfiles: string[] } | undefined {
  const index = commands.findIndex(isInstallCommand);
  if (index < 0) return undefined;
  return { index, lockfiles: lockfilesOf[commands[index]!.trim().split(' ')[0]!] ?? [] };
}

export interface ReuseCandidate {
  release: string;
  /** The key its marker records; undefined when it has none (no lockfile, failed, older Gasper). */
  key: string | undefined;
}

export type ReusePlan =
  | { reuse: true; from: string; skip: number; line: string }
  | { reuse: false; line: string | undefined };

/**
 * The plan for `release`: reuse the newest other release whose key equals `key`, skipping the
 * first install command. `candidates` are the release directories that exist now, so a release
 * the cleanup removed (GASPER_KEEP_RELEASES) is never a source.
 */
export function planDepsReuse(input: {
  release: string;
  commands: string[];
  lockfile: string | undefined;
  key: string | undefined;
  candidates: ReuseCandidate[];
  cache: boolean;
}): ReusePlan {
  const skip = installOf(input.commands)?.index ?? -1;
  if (skip < 0 || !input.lockfile || !input.key) return { reuse: false, line: undefined };
  const short = input.key.slice(0, 12);
  if (!input.cache) return { reuse: false, line: 'dependencies: cache: false: installing from nothing' };
  const from = input.candidates
    .filter((c) => c.release !== input.release && c.key === input.key)
    .map((c) => c.release)
    .sort()
    .at(-1);
  if (!from)
    return {
      reuse: false,
      line: `dependencies: ${input.lockfile} (sha256 ${short}…) matches no kept release: installing`,
    };
  return {
    reuse: true,
    from,
    skip,
    line: `dependencies: unchanged ${input.lockfile} (sha256 ${short}…), reused node_modules from ${from}: ${input.commands[skip]} skipped`,
  };
}
