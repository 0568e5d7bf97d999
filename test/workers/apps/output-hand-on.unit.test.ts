import { expect } from 'chai';
import { OutputHandOn, runOutputBytes } from '../../../src/workers/apps/output-hand-on.ts';

describe('OutputHandOn', () => {
  /** Pushes `lines` through a sink that takes a turn of the event loop a line (or fails on `bad…`): what it got. */
  const handOn = async (lines: string[], maxBytes: number, sink: 'slow' | 'failing' = 'slow') => {
    const got: string[] = [];
    let busy = 0;
    let overlapped = false;
    const out = new OutputHandOn(async (line) => {
      if (busy++) overlapped = true;
      await new Promise((r) => setImmediate(r));
      busy--;
      if (sink === 'failing' && line.startsWith('bad')) throw new Error('redis gone');
      got.push(line);
    }, maxBytes);
    for (const line of lines) out.push(line);
    await out.settled();
    return { got, overlapped };
  };

  const cases: { name: string; lines: string[]; maxBytes: number; sink?: 'failing'; got: string[] }[] = [
    {
      name: 'hands every line on, in order, within the limit',
      lines: ['a', 'b', 'c'],
      maxBytes: 6,
      got: ['a', 'b', 'c'],
    },
    {
      name: 'past the limit: one line says so, the rest is dropped',
      lines: ['aaa', 'bbb', 'ccc', 'ddd'],
      maxBytes: 8,
      got: ['aaa', 'bbb', '[gasper] output over 8 bytes: the rest is not kept'],
    },
    {
      name: 'counts bytes, not characters',
      lines: ['ééé', 'x'],
      maxBytes: 6,
      got: ['[gasper] output over 6 bytes: the rest is not kept'],
    },
    {
      name: 'names the limit in KiB',
      lines: ['x'.repeat(2048)],
      maxBytes: 2048,
      got: ['[gasper] output over 2 KiB: the rest is not kept'],
    },
    {
      name: 'a failing line does not stop the ones after it',
      lines: ['a', 'bad', 'c'],
      maxBytes: 100,
      sink: 'failing',
      got: ['a', 'c'],
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const { got, overlapped } = await handOn(c.lines, c.maxBytes, c.sink);
      expect(got).to.deep.equal(c.got);
      expect(overlapped, 'one call at a time').to.equal(false);
    });

  it('keeps 256 KiB by default and hands on a bounded number of lines of an endless output', async () => {
    let calls = 0;
    const out = new OutputHandOn(() => {
      calls++;
    });
    for (let i = 0; i < 200_000; i++) out.push('y');
    await out.settled();
    expect(runOutputBytes).to.equal(256 * 1024);
    expect(calls).to.equal(runOutputBytes / 2 + 1);
  });
});
