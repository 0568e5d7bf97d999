import { expect } from 'chai';
import { OutputLines } from '../../src/docker/output-lines.ts';

const frame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

describe('OutputLines', () => {
  const read = (chunks: Buffer[]) => {
    const lines: string[] = [];
    const reader = new OutputLines((line, stream) => lines.push(`${stream}:${line}`));
    for (const c of chunks) reader.push(c);
    reader.end();
    return lines;
  };

  it('keeps the order of lines across stdout and stderr', () => {
    expect(read([Buffer.concat([frame(1, 'hi\n'), frame(2, 'oops\n'), frame(1, 'bye\n')])])).to.deep.equal([
      'stdout:hi',
      'stderr:oops',
      'stdout:bye',
    ]);
  });

  it('joins a frame split across chunks, and a line split across frames', () => {
    const all = Buffer.concat([frame(1, 'hel'), frame(1, 'lo\nwor'), frame(2, 'e\r\n')]);
    expect(read([all.subarray(0, 5), all.subarray(5, 13), all.subarray(13)])).to.deep.equal([
      'stdout:hello',
      'stderr:e',
      'stdout:wor',
    ]);
  });

  it('emits a last line without its newline at the end', () => {
    expect(read([frame(1, 'a\nb')])).to.deep.equal(['stdout:a', 'stdout:b']);
  });
});
