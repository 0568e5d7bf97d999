// The two functions of the `semver` package that runtime-versions.ts uses (the package ships no
// types, and @types/semver is not installed).
declare module 'semver' {
  export function validRange(range: string): string | null;
  export function satisfies(version: string, range: string): boolean;
  const semver: { validRange: typeof validRange; satisfies: typeof satisfies };
  export default semver;
}
