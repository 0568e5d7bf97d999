import { z } from 'zod';
import { eventSchema } from '../events/schemas.ts';
import type { ProxyOptions } from './index.ts';

/**
 * The IPC between the platform process (the cluster primary, proxy/processes.ts) and each proxy
 * process (proxy/process-entry.ts). Declared once; each side parses what it receives.
 */

/** Primary → proxy process. */
export const primaryMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('start'),
    /** Handed to `startProxy` as they are: plain data (they cross IPC), whatever options it grows. */
    options: z.custom<ProxyOptions>((v) => typeof v === 'object' && v !== null),
    logLevel: z.string(),
    /** The process's slot, 0 to N-1 (a restarted process takes the slot of the one it replaces). */
    index: z.number().int().min(0),
    /** Report each event applied to the route table ('applied'). */
    reportEvents: z.boolean(),
  }),
  /** Send this process's metrics (prom-client's JSON form) back with `id`. */
  z.object({ type: z.literal('metrics'), id: z.number().int() }),
  /** Close the proxy (connections drained as `ProxyHandle.close` does) and exit. */
  z.object({ type: z.literal('close') }),
]);
export type PrimaryMessage = z.infer<typeof primaryMessage>;

/** Proxy process → primary. */
export const processMessage = z.discriminatedUnion('type', [
  /** Loaded and listening for messages: the primary sends 'start' (one sent earlier could be lost). */
  z.object({ type: z.literal('loaded') }),
  /** Listening; `ports` holds the handle's port fields (`port`, `metricsPort`, …) as bound. */
  z.object({ type: z.literal('ready'), ports: z.record(z.string(), z.number()) }),
  z.object({ type: z.literal('failed'), error: z.string() }),
  z.object({ type: z.literal('metrics'), id: z.number().int(), metrics: z.array(z.unknown()) }),
  /** An event reached this process's route table at `at` (ms since the epoch, sub-ms precision). */
  z.object({ type: z.literal('applied'), event: eventSchema, at: z.number() }),
]);
export type ProcessMessage = z.infer<typeof processMessage>;

/** The wall clock with sub-millisecond precision, comparable between processes on one machine. */
export const preciseNow = () => performance.timeOrigin + performance.now();
