import { z } from 'zod';
import type { DomainStateEvent } from '../events/schemas.ts';

/**
 * `pending`: added, no certificate yet (once verified, the proxy routes plain HTTP and answers
 * the ACME challenge; before, it knows nothing of the name); `issued`: a certificate is stored and served;
 * `failed`: issuance failed,
 * `lastError` says why and what to do. A failed renewal keeps `issued` (the old certificate
 * still serves until `notAfter`) and sets `renewalError`.
 */
export const domainStatuses = ['pending', 'issued', 'failed'] as const;
export type DomainStatus = (typeof domainStatuses)[number];

/** What the API shows of the certificate served (the certificate itself: src/store/certificates.ts). */
export const certificateSummarySchema = z.object({
  issuer: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  /** The stored certificate's `version`: the `domain.state` event carries it, so a proxy reloads only on change. */
  version: z.string(),
});
export type CertificateSummary = z.infer<typeof certificateSummarySchema>;

/** A custom domain of an app, as Redis keeps it (key `domain(<domain>)`). */
export const domainDocumentSchema = z.object({
  /** Lowercase, ASCII (an IDN in its punycode form), no trailing dot: see core/domain-name.ts. */
  domain: z.string(),
  app: z.string(),
  /** The app incarnation it was added to: a job for a deleted-then-recreated app must not act on it. */
  appUid: z.string(),
  owner: z.string(),
  status: z.enum(domainStatuses),
  certificate: certificateSummarySchema.optional(),
  /**
   * Proof that the app's owner controls the name (tenants do not trust each other: the platform
   * answers every HTTP-01 challenge, so the CA's check alone proves nothing about who asked). Set:
   * the TXT record `_gasper-verify.<domain>` must hold `token` before the domain is routed or a
   * certificate ordered; `verifiedAt` once it did. Absent: not asked (an administrator skipped it,
   * GASPER_DOMAIN_VERIFICATION=off, or a domain added before verification existed).
   */
  verification: z.object({ token: z.string(), verifiedAt: z.string().optional() }).optional(),
  /** Why the last issuance failed, in words a user can act on. */
  lastError: z.string().optional(),
  /** Why the last renewal failed; the old certificate keeps serving meanwhile. */
  renewalError: z.string().optional(),
  /** Failed attempts since the last success (issuance or renewal), for backoff. */
  attempts: z.number().int().min(0).default(0),
  /** When the next attempt is due (ISO), after a failure or a rate limit. */
  nextAttemptAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DomainDocument = z.infer<typeof domainDocumentSchema>;

/** The event that announces a domain document: the proxy needs its app and its certificate's version only. */
export function domainStateOf(doc: DomainDocument): DomainStateEvent {
  return {
    type: 'domain.state',
    domain: doc.domain,
    app: doc.app,
    ...(doc.certificate
      ? { certificate: { version: doc.certificate.version, notAfter: doc.certificate.notAfter } }
      : {}),
  };
}

/** The TXT record that proves control of `domain`. */
export function verificationRecordName(domain: string): string {
  return `_gasper-verify.${domain}`;
}

/** Whether the proxies may route the domain (and a certificate be ordered): verified, or not asked. */
export function isVerified(doc: Pick<DomainDocument, 'verification'>): boolean {
  return !doc.verification || doc.verification.verifiedAt !== undefined;
}
