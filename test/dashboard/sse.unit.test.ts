import { expect } from 'chai';

interface SseEvent {
  type: string;
  data: string;
  id: string;
}
interface SseModule {
  createSseParser(onEvent: (event: SseEvent) => void): { push(chunk: string): void; readonly lastEventId: string };
}

// A browser module, plain JavaScript: imported by URL so TypeScript does not look for its types.
const { createSseParser }: SseModule = await import(
  new URL('../../src/dashboard/public/js/sse.js', import.meta.url).href
);

function parse(chunks: string[]): { events: SseEvent[]; lastEventId: string } {
  const events: SseEvent[] = [];
  const parser = createSseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return { events, lastEventId: parser.lastEventId };
}

describe('dashboard: server-sent events parser', function () {
  it('reads what the log follow sends: ids, data, comments, the end event', function () {
    const { events, lastEventId } = parse([
      'id: 1-0\ndata: {"text":"a"}\n\n',
      ': keep-alive\n\n',
      'id: 2-0\ndata: {"text":"b"}\n\nevent: end\ndata: {"reason":"app deleted"}\n\n',
    ]);
    expect(events).to.deep.equal([
      { type: 'message', data: '{"text":"a"}', id: '1-0' },
      { type: 'message', data: '{"text":"b"}', id: '2-0' },
      { type: 'end', data: '{"reason":"app deleted"}', id: '2-0' },
    ]);
    expect(lastEventId).to.equal('2-0');
  });

  it('gives the same events however the stream is cut into chunks, with any line ending', function () {
    const stream = 'id: 7-1\r\ndata: first\r\ndata: second\r\n\r\nevent: x\rdata:no-space\r\rdata\n\n';
    const whole = parse([stream]).events;
    expect(whole).to.deep.equal([
      { type: 'message', data: 'first\nsecond', id: '7-1' },
      { type: 'x', data: 'no-space', id: '7-1' },
      { type: 'message', data: '', id: '7-1' },
    ]);
    for (let size = 1; size <= 5; size++) {
      const chunks = stream.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      expect(parse(chunks).events, `chunks of ${size}`).to.deep.equal(whole);
    }
  });

  it('waits for the blank line: a half event is not dispatched', function () {
    expect(parse(['id: 1-0\ndata: {"text":"a"}\n']).events).to.deep.equal([]);
    expect(parse(['event: end\n\n']).events).to.deep.equal([]);
  });
});
