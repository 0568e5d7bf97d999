import type http from 'node:http';
import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';

/** RFC 8555 §8.3: the CA fetches `http://<domain>/.well-known/acme-challenge/<token>` on port 80. */
export const acmeChallengePath = '/.well-known/acme-challenge/';

/**
 * The token of an ACME HTTP-01 request path, `null` for a challenge path without a valid token
 * (answered 404), undefined for any other path (routed as usual). Tokens are base64url (§8.3).
 */
export function challengeToken(url: string | undefined): string | null | undefined {
  if (!url?.startsWith(acmeChallengePath)) return undefined;
  const query = url.indexOf('?');
  const token = url.slice(acmeChallengePath.length, query === -1 ? undefined : query);
  return /^[A-Za-z0-9_-]{1,256}$/.test(token) ? token : null;
}

/**
 * Answers an HTTP-01 challenge from Redis (`keys.acmeChallenge(token)`, written by the
 * certificates service), whatever the Host: the CA may reach any proxy instance. Never forwarded
 * to an app, so an app cannot answer (or spoil) a challenge for a domain.
 */
export function answerChallenge(
  redis: Redis,
  token: string | null,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  log: Logger,
): void {
  const send = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (token === null || (req.method !== 'GET' && req.method !== 'HEAD')) {
    send(404, 'no such challenge\n');
    return;
  }
  redis.get(keys.acmeChallenge(token)).then(
    (value) => {
      log.info({ token, host: req.headers.host, found: value !== null }, 'acme challenge asked');
      if (value === null) send(404, 'no such challenge\n');
      else send(200, value);
    },
    (err: Error) => {
      log.warn({ err: err.message }, 'cannot read acme challenge');
      send(503, 'challenge store unavailable\n');
    },
  );
}
