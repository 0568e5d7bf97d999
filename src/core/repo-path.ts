/**
 * `repo.path`: the folder of the repository an app is (a monorepo's package, a `dist/`). Pure:
 * unit-tested in test/core/repo-path.unit.test.ts. The clone is narrowed to it on the node
 * (workers/apps/repo-subdir.ts), so the build and the app see that folder as /app.
 */
export function repoPathProblem(value: string): string | undefined {
  if (value.length === 0 || value.length > 1024) return 'must be 1 to 1024 characters';
  if (value.startsWith('/')) return 'must be relative to the repository root (no leading "/")';
  if (value.includes('\\') || value.includes('\0')) return 'must use "/" between folders';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(value)) return 'must not contain control characters';
  const parts = value.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return 'must stay inside the repository (no "..")';
  if (parts[0] === '.git') return 'must not be inside .git';
  return undefined;
}

/** `repo.path` as stored: `a/b` for `./a//b/`; undefined for the root (`.`, `./`). */
export function normalRepoPath(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parts = value.split('/').filter((p) => p !== '' && p !== '.');
  return parts.length ? parts.join('/') : undefined;
}
