import { expect } from 'chai';
import {
  LineBuffer,
  maxLineLength,
  parseTimedLine,
  sinceParameter,
  timestampNanos,
} from '../../../src/workers/observe/log-lines.ts';

describe('log-lines', () => {
  describe('parseTimedLine', () => {
    const cases: [string, { timestamp: string; text: string }][] = [
      ['2024-05-01T10:00:00.123456789Z GET / 200', { timestamp: '2024-05-01T10:00:00.123456789Z', text: 'GET / 200' }],
      ['2024-05-01T10:00:00Z  two spaces kept', { timestamp: '2024-05-01T10:00:00Z', text: ' two spaces kept' }],
      ['2024-05-01T10:00:00.5+02:00 offset', { timestamp: '2024-05-01T10:00:00.5+02:00', text: 'offset' }],
      ['2024-05-01T10:00:00.1Z ', { timestamp: '2024-05-01T10:00:00.1Z', text: '' }],
      ['no timestamp here', { timestamp: 'FALLBACK', text: 'no timestamp here' }],
      ['2024-05-01 10:00:00 not rfc3339', { timestamp: 'FALLBACK', text: '2024-05-01 10:00:00 not rfc3339' }],
    ];
    for (const [raw, expected] of cases) {
      it(`reads ${JSON.stringify(raw)}`, () => expect(parseTimedLine(raw, 'FALLBACK')).to.deep.equal(expected));
    }

    it('cuts a line longer than the limit, and says so with the bytes cut', () => {
      const line = parseTimedLine(`2024-05-01T10:00:00Z ${'x'.repeat(maxLineLength + 10)}`, '');
      expect(Buffer.byteLength(line.text)).to.be.at.most(maxLineLength);
      const mark = /… \[truncated ([\d,]+) bytes\]$/.exec(line.text)!;
      expect(line.text.length - mark[0].length + Number(mark[1]!.replace(/,/g, ''))).to.equal(maxLineLength + 10);
    });

    it('never cuts inside a UTF-8 character', () => {
      const text = parseTimedLine('é'.repeat(1000), '', 300).text;
      expect(Buffer.byteLength(text)).to.be.at.most(300);
      expect(text).to.not.include('\ufffd');
      expect(text).to.match(/^é+… \[truncated [\d,]+ bytes\]$/);
    });
  });

  describe('timestampNanos and sinceParameter', () => {
    it('keeps nanoseconds that Date would lose, so lines of one millisecond stay ordered', () => {
      const a = timestampNanos('2024-05-01T10:00:00.000000001Z')!;
      const b = timestampNanos('2024-05-01T10:00:00.000000002Z')!;
      expect(b - a).to.equal(1n);
      expect(timestampNanos('2024-05-01T10:00:00Z')).to.equal(BigInt(Date.UTC(2024, 4, 1, 10)) * 1_000_000n);
    });

    it('reads short fractions as fractions, not nanoseconds', () => {
      expect(timestampNanos('1970-01-01T00:00:01.5Z')).to.equal(1_500_000_000n);
      expect(timestampNanos('1970-01-01T02:00:01.5+02:00')).to.equal(1_500_000_000n);
    });

    it('rejects what is not a timestamp', () => {
      expect(timestampNanos('yesterday')).to.equal(undefined);
      expect(timestampNanos('2024-13-45T10:00:00Z')).to.equal(undefined);
    });

    it("formats Docker's `since` as seconds.nanoseconds", () => {
      expect(sinceParameter(1_714_557_600_000_000_007n)).to.equal('1714557600.000000007');
      expect(sinceParameter(timestampNanos('2024-05-01T10:00:00.25Z')!)).to.equal('1714557600.250000000');
    });
  });

  describe('LineBuffer', () => {
    it('joins lines split across chunks and keeps the partial last line', () => {
      const buffer = new LineBuffer();
      expect(buffer.push('first\nsec')).to.deep.equal(['first']);
      expect(buffer.push('ond\r\nthird\n')).to.deep.equal(['second', 'third']);
      expect(buffer.push('tail')).to.deep.equal([]);
      expect(buffer.flush()).to.deep.equal(['tail']);
      expect(buffer.flush()).to.deep.equal([]);
    });

    it('keeps empty lines', () => {
      expect(new LineBuffer().push('a\n\nb\n')).to.deep.equal(['a', '', 'b']);
    });

    it('keeps only the head of an endless line, counts the rest, and ends it as one marked line', () => {
      const buffer = new LineBuffer(1000);
      for (let i = 0; i < 100; i++) expect(buffer.push('y'.repeat(10_000))).to.deep.equal([]);
      const [line, next] = buffer.push('yy\nnext\n');
      expect(Buffer.byteLength(line!)).to.be.at.most(1000);
      expect(line).to.match(/^y+… \[truncated 999,\d{3} bytes\]$/);
      expect(next).to.equal('next');
      expect(buffer.push('z'.repeat(5000))).to.deep.equal([]);
      expect(buffer.flush()[0]).to.match(/^z+… \[truncated 4,\d{3} bytes\]$/);
    });
  });
});
