import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.ts';

export interface SignedBodyOptions {
  /** The webhook secret the body is signed with. */
  secret: string;
  /** `sha256=<64 hex digits>`, as X-Hub-Signature-256 carries it (checked well-formed before). */
  signature: string;
  /** Most bytes read; a longer body is refused (413) without reading the rest. */
  maxBytes: number;
}

/**
 * Reads a webhook body while computing its HMAC-SHA256, and answers it only when the
 * signature matches (compared in constant time). At most `maxBytes` are ever held: a declared
 * Content-Length over it is refused before reading anything, a longer stream as soon as it
 * passes it, so an unsigned 24 MB body costs no memory. The caller's response should carry
 * `Connection: close`, so Node closes the socket instead of reading the rest of a refused body.
 * GitHub sends bodies uncompressed; any Content-Encoding is refused (415).
 */
export function readSignedBody(req: IncomingMessage, options: SignedBodyOptions): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    return Promise.reject(
      new ApiError(
        'UNSUPPORTED_MEDIA_TYPE',
        `unsupported Content-Encoding "${encoding}"; GitHub sends webhook bodies uncompressed`,
      ),
    );
  }
  const tooLarge = () =>
    new ApiError(
      'PAYLOAD_TOO_LARGE',
      `the webhook payload is over ${options.maxBytes} bytes (GASPER_WEBHOOK_MAX_BYTES)`,
    );
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > options.maxBytes) return Promise.reject(tooLarge());

  return new Promise((resolve, reject) => {
    const hmac = crypto.createHmac('sha256', options.secret);
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err?: ApiError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (err) {
        req.pause();
        reject(err);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBytes) return stop(tooLarge());
      hmac.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      const expected = Buffer.from(options.signature.slice('sha256='.length), 'hex');
      if (!crypto.timingSafeEqual(hmac.digest(), expected)) {
        reject(new ApiError('UNAUTHORIZED', 'X-Hub-Signature-256 does not match the body and the webhook secret'));
        return;
      }
      resolve(Buffer.concat(chunks, size));
    };
    const onError = () => stop(new ApiError('BAD_REQUEST', 'the request body ended before it was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
