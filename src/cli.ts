import { Command } from 'commander';
import { registerClientCommands } from './client/commands.ts';
import { registerRunCommand } from './client/run-command.ts';
import { ConfigError, loadConfig } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { allServices, startPlatform, type ServiceName } from './platform.ts';
import { PreflightError } from './preflight.ts';

/** Runs services until SIGTERM/SIGINT, then closes them cleanly. */
async function serve(services: readonly ServiceName[]): Promise<void> {
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
    `gasper is up${platform.api ? `: API on :${platform.api.port}` : ''}${platform.proxy ? `, apps at http://<app>.${config.domain}:${platform.proxy.port}` : ''}${platform.proxy?.httpsPort ? ` and https://<app>.${config.domain}:${platform.proxy.httpsPort}` : ''}${platform.dns ? `, DNS on :${platform.dns.port}` : ''}`,
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

const program = new Command('gasper').description('Your cloud in a binary: a self-hosted PaaS on Docker and Redis.');
program
  .command('up')
  .description('run the whole platform on this machine: worker, proxy, SSH, DNS and API (and Redis unless REDIS_URL)')
  .action(() => serve(allServices));
program
  .command('api')
  .description('run only the REST API (needs REDIS_URL)')
  .action(() => serve(['api']));
program
  .command('worker')
  .description("run only this node's worker (needs REDIS_URL and Docker)")
  .action(() => serve(['worker']));
program
  .command('proxy')
  .description('run only the reverse proxy (needs REDIS_URL)')
  .action(() => serve(['proxy']));
program
  .command('ssh')
  .description("run only the SSH service into apps' containers (needs REDIS_URL and Docker)")
  .action(() => serve(['ssh']));
program
  .command('dns')
  .description('run only the authoritative DNS for GASPER_DOMAIN (needs REDIS_URL)')
  .action(() => serve(['dns']));
registerClientCommands(program);
registerRunCommand(program);
await program.parseAsync();
