import type http from 'node:http';
import { expect } from 'chai';
import { forwardHeaders, responseHeaders } from '../../src/proxy/forward.ts';

/**
 * An IncomingMessage as far as the header functions look: `rawHeaders`, plus the parsed
 * `headers` built the way Node does (lowercased names, repeated values joined with ", ").
 */
function message(raw: [string, string][]): http.IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of raw) {
    const lower = name.toLowerCase();
    headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
  }
  return { rawHeaders: raw.flat(), headers } as unknown as http.IncomingMessage;
}

/** A flat raw header list as [name, value] pairs, for readable assertions. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

const forwardedSet = (xff: string, host: string): [string, string][] => [
  ['X-Forwarded-For', xff],
  ['X-Forwarded-Proto', 'http'],
  ['X-Forwarded-Host', host],
];

describe('forward', () => {
  describe('forwardHeaders', () => {
    const forwarded = (raw: [string, string][]) => pairs(forwardHeaders(message(raw), '203.0.113.7', 'http'));

    it('keeps end-to-end headers in order and appends the X-Forwarded set', () => {
      expect(
        forwarded([
          ['Host', 'blog.apps.test'],
          ['Accept', '*/*'],
          ['User-Agent', 'curl/8'],
        ]),
      ).to.deep.equal([
        ['Host', 'blog.apps.test'],
        ['Accept', '*/*'],
        ['User-Agent', 'curl/8'],
        ...forwardedSet('203.0.113.7', 'blog.apps.test'),
      ]);
    });

    it('drops hop-by-hop headers whatever their case', () => {
      const hopByHop: [string, string][] = [
        ['Connection', 'keep-alive'],
        ['Keep-Alive', 'timeout=5'],
        ['Proxy-Connection', 'keep-alive'],
        ['proxy-authorization', 'Basic eDp5'],
        ['Proxy-Authenticate', 'Basic'],
        ['TE', 'trailers'],
        ['Trailer', 'Expires'],
        ['Transfer-Encoding', 'chunked'],
        ['UPGRADE', 'websocket'],
      ];
      expect(forwarded([['Host', 'h'], ...hopByHop, ['Accept', '*/*']])).to.deep.equal([
        ['Host', 'h'],
        ['Accept', '*/*'],
        ...forwardedSet('203.0.113.7', 'h'),
      ]);
    });

    it("drops Expect: the proxy's server answered 100-continue itself", () => {
      expect(
        forwarded([
          ['Host', 'h'],
          ['Expect', '100-continue'],
          ['Accept', '*/*'],
        ]),
      ).to.deep.equal([['Host', 'h'], ['Accept', '*/*'], ...forwardedSet('203.0.113.7', 'h')]);
    });

    it('drops headers named in Connection, including over repeated Connection headers', () => {
      const raw: [string, string][] = [
        ['Host', 'h'],
        ['Connection', 'close, X-Secret'],
        ['Connection', 'x-other'],
        ['X-Secret', 'token'],
        ['X-Other', '1'],
        ['X-Kept', '2'],
      ];
      expect(forwarded(raw)).to.deep.equal([['Host', 'h'], ['X-Kept', '2'], ...forwardedSet('203.0.113.7', 'h')]);
    });

    it('appends the client to an existing X-Forwarded-For', () => {
      expect(
        forwarded([
          ['Host', 'h'],
          ['X-Forwarded-For', '198.51.100.1'],
        ]),
      ).to.deep.equal([['Host', 'h'], ...forwardedSet('198.51.100.1, 203.0.113.7', 'h')]);
    });

    it('joins repeated X-Forwarded-For headers in order before appending the client', () => {
      const raw: [string, string][] = [
        ['Host', 'h'],
        ['X-Forwarded-For', '1.1.1.1'],
        ['x-forwarded-for', '2.2.2.2, 3.3.3.3'],
      ];
      expect(forwarded(raw)).to.deep.equal([
        ['Host', 'h'],
        ...forwardedSet('1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.7', 'h'),
      ]);
    });

    it('replaces client-supplied X-Forwarded-Proto, -Host and -Port', () => {
      const raw: [string, string][] = [
        ['Host', 'blog.apps.test'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'bank.example.com'],
        ['X-Forwarded-Port', '443'],
      ];
      expect(forwarded(raw)).to.deep.equal([
        ['Host', 'blog.apps.test'],
        ...forwardedSet('203.0.113.7', 'blog.apps.test'),
      ]);
    });

    it('passes the given protocol', () => {
      const out = pairs(forwardHeaders(message([['Host', 'h']]), '203.0.113.7', 'https'));
      expect(out).to.deep.include(['X-Forwarded-Proto', 'https']);
    });

    it('keeps repeated headers as separate entries', () => {
      const raw: [string, string][] = [
        ['Host', 'h'],
        ['Cookie', 'a=1'],
        ['Accept', 'text/html'],
        ['Cookie', 'b=2'],
      ];
      expect(forwarded(raw)).to.deep.equal([...raw, ...forwardedSet('203.0.113.7', 'h')]);
    });
  });

  describe('responseHeaders', () => {
    it('drops hop-by-hop headers and keeps repeated ones', () => {
      const raw: [string, string][] = [
        ['Content-Type', 'text/html'],
        ['Connection', 'keep-alive'],
        ['Set-Cookie', 'a=1'],
        ['Keep-Alive', 'timeout=5'],
        ['Transfer-Encoding', 'chunked'],
        ['Set-Cookie', 'b=2'],
      ];
      expect(pairs(responseHeaders(message(raw)))).to.deep.equal([
        ['Content-Type', 'text/html'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ]);
    });

    // RFC 9110 §7.6.1: a proxy removes the fields a Connection header names, in either direction.
    it('drops headers named in Connection', () => {
      const raw: [string, string][] = [
        ['Content-Type', 'text/plain'],
        ['Connection', 'X-Internal'],
        ['X-Internal', 'secret'],
      ];
      expect(pairs(responseHeaders(message(raw)))).to.deep.equal([['Content-Type', 'text/plain']]);
    });
  });
});
