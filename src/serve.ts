import { ConfigError, loadConfig } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { upMessage } from './core/up-message.ts';
import { allServices, startPlatform, type ServiceName } from './platform.ts';
import { PreflightError } from './preflight.ts';

export { allServices, type ServiceName };

/**
 * Runs services until SIGTERM/SIGINT, then closes them cleanly. Kept apart from cli.ts, which
 * imports it only when a service command runs: `gasper --help` and the client commands never
 * load the platform (Redis, BullMQ, Docker, express).
 */
export async function serve(services: readonly ServiceName[]): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gasper: bad configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (services.length < allServices.length && !config.redisUrl) {
    process.stderr.write(
      'gasper: REDIS_URL is required when services run apart (only `gasper up` starts its own Redis)\n',
    );
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  const platform = await startPlatform(config, services, log).catch((err: Error) => {
    if (err instanceof PreflightError) {
      // A dependency this service needs is missing or unlike the cluster's: name the variable.
      process.stderr.write(`gasper: cannot start ${services.join(', ')}: ${err.message}\n`);
      process.exit(1);
    }
    log.fatal({ err }, 'start-up failed');
    process.exit(1);
  });
  if (platform.generatedAdminToken) {
    // Printed once, on stderr, outside the structured logs: only its hash is kept.
    process.stderr.write(`\nAdmin token (shown once, store it now):\n  ${platform.generatedAdminToken}\n\n`);
  }
  log.info(
    {
      services,
      api: platform.api?.port,
      proxy: platform.proxy?.port,
      ssh: platform.ssh?.port,
      dns: platform.dns?.port,
      domain: config.domain,
    },
    upMessage({
      domain: config.domain,
      api: platform.api?.port,
      proxy: platform.proxy?.port,
      httpsPort: platform.proxy?.httpsPort,
      platformCertificate: config.proxy.tlsCertFile !== undefined,
      dns: platform.dns?.port,
    }),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    platform.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
