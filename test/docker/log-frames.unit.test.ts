import { expect } from 'chai';
import { demuxDockerLog, lastLines } from '../../src/docker/log-frames.ts';

/** One multiplexed frame: stream type, three zero bytes, big-endian payload length, payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('docker-logs', () => {
  describe('demuxDockerLog', () => {
    it('splits multiplexed frames by stream, in order', () => {
      const buffer = Buffer.concat([
        frame(1, 'listening on 8080\n'),
        frame(2, 'warn: ✗ deprecated\n'),
        frame(1, 'ok\n'),
      ]);
      expect(demuxDockerLog(buffer)).to.deep.equal([
        { stream: 'stdout', text: 'listening on 8080\n' },
        { stream: 'stderr', text: 'warn: ✗ deprecated\n' },
        { stream: 'stdout', text: 'ok\n' },
      ]);
    });

    it('reads a frame whose payload is longer than 255 bytes', () => {
      const long = 'x'.repeat(70_000);
      expect(demuxDockerLog(frame(2, long))).to.deep.equal([{ stream: 'stderr', text: long }]);
    });

    it('ignores a trailing partial header', () => {
      const buffer = Buffer.concat([frame(1, 'a\n'), Buffer.from([1, 0, 0])]);
      expect(demuxDockerLog(buffer)).to.deep.equal([{ stream: 'stdout', text: 'a\n' }]);
    });

    const plain = ['npm start\n> server listening\n', 'hi\n', 'a longer line of TTY output\r\n'];
    for (const text of plain) {
      it(`treats plain TTY output ${JSON.stringify(text)} as one stdout chunk`, () => {
        expect(demuxDockerLog(Buffer.from(text))).to.deep.equal([{ stream: 'stdout', text }]);
      });
    }

    it('returns nothing for an empty buffer', () => {
      expect(demuxDockerLog(Buffer.alloc(0))).to.deep.equal([]);
    });
  });

  describe('lastLines', () => {
    const cases: [string, string, number, string[]][] = [
      ['the last lines', 'a\nb\nc\nd\n', 2, ['c', 'd']],
      ['all lines when there are fewer', 'a\nb', 5, ['a', 'b']],
      ['no blank or whitespace-only lines', 'a\n\n   \nb\n\n', 5, ['a', 'b']],
      ['lines split on CRLF', 'a\r\nb\r\nc', 2, ['b', 'c']],
      ['nothing for empty text', '', 3, []],
      ['nothing when asked for none', 'a\nb', 0, []],
    ];
    for (const [what, text, count, expected] of cases) {
      it(`returns ${what}`, () => {
        expect(lastLines(text, count)).to.deep.equal(expected);
      });
    }
  });
});
