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
  const read = (chunks: Buffer[], maxLineChars?: number) => {
    const lines: string[] = [];
    const reader = new OutputLines((line, stream) => lines.push(`${stream}:${line}`), { maxLineChars });
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

  const long = 'x'.repeat(10);
  const cases: { name: string; chunks: Buffer[]; lines: string[] }[] = [
    { name: 'a line at the limit is whole', chunks: [frame(1, `${long}\n`)], lines: [`stdout:${long}`] },
    {
      name: 'a line at the limit ending in \\r\\n is whole',
      chunks: [frame(1, `${long}\r\n`)],
      lines: [`stdout:${long}`],
    },
    {
      name: 'a longer line is cut and marked',
      chunks: [frame(1, `${long}yz\nnext\n`)],
      lines: [`stdout:${long}…`, 'stdout:next'],
    },
    {
      name: 'a long line across frames is cut once, the next line intact',
      chunks: [frame(1, 'xxxxxx'), frame(1, 'xxxxxxxx'), frame(1, 'xx\nok'), frame(1, '\n')],
      lines: [`stdout:${long}…`, 'stdout:ok'],
    },
    {
      name: 'a long last line without a newline is cut at the end',
      chunks: [frame(2, `${long}!`)],
      lines: [`stderr:${long}…`],
    },
    {
      name: "the other stream is not cut by one stream's long line",
      chunks: [frame(1, `${long}${long}`), frame(2, 'err\n'), frame(1, '\n')],
      lines: ['stderr:err', `stdout:${long}…`],
    },
  ];
  for (const c of cases) it(c.name, () => expect(read(c.chunks, 10)).to.deep.equal(c.lines));

  it('reads 10 MB of one line without a newline in bounded time: one cut line, the next intact', () => {
    const chunk = frame(1, 'y'.repeat(64 * 1024));
    const chunks = [...Array.from({ length: 160 }, () => chunk), frame(1, '\nafter\n')];
    const started = performance.now();
    const lines = read(chunks);
    expect(performance.now() - started).to.be.below(1000);
    expect(lines).to.deep.equal([`stdout:${'y'.repeat(4096)}…`, 'stdout:after']);
  });
});
