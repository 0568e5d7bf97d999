/**
 * What to do after a failed issuance or renewal, and how to say it to the user: pure, from a
 * classified failure, the attempts made and the clock (table-tested in
 * test/certificates/retry-plan.unit.test.ts). The job processor applies the plan: BullMQ's backoff
 * for a retry, a delay that uses no attempt for a rate limit, UnrecoverableError when giving up.
 */

/** Why one attempt failed, as the adapters classify it. */
export type CertificateFailure =
  /** The domain's A/AAAA records do not (all) point to the proxy's addresses, or the lookup failed. */
  | { kind: 'dns'; found: string[]; expected: string[]; lookupError?: string }
  /** The ownership proof: the TXT record `record` does not hold `token` (its values: `found`), or its lookup failed. */
  | { kind: 'verification'; record: string; token: string; found: string[]; lookupError?: string }
  /** An ACME problem document (RFC 8555 §6.7) from the CA, with its Retry-After when it sent one. */
  | { kind: 'acme'; type?: string; detail: string; status?: number; retryAfter?: number }
  /** The CA could not be reached (connection refused, timeout, its name did not resolve). */
  | { kind: 'network'; code: string; message: string }
  | { kind: 'internal'; message: string };

export type RetryPlan =
  | { action: 'retry'; delayMs: number; message: string }
  /** A CA rate limit: wait until then, without counting an attempt. */
  | { action: 'wait'; until: number; message: string }
  | { action: 'give-up'; message: string };

export interface RetryPolicy {
  /** Attempts made before this one (BullMQ's attemptsMade). */
  attemptsMade: number;
  maxAttempts: number;
  /** First retry delay, doubled per attempt. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Wait on a rate limit whose answer carried no Retry-After. */
  rateLimitWaitMs: number;
}

const acmeError = 'urn:ietf:params:acme:error:';

/** ACME problem types a later attempt can get past without anyone doing anything. */
const transientAcmeTypes = new Set(['serverInternal', 'badNonce']);

/** What a user can do about a CA's refusal, by problem type. */
function acmeHint(type: string | undefined, domain: string): string {
  const url = `http://${domain}/.well-known/acme-challenge/`;
  switch (type) {
    case 'connection':
      return ` The CA could not connect to ${url}: port 80 of the addresses ${domain} resolves to must reach Gasper's proxy (check firewalls and port forwarding).`;
    case 'unauthorized':
    case 'incorrectResponse':
      return ` The CA did not get the expected answer at ${url}: is another server (a CDN in proxy mode, an old host) answering for ${domain}?`;
    case 'dns':
      return ` The CA could not look up ${domain}: check its DNS records at your DNS provider.`;
    case 'caa':
      return ` A CAA record of ${domain} forbids this CA: add one that allows it (for Let's Encrypt: 0 issue "letsencrypt.org").`;
    case 'rejectedIdentifier':
    case 'unsupportedIdentifier':
      return ` The CA does not issue certificates for ${domain}.`;
    default:
      return '';
  }
}

/** Loopback, private and link-local addresses: no public DNS record should point there. */
function isPrivateAddress(address: string): boolean {
  return /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|::1$|f[cd][0-9a-f]{2}:|fe80:)/i.test(address);
}

function dnsMessage(domain: string, failure: Extract<CertificateFailure, { kind: 'dns' }>): string {
  return dnsProblem(domain, failure) + operatorHint(failure.expected);
}

/**
 * When the platform only knows private addresses for itself, the user cannot fix the records:
 * an administrator must tell it its public ones.
 */
function operatorHint(expected: readonly string[]): string {
  if (!expected.every(isPrivateAddress)) return '';
  return ' (This platform only knows private addresses for itself: an administrator sets GASPER_DNS_PROXY_ADDRESSES to its public ones.)';
}

