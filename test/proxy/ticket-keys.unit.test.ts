import { expect } from 'chai';
import { msUntilNextPeriod, ticketKeysAt, ticketPeriodMs } from '../../src/proxy/ticket-keys.ts';

describe('ticket-keys: session ticket keys every proxy derives alike (pure)', () => {
  const secret = 'ab'.repeat(32);
  const start = 40_000 * ticketPeriodMs;
  it('48 bytes, the same in every process for one secret and period', () => {
    const keys = ticketKeysAt(secret, start + 1);
    expect(keys).to.have.length(48);
    expect(ticketKeysAt(secret, start + ticketPeriodMs - 1).equals(keys)).to.equal(true);
  });
  it('other keys in the next period, and for another secret', () => {
    const keys = ticketKeysAt(secret, start);
    expect(ticketKeysAt(secret, start + ticketPeriodMs).equals(keys)).to.equal(false);
    expect(ticketKeysAt('cd'.repeat(32), start).equals(keys)).to.equal(false);
  });
  const rows: [number, number][] = [
    [start, ticketPeriodMs],
    [start + 1, ticketPeriodMs - 1],
    [start + ticketPeriodMs - 1, 1],
  ];
  for (const [now, expected] of rows)
    it(`${now - start} ms into a period: ${expected} ms to the next`, () =>
      expect(msUntilNextPeriod(now)).to.equal(expected));
});
