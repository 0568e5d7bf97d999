import pino, { type Logger } from 'pino';

export type { Logger };

/** One pino root logger; services take children named for themselves. Secrets are redacted by path. */
export function createLogger(level: string = 'info'): Logger {
  return pino({
    level,
    base: undefined,
    redact: {
      paths: [
        'token',
        '*.token',
        'password',
        '*.password',
        'secret',
        '*.secret',
        'env',
        '*.env',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        '*.repo.token',
        'credentials',
        '*.credentials',
      ],
      censor: '[redacted]',
    },
  });
}
