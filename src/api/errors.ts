import type { ErrorRequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../core/log.ts';

/**
 * Every error the API answers with, by stable code. Responses are
 * `{statusCode, code, message, fields?}`; docs/reference/errors.md lists the codes.
 */
export const errorCatalog = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  APP_EXISTS: 409,
  USER_EXISTS: 409,
  USER_HAS_RESOURCES: 409,
  QUOTA_EXCEEDED: 403,
  SSH_KEY_EXISTS: 409,
  DATABASE_EXISTS: 409,
  DATABASE_NOT_RUNNING: 409,
  DATABASE_LINKED: 409,
  NO_DATABASE_PORT: 503,
  APP_BUSY: 409,
  TRANSFER_LINKED: 409,
  TRANSFER_CONFLICT: 409,
  DOMAIN_EXISTS: 409,
  DOMAIN_LIMIT: 409,
  DOMAIN_OWNER_LIMIT: 409,
  SCHEDULE_LIMIT: 409,
  NO_RELEASE: 409,
  RELEASE_NOT_ON_DISK: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  NO_NODE_AVAILABLE: 503,
  NO_CAPACITY: 409,
  NODE_IN_USE: 409,
  VOLUME_IN_USE: 409,
  NO_RUNNING_INSTANCE: 409,
  INTERNAL: 500,
} as const;
export type ErrorCode = keyof typeof errorCatalog;

/**
 * When each code is answered, in a user's words: `npm run docs` writes the catalogue
 * (docs/reference/errors.md) from this and `errorCatalog`, so a new code needs its line here.
 */
export const errorMeanings: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'a field is invalid or unknown. `fields` names each one',
  INVALID_JSON: 'the body is not JSON',
  BAD_REQUEST:
    'the request cannot be read: a malformed %-escape in the path, an unsupported charset or Content-Encoding, a body that does not decompress',
  UNAUTHORIZED: 'missing or wrong token, or a missing or wrong webhook signature',
  FORBIDDEN:
    'the token lacks the scope the request needs, or a transfer is asked by a user who neither owns the resource nor is an admin',
  NOT_FOUND: "no such app, job or route (or a resource another user owns: its existence doesn't leak)",
  APP_EXISTS: 'the name is taken',
  USER_EXISTS: 'the user name is taken',
  USER_HAS_RESOURCES: 'the user still owns apps or databases',
  QUOTA_EXCEEDED: "creating the resource, or receiving it in a transfer, would break one of the user's quotas",
  SSH_KEY_EXISTS: 'the app already has this SSH key',
  DATABASE_EXISTS: 'the database name is taken',
  DATABASE_NOT_RUNNING: 'a backup or restore of a database that is not `running`',
  DATABASE_LINKED: 'deleting a database an app is linked to',
  NO_DATABASE_PORT: 'every port of `GASPER_DB_PORTS` on the chosen node is taken',
  APP_BUSY: 'the app is being deleted',
  TRANSFER_LINKED:
    'a transfer of an app linked to databases (or a database linked to apps) the receiver does not own: the message names them',
  TRANSFER_CONFLICT: 'the app or database changed owner, or started being deleted, during the transfer',
  DOMAIN_EXISTS: 'the custom domain belongs to an app already (this one, or another whose name is not said)',
  DOMAIN_LIMIT: 'the app has `GASPER_DOMAINS_PER_APP` custom domains already',
  DOMAIN_OWNER_LIMIT: "the app's owner has `GASPER_DOMAINS_PER_OWNER` custom domains already, over all their apps",
  SCHEDULE_LIMIT: '`POST /apps/:name/schedules` for an app with 20 schedules already: delete one first',
  NO_RELEASE:
    'restart/start or a one-off run (`POST /apps/:name/run`) of an app never deployed; rollback with no previous release, or to one that never ran',
  RELEASE_NOT_ON_DISK: 'rollback to a release whose directory was pruned (`GASPER_KEEP_RELEASES`)',
  PAYLOAD_TOO_LARGE: 'the body is over the limit',
  UNSUPPORTED_MEDIA_TYPE:
    'a body that is not `application/json`, or in a charset or Content-Encoding the API does not read',
  RATE_LIMITED:
    'too many failed authentications from an address, or changes by a user (see `Retry-After`), or log follows open (per user or in all: the message names the setting)',
  NO_NODE_AVAILABLE:
    'no node can take apps: none registered, or every one is down (no heartbeat for `GASPER_NODE_TIMEOUT_MS`) or draining',
  NO_CAPACITY:
    'live nodes exist, but none has the CPU and memory the app needs free. The message names the node with the most room',
  NODE_IN_USE:
    '`DELETE /nodes/:id` of a node that is up, or still holds app instances or databases: the message names them',
  VOLUME_IN_USE:
    "`DELETE /apps/:name/volumes/:volume` of a volume the app still declares: remove it from the app's `volumes` first",
  NO_RUNNING_INSTANCE:
    'a web terminal (`POST /apps/:name/terminal`) for an app with no running instance, or for an `instance` it does not have: the message says how many it has',
  INTERNAL: 'anything else. It is logged, never leaked',
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Field path → problem, for validation errors. */
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = errorCatalog[code];
  }
}

