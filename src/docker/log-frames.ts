/**
 * Docker multiplexes stdout and stderr of a non-TTY container into frames: an 8-byte header
 * (stream type, 3 zero bytes, big-endian length) then the payload. Pure, for log tails.
 */
export function demuxDockerLog(buffer: Buffer): { stream: 'stdout' | 'stderr'; text: string }[] {
  const frames: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const length = buffer.readUInt32BE(offset + 4);
    if (type !== 1 && type !== 2) break;
    frames.push({
      stream: type === 2 ? 'stderr' : 'stdout',
      text: buffer.subarray(offset + 8, offset + 8 + length).toString('utf8'),
    });
    offset += 8 + length;
  }
  // Not multiplexed (a TTY container): the whole buffer is plain output.
  if (frames.length === 0 && buffer.length > 0) frames.push({ stream: 'stdout', text: buffer.toString('utf8') });
  return frames;
}

/** The last `count` non-empty lines of some output. */
export function lastLines(text: string, count: number): string[] {
  if (count <= 0) return [];
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-count);
}
