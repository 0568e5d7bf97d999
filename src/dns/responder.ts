import { AnswerCache } from './answer-cache.ts';
import { respondToMessage } from './packets.ts';
import { assembleResponse, emptyQueryView, parseQuery } from './wire.ts';
import type { Zone } from './zone.ts';

/**
 * Turns one DNS message into its response bytes, for UDP and TCP alike: ordinary queries
 * through the fast path (cached encoded answers), the rest through dns2. Undefined means the
 * message is dropped. Call zoneChanged() after every change to the zone.
 */
export class Responder {
  private readonly cache: AnswerCache;
  /** Reused for every message: answering is synchronous, so one view is never shared. */
  private readonly view = emptyQueryView();

  constructor(private readonly zone: Zone) {
    this.cache = new AnswerCache(zone);
  }

  answer(message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    const q = this.view;
    const fast = parseQuery(message, q)
      ? assembleResponse(message, q, this.cache.get(message, q), transport)
      : undefined;
    return fast ?? respondToMessage(message, this.zone, transport);
  }

  zoneChanged(): void {
    this.cache.clear();
  }
}
