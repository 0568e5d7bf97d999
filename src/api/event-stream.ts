import type { Response } from 'express';

/**
 * The life of one server-sent event stream that follows something (an app's logs, its metrics):
 * the headers, its end when the client goes away or the API shuts down, and the wait between
 * deliveries, which a delivery cuts short (`wake`) and which, after a quiet period, lets the
 * follower check that what it follows still exists and send a keep-alive. What is sent and how a
 * slow client is handled stay with each follower.
 */
export class EventStream {
  #open = true;
  #wake: (() => void) | undefined;

  constructor(
    private readonly res: Response,
    private readonly shutdown?: AbortSignal,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // The connection ends with the stream, so closing the API never waits on it going idle.
      connection: 'close',
    });
    res.flushHeaders();
    res.on('close', this.#stop);
    shutdown?.addEventListener('abort', this.#stop);
  }

  /** False once the client went away, the API is shutting down, or `end` was called. */
  get open(): boolean {
    return this.#open;
  }

  /** Cuts the current wait short: something arrived. */
  wake(): void {
    this.#wake?.();
  }

  /** Waits until `wake`, the stream's end or `quietMs`; true unless the wait was quiet. */
  async wait(quietMs: number): Promise<boolean> {
    if (!this.#open) return true;
    let timer: NodeJS.Timeout | undefined;
    const woken = await new Promise<boolean>((resolve) => {
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), quietMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
    return woken;
  }

  /** Ends the response and lets go of its listeners; harmless twice. */
  end(): void {
    this.#open = false;
    this.res.off('close', this.#stop);
    this.shutdown?.removeEventListener('abort', this.#stop);
    this.res.end();
  }

  readonly #stop = () => {
    this.#open = false;
    this.#wake?.();
  };
}

/** The event that ends a follow, with why. */
export function endEvent(reason: 'app deleted' | 'access revoked'): string {
  return `event: end\ndata: ${JSON.stringify({ reason })}\n\n`;
}

/** The event that ends a follow whose app was deleted. */
export const appDeletedEvent = endEvent('app deleted');