/** Turns zod issues into `{ "repo.url": "problem" }` and one message naming the fields. */
export function validationError(error: z.ZodError, prefix = ''): ApiError {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const at = issue.path.map(String);
    // One entry per unknown field, named like the known ones, rather than one for the object.
    const named = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...at, key]) : [at];
    for (const path of named)
      fields[prefix + (path.length ? path.join('.') : '(body)')] ??=
        issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  }
  const summary = Object.entries(fields)
    .map(([f, m]) => `${f}: ${m}`)
    .join('; ');
  return new ApiError('VALIDATION_FAILED', `invalid request: ${summary}`, fields);
}

/**
 * The 4xx a request that cannot be read at all deserves: a malformed `%` escape in a path
 * parameter (express's router), a body parser's refusal (body-parser's error `type`s), a body
 * that does not decompress. Undefined for anything else.
 */
export function requestErrorOf(err: unknown): ApiError | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as {
    type?: unknown;
    status?: unknown;
    expose?: unknown;
    message?: unknown;
    charset?: unknown;
    encoding?: unknown;
  };
  if (err instanceof URIError)
    return new ApiError('BAD_REQUEST', 'the path holds a malformed %-escape (each % must start %XX)');
  switch (e.type) {
    case 'entity.too.large':
      return new ApiError('PAYLOAD_TOO_LARGE', 'request body is too large');
    case 'entity.parse.failed':
      return new ApiError('INVALID_JSON', 'request body is not valid JSON');
    case 'charset.unsupported':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', `unsupported charset "${String(e.charset ?? '')}"; send UTF-8`);
    case 'encoding.unsupported':
      return new ApiError(
        'UNSUPPORTED_MEDIA_TYPE',
        `unsupported Content-Encoding "${String(e.encoding ?? '')}"; send identity, gzip, deflate or br`,
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new ApiError('BAD_REQUEST', 'the request body ended before its Content-Length');
  }
  // What else the body parser refuses carries an http-errors status meant for the client
  // (`expose`): a body that does not decompress is a 400 wrapping zlib's error.
  if (e.expose === true && e.status === 400)
    return new ApiError('BAD_REQUEST', `the request body cannot be read: ${String(e.message)}`);
  return undefined;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let apiError: ApiError;
    if (err instanceof ApiError) apiError = err;
    else if (err instanceof z.ZodError) apiError = validationError(err);
    else {
      const unreadable = requestErrorOf(err);
      if (unreadable) {
        // The client's mistake: worth a line when debugging, not a stack trace.
        log.debug(
          { code: unreadable.code, reason: (err as Error).message, method: req.method, path: req.path },
          'unreadable request',
        );
        apiError = unreadable;
      } else {
        log.error({ err, method: req.method, path: req.path }, 'unhandled API error');
        apiError = new ApiError('INTERNAL', 'internal error');
      }
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(apiError.status).json({
      statusCode: apiError.status,
      code: apiError.code,
      message: apiError.message,
      ...(apiError.fields ? { fields: apiError.fields } : {}),
    });
  };
}
