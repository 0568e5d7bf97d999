import type { SecretBox } from './secret-box.ts';

/**
 * Credentials for an https repository: a token (and the user name it goes with), kept sealed in
 * the app document like env values, opened only by the worker when it clones, and handed to git
 * in its environment as an HTTP header, never in its arguments or in a URL.
 */
export interface RepoCredentials {
  username: string;
  token: string;
}

/** GitHub's name for "whoever owns this token"; GitLab and Gitea take any name with a token. */
export const defaultTokenUser = 'x-access-token';

export function sealCredentials(secrets: Pick<SecretBox, 'seal'>, credentials: RepoCredentials): string {
  return secrets.seal(JSON.stringify({ username: credentials.username, token: credentials.token }));
}

export function openCredentials(secrets: SecretBox, sealed: string): RepoCredentials {
  const value = JSON.parse(secrets.open(sealed)) as Partial<RepoCredentials>;
  return { username: String(value.username ?? ''), token: String(value.token ?? '') };
}

/** The `Authorization` header git sends (Basic, as a URL's user:password would be sent). */
export function basicAuthorization(credentials: RepoCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.token}`, 'utf8').toString('base64')}`;
}

/** Replaces every occurrence of the credentials' secret parts (as given, URL-encoded, in Basic form). */
export function maskCredentials(text: string, credentials: RepoCredentials | undefined): string {
  if (!credentials) return text;
  const secrets = [credentials.token, encodeURIComponent(credentials.token), basicAuthorization(credentials).slice(6)];
  // A name alone in a URL (`https://<token>@host`) is the token.
  if (!credentials.token) secrets.push(credentials.username, encodeURIComponent(credentials.username));
  let masked = text;
  for (const secret of secrets.filter((s) => s.length >= 4)) masked = masked.split(secret).join('***');
  return masked;
}
