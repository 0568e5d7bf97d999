/** All of stdin as text: a secret piped in (`< file`) never appears in argv or the shell's history. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `--token-stdin`'s token: stdin, trimmed; empty stdin is a mistake worth saying (nothing was piped in). */
export async function readTokenStdin(): Promise<string> {
  const token = (await readStdin()).trim();
  if (!token) throw new Error('--token-stdin: stdin was empty (pipe the token in: < token.txt)');
  return token;
}
