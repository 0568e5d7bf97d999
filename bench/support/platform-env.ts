/**
 * The environment of a platform a benchmark starts in its own process: every service on a free
 * loopback port, its own state directory and node id. Another Gasper on the machine (production,
 * a test run) holds the default ports; a benchmark must run beside it, never fail or interfere.
 */
import crypto from 'node:crypto';

function caBundle(): Record<string, string> {
  const file = process.env.GASPER_EXTRA_CA_CERTS ?? process.env.NODE_EXTRA_CA_CERTS;
  return file ? { GASPER_EXTRA_CA_CERTS: file } : {};
}

export function benchPlatformEnv(
  stateDir: string,
  token: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    GASPER_STATE_DIR: stateDir,
    GASPER_API_PORT: '0',
    GASPER_API_HOST: '127.0.0.1',
    GASPER_PROXY_PORT: '0',
    GASPER_PROXY_HOST: '127.0.0.1',
    GASPER_HTTPS_PORT: '0',
    GASPER_HTTPS_HOST: '127.0.0.1',
    GASPER_DNS_PORT: '0',
    GASPER_DNS_HOST: '127.0.0.1',
    GASPER_SSH_PORT: '0',
    GASPER_SSH_HOST: '127.0.0.1',
    GASPER_TERMINAL_PORT: '0',
    GASPER_TERMINAL_HOST: '127.0.0.1',
    GASPER_NODE_ID: `bench-${crypto.randomBytes(3).toString('hex')}`,
    GASPER_ADMIN_TOKEN: token,
    GASPER_ALLOW_LOCAL_REPOS: '1',
    GASPER_LOG_LEVEL: 'warn',
    // Builds reach registries through the machine's TLS proxy, if it has one: as a platform the
    // user starts would, the bench's platform trusts the CA bundle the environment names.
    ...caBundle(),
    ...extra,
  };
}
