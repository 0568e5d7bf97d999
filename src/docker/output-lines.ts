/**
 * Turns a live multiplexed Docker stream (attach or logs of a non-TTY container: frames of an
 * 8-byte header, then the payload) into lines, in the order the frames come: one reader for both
 * streams, so that order is kept (two demuxed streams read apart may swap lines). Docker itself
 * reads a container's stdout and stderr pipes apart, so across the two the order is Docker's, not
 * necessarily the program's. A partial line is kept per stream until its end comes. Pure: fed
 * chunks, it calls `emit`.
 */
export class OutputLines {
  private pending: Buffer = Buffer.alloc(0);
  private readonly partial = { stdout: '', stderr: '' };

  constructor(private readonly emit: (line: string, stream: 'stdout' | 'stderr') => void) {}

  /** Feeds a chunk of the stream (frames may be split across chunks). */
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (offset + 8 <= this.pending.length) {
      const length = this.pending.readUInt32BE(offset + 4);
      if (offset + 8 + length > this.pending.length) break;
      const stream = this.pending[offset] === 2 ? 'stderr' : 'stdout';
      this.text(stream, this.pending.subarray(offset + 8, offset + 8 + length).toString('utf8'));
      offset += 8 + length;
    }
    this.pending = this.pending.subarray(offset);
  }

  /** The stream ended: the partial lines left are lines too. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.emit(this.partial[stream], stream);
      this.partial[stream] = '';
    }
  }

  private text(stream: 'stdout' | 'stderr', text: string): void {
    const parts = (this.partial[stream] + text).split(/\r?\n/);
    this.partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.emit(line, stream);
  }
}
