import { encodeAnswer } from './packets.ts';
import { nameText, sameName, wireName, type EncodedAnswer, type QueryView } from './wire.ts';
import { answerQuery, type Zone } from './zone.ts';

interface Entry extends EncodedAnswer {
  name: Buffer;
  qtype: number;
  qclass: number;
  /** The next entry whose key hashed the same. */
  next: Entry | undefined;
}

/**
 * Encoded answers by (name, type, class), filled on first ask and dropped whenever the zone
 * changes. A hit costs a hash already computed while parsing and one byte comparison of the
 * name: no strings, no dns2. Bounded, so a flood of random names cannot grow it without end.
 */
export class AnswerCache {
  private entries = new Map<number, Entry>();
  private count = 0;

  constructor(
    private readonly zone: Zone,
    private readonly maxEntries = 20_000,
  ) {}

  get(msg: Buffer, q: QueryView): EncodedAnswer {
    for (let e = this.entries.get(q.hash); e; e = e.next) {
      if (e.qtype === q.qtype && e.qclass === q.qclass && sameName(msg, q.nameEnd, e.name)) return e;
    }
    return this.fill(msg, q);
  }

  clear(): void {
    this.entries = new Map();
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }

  private fill(msg: Buffer, q: QueryView): Entry {
    const name = nameText(msg, q.nameEnd);
    const answer = answerQuery({ name, type: q.qtype, class: q.qclass }, this.zone);
    if (this.count >= this.maxEntries) this.clear();
    const entry: Entry = {
      ...encodeAnswer(name, q.qtype, q.qclass, answer),
      name: wireName(msg, q.nameEnd),
      qtype: q.qtype,
      qclass: q.qclass,
      next: this.entries.get(q.hash),
    };
    this.entries.set(q.hash, entry);
    this.count++;
    return entry;
  }
}
