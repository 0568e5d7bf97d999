import { expect } from 'chai';
import { msUntilNextPeriod, periodOf, ticketPeriodMs } from '../../src/proxy/ticket-keys.ts';

describe('ticket-keys: the 12-hour periods of the shared session ticket keys (pure)', () => {
  const start = 40_000 * ticketPeriodMs;
  const rows: [number, number, number][] = [
    [start, 40_000, ticketPeriodMs],
    [start + 1, 40_000, ticketPeriodMs - 1],
    [start + ticketPeriodMs - 1, 40_000, 1],
    [start + ticketPeriodMs, 40_001, ticketPeriodMs],
  ];
  for (const [now, period, next] of rows)
    it(`${now - start} ms after a period's start: period ${period}, ${next} ms to the next`, () => {
      expect(periodOf(now)).to.equal(period);
      expect(msUntilNextPeriod(now)).to.equal(next);
    });
});
