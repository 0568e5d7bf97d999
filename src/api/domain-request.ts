import net from 'node:net';
import { z } from 'zod';
import { checkDomainName } from '../core/domain-name.ts';
import { type DomainDocument, verificationRecordName } from '../store/domain-document.ts';

/**
 * `POST /apps/:name/domains`: the name as typed; the value parsed is its stored form (lowercase,
 * punycode for an IDN, no trailing dot). The platform-zone rule needs configuration and is the
 * route's (core/domain-name.ts `platformZoneProblem`).
 */
export const addDomainRequest = z.strictObject({
  domain: z
    .string()
    .max(1024, 'must be at most 253 characters')
    .transform((value, ctx) => {
      const check = checkDomainName(value);
      if (check.ok) return check.domain;
      ctx.addIssue({ code: 'custom', message: check.problem });
      return z.NEVER;
    })
    .meta({ description: 'a DNS name you control, e.g. `shop.example.com` (an IDN is stored in punycode)' }),
  skipVerification: z.boolean().optional().meta({
    description:
      'administrators only: route the domain at once, without the TXT ownership proof (the administrator vouches for it)',
  }),
});

/** The TXT record that proves ownership, while it is awaited. */
export const verificationViewSchema = z.object({
  type: z.literal('TXT'),
  name: z.string(),
  value: z.string(),
  verifiedAt: z.string().optional(),
});

/** What the API shows of a domain: the certificate summary flattened, never the version. */
export function domainView(doc: DomainDocument) {
  return {
    domain: doc.domain,
    app: doc.app,
    status: doc.status,
    issuer: doc.certificate?.issuer,
    notBefore: doc.certificate?.notBefore,
    notAfter: doc.certificate?.notAfter,
    ...(doc.verification
      ? {
          verification: {
            type: 'TXT' as const,
            name: verificationRecordName(doc.domain),
            value: doc.verification.token,
            ...(doc.verification.verifiedAt ? { verifiedAt: doc.verification.verifiedAt } : {}),
          },
        }
      : {}),
    lastError: doc.lastError,
    renewalError: doc.renewalError,
    attempts: doc.attempts,
    nextAttemptAt: doc.nextAttemptAt,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export const domainViewSchema = z.object({
  domain: z.string(),
  app: z.string(),
  status: z.enum(['pending', 'issued', 'failed']),
  issuer: z.string().optional(),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  verification: verificationViewSchema.optional().meta({
    description:
      "the TXT record that proves the domain is its adder's: until `verifiedAt`, it is neither routed nor certified. Absent: not asked",
  }),
  lastError: z
    .string()
    .optional()
    .meta({ description: 'why it is not verified yet, why issuance failed, or that certificates are off; what to do' }),
  renewalError: z
    .string()
    .optional()
    .meta({ description: 'why the last renewal failed; the old certificate still serves' }),
  attempts: z.number(),
  nextAttemptAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** The DNS records that point a custom domain at the platform. */
export interface DnsAdvice {
  /** A/AAAA records to the proxy's addresses: works for any name, including a zone apex. */
  records: { type: 'A' | 'AAAA'; name: string; value: string }[];
  /** Or, for a name that is not a zone apex: a CNAME to the app's own name. */
  cname?: { type: 'CNAME'; name: string; value: string };
}

export const dnsAdviceSchema = z.object({
  records: z.array(z.object({ type: z.enum(['A', 'AAAA']), name: z.string(), value: z.string() })),
  cname: z.object({ type: z.literal('CNAME'), name: z.string(), value: z.string() }).optional(),
});

/** Records for `domain` → the app: A/AAAA per proxy address, and a CNAME to `<app>.<zone>` unless the zone is local. */
export function dnsAdvice(domain: string, app: string, zone: string, addresses: readonly string[]): DnsAdvice {
  const records = addresses.map((value) => ({
    type: net.isIPv6(value) ? ('AAAA' as const) : ('A' as const),
    name: domain,
    value,
  }));
  const local = zone === 'localhost' || zone.endsWith('.localhost');
  return { records, ...(local ? {} : { cname: { type: 'CNAME', name: domain, value: `${app}.${zone}` } }) };
}
