import { AsyncLocalStorage } from 'node:async_hooks';
import https from 'node:https';
import tls from 'node:tls';
import acme from 'acme-client';
import type { CertificateFailure } from './retry-plan.ts';

/**
 * The ACME order (RFC 8555) through acme-client: HTTP-01 only, since every proxy instance answers
 * `/.well-known/acme-challenge/` from Redis. This adapter's other job is to keep the CA's problem
 * document: acme-client throws plain Errors holding only its `detail`, and a rate limit's type and
 * Retry-After are what the retry plan needs.
 */

// acme-client's HTTP layer retries 429 and 5xx itself, sleeping Retry-After in-process: for a
// Let's Encrypt rate limit that is hours inside one job. The job's retry plan does it instead.
// (`acmeSettings` is acme-client's own addition to axios's defaults, untyped.)
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;

export interface ProblemRecord {
  last?: { type?: string; detail: string; status: number; retryAfter?: number };
}
const problems = new AsyncLocalStorage<ProblemRecord>();

/** RFC 9110 Retry-After: seconds, or an HTTP date. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return now + Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date;
}

// Every ACME answer passes here, in the async context of the order that asked: a problem document
// (an error answer, or a challenge/authorization/order whose `error` is set) is kept for it.
acme.axios.interceptors.response.use((response) => {
  const record = problems.getStore();
  const data = response.data as { type?: string; detail?: string; error?: { type?: string; detail?: string } };
  const problem = response.status >= 400 ? data : data?.error;
  // acme-client retries a bad nonce on its own: that one is not why an order failed.
  const retried = problem?.type === 'urn:ietf:params:acme:error:badNonce';
  if (record && problem && typeof problem === 'object' && (problem.type || problem.detail) && !retried) {
    record.last = {
      type: problem.type,
      detail: String(problem.detail ?? problem.type),
      status: response.status,
      retryAfter: parseRetryAfter(response.headers['retry-after'], Date.now()),
    };
  }
  return response;
});

const extraCas = new Set<string>();

/**
 * Trust a private CA's certificate (PEM) for the ACME directory's TLS, besides the public roots:
 * pebble's listener, a company CA. acme-client has one HTTP client per process, so this is
 * process-wide; several CAs add up.
 */
export function trustAcmeCa(pem: string): void {
  if (extraCas.has(pem)) return;
  extraCas.add(pem);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, ...extraCas], keepAlive: true });
}

export interface AcmeAccount {
  directoryUrl: string;
  /** PEM. */
  accountKey: string;
  /** Known from an earlier order against the same directory: saves a lookup. */
  accountUrl?: string;
  email?: string;
}

/** Where the HTTP-01 key authorizations go, for the proxies to answer. */
export interface ChallengeStore {
  put(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}

export interface OrderedCertificate {
  /** Leaf then chain, PEM. */
  certPem: string;
  keyPem: string;
  /** The account's URL, to keep for next time. */
  accountUrl: string;
}

/** How often acme-client polls a pending challenge or order: from `minMs`, doubling up to `maxMs`. */
export interface PollOptions {
  attempts: number;
  minMs: number;
  maxMs: number;
}

export class AcmeOrderError extends Error {
  constructor(readonly failure: CertificateFailure) {
    super(failure.kind === 'acme' ? failure.detail : 'message' in failure ? failure.message : 'ACME order failed');
    this.name = 'AcmeOrderError';
  }
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** An error out of acme-client, classified with the problem document seen last. */
export function classifyAcmeError(err: unknown, record: ProblemRecord): CertificateFailure {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code && networkCodes.has(code)) return { kind: 'network', code, message: e.message ?? code };
  if (record.last) return { kind: 'acme', ...record.last, detail: record.last.detail };
  return { kind: 'internal', message: e.message ?? String(err) };
}

/**
 * One certificate for `domain`: a new P-256 key, an order, HTTP-01, finalize, download. Throws
 * AcmeOrderError with the classified failure.
 */
export async function orderCertificate(
  domain: string,
  account: AcmeAccount,
  challenges: ChallengeStore,
  poll: PollOptions,
): Promise<OrderedCertificate> {
  const record: ProblemRecord = {};
  return problems.run(record, async () => {
    try {
      const client = new acme.Client({
        directoryUrl: account.directoryUrl,
        accountKey: account.accountKey,
        ...(account.accountUrl ? { accountUrl: account.accountUrl } : {}),
        backoffAttempts: poll.attempts,
        backoffMin: poll.minMs,
        backoffMax: poll.maxMs,
      });
      const key = await acme.crypto.createPrivateEcdsaKey('P-256');
      const [, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, key);
      const certPem = await client.auto({
        csr,
        ...(account.email ? { email: account.email } : {}),
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // acme-client would first fetch the challenge itself, through the system's resolver, from
        // wherever this node is: the DNS check before the order covers what it would catch.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new Error(`unexpected challenge type ${challenge.type}`);
          await challenges.put(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          await challenges.remove(challenge.token);
        },
      });
      return { certPem, keyPem: key.toString(), accountUrl: client.getAccountUrl() };
    } catch (err) {
      throw new AcmeOrderError(classifyAcmeError(err, record));
    }
  });
}
