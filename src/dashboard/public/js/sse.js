/**
 * An incremental parser of server-sent events (the WHATWG "event stream" format), for streams
 * read with fetch(): EventSource cannot send an Authorization header. Feed it decoded text in
 * chunks of any size; it calls `onEvent({type, data, id})` once per complete event.
 */
export function createSseParser(onEvent) {
  let buffer = '';
  let data = [];
  let type = '';
  let lastEventId = '';

  function processLine(line) {
    if (line === '') {
      if (data.length > 0) onEvent({ type: type || 'message', data: data.join('\n'), id: lastEventId });
      data = [];
      type = '';
      return;
    }
    if (line.startsWith(':')) return; // a comment: the server's keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') type = value;
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    // `retry` and unknown fields are ignored: reconnecting is the caller's decision.
  }

  return {
    push(chunk) {
      buffer += chunk;
      const breaks = /\r\n|\r|\n/g;
      let start = 0;
      let match;
      while ((match = breaks.exec(buffer)) !== null) {
        // A lone \r at the end may be the first half of a \r\n split across chunks.
        if (match[0] === '\r' && match.index === buffer.length - 1) break;
        processLine(buffer.slice(start, match.index));
        start = match.index + match[0].length;
      }
      buffer = buffer.slice(start);
    },
    /** The id of the last event seen, to resume from (`Last-Event-ID`). */
    get lastEventId() {
      return lastEventId;
    },
  };
}