function dnsProblem(domain: string, failure: Extract<CertificateFailure, { kind: 'dns' }>): string {
  const expected = failure.expected.join(', ');
  if (failure.lookupError) {
    return `DNS: looking up ${domain} failed (${failure.lookupError}). Its A/AAAA records should point to ${expected}.`;
  }
  if (failure.found.length === 0) {
    return `DNS: ${domain} has no A or AAAA record. Add one pointing to ${expected}.`;
  }
  const foreign = failure.found.filter((a) => !failure.expected.includes(a));
  if (foreign.length < failure.found.length) {
    return `DNS: ${domain} points to ${failure.found.join(', ')}; remove ${foreign.join(', ')}, which is not this platform (the CA may try any of them). It should point to ${expected} only.`;
  }
  return `DNS: ${domain} points to ${failure.found.join(', ')}, not to this platform. Point its A/AAAA records to ${expected}.`;
}

function verificationMessage(failure: Extract<CertificateFailure, { kind: 'verification' }>): string {
  const create = `create the TXT record ${failure.record} with the value "${failure.token}" at your DNS provider`;
  const why = ' (it proves the domain is yours: until then Gasper neither routes it nor orders its certificate)';
  if (failure.lookupError)
    return `Ownership: looking up the TXT record ${failure.record} failed (${failure.lookupError}); ${create}${why}.`;
  if (failure.found.length === 0) return `Ownership: the TXT record ${failure.record} is missing: ${create}${why}.`;
  const found = failure.found.map((v) => `"${v}"`).join(', ');
  return `Ownership: the TXT record ${failure.record} holds ${found}, not "${failure.token}": ${create}${why}.`;
}

/** Ends a CA's text (which may or may not end with a full stop) as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** The failure in words a user can act on. */
export function describeFailure(domain: string, failure: CertificateFailure): string {
  switch (failure.kind) {
    case 'dns':
      return dnsMessage(domain, failure);
    case 'verification':
      return verificationMessage(failure);
    case 'acme': {
      const type = failure.type?.startsWith(acmeError) ? failure.type.slice(acmeError.length) : failure.type;
      if (type === 'rateLimited') return `The certificate authority is rate limiting: ${sentence(failure.detail)}`;
      return `The certificate authority refused: ${sentence(failure.detail)}${acmeHint(type, domain)}`;
    }
    case 'network':
      return `Could not reach the certificate authority (${failure.code}: ${failure.message}).`;
    case 'internal':
      return `Issuing the certificate failed: ${sentence(failure.message)}`;
  }
}

function isTransient(failure: CertificateFailure): boolean {
  switch (failure.kind) {
    // DNS changes take time to spread: a record added just after the domain may show up soon.
    case 'dns':
    case 'verification':
    case 'network':
    case 'internal':
      return true;
    case 'acme': {
      const type = failure.type?.replace(acmeError, '');
      if (type && transientAcmeTypes.has(type)) return true;
      return !type && (failure.status ?? 0) >= 500;
    }
  }
}

function isRateLimit(failure: CertificateFailure): failure is Extract<CertificateFailure, { kind: 'acme' }> {
  return (
    failure.kind === 'acme' && (failure.type === `${acmeError}rateLimited` || (!failure.type && failure.status === 429))
  );
}

/**
 * Retry, wait for a rate limit, or give up; the message says what happened. When Gasper tries
 * again is said by the domain's outcome (withFailure), which also knows the sweep's later try
 * after giving up.
 */
export function planRetry(domain: string, failure: CertificateFailure, policy: RetryPolicy, now: number): RetryPlan {
  const message = describeFailure(domain, failure);
  if (isRateLimit(failure)) {
    const until = failure.retryAfter && failure.retryAfter > now ? failure.retryAfter : now + policy.rateLimitWaitMs;
    return { action: 'wait', until, message };
  }
  if (!isTransient(failure) || policy.attemptsMade + 1 >= policy.maxAttempts) return { action: 'give-up', message };
  return {
    action: 'retry',
    delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** policy.attemptsMade),
    message,
  };
}
