import { z } from 'zod';

/**
 * The web terminal's wire protocol, shared by the SSH service's listener, the API that forwards
 * to it and (by hand, in plain JS) the dashboard's terminal view:
 *
 * - the browser opens `ws(s)://<API>/terminal` asking for two subprotocols: `gasper.terminal.v1`
 *   and `ticket.<ticket>` (the ticket from `POST /apps/:name/terminal`), so the ticket travels in
 *   a header, never in a URL that logs and histories keep; the server answers with the first;
 * - binary frames carry the terminal's bytes, both ways (UTF-8 is the shell's business: bytes
 *   pass unchanged, and xterm.js decodes a character split across frames);
 * - text frames carry JSON control messages: the client's `resize`; the server's `ready`,
 *   `exit` and `error`;
 * - the server closes with 1000 after the shell exits, or with one of `terminalCloseCodes`.
 */
export const terminalProtocol = 'gasper.terminal.v1';
export const terminalSocketPath = '/terminal';
export const ticketProtocolPrefix = 'ticket.';

/** Close codes in the range applications may use (4000–4999), named for the HTTP status they mirror. */
export const terminalCloseCodes = {
  /** The subprotocol or the ticket is missing, unknown, used or expired. */
  refused: 4401,
  /**
   * The user may no longer reach the app (deleted user, app given away, token revoked), at the
   * start or during the session.
   */
  forbidden: 4403,
  /** The app, its instance, or its node's Docker endpoint is gone. */
  unavailable: 4404,
  /** The shell could not be started. */
  failed: 4500,
  /** The SSH service is stopping. */
  stopping: 4503,
} as const;

export const terminalResizeSchema = z.strictObject({
  type: z.literal('resize'),
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});
export const terminalClientMessageSchema = z.discriminatedUnion('type', [terminalResizeSchema]);
export type TerminalClientMessage = z.infer<typeof terminalClientMessageSchema>;

export type TerminalServerMessage =
  | { type: 'ready'; app: string; instance: number; node: string; container: string }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string };

/** The ticket among the subprotocols a client asked for (`Sec-WebSocket-Protocol`), if any. */
export function ticketFromProtocols(header: string | undefined): string | undefined {
  for (const protocol of (header ?? '').split(',')) {
    const p = protocol.trim();
    if (p.startsWith(ticketProtocolPrefix) && p.length > ticketProtocolPrefix.length)
      return p.slice(ticketProtocolPrefix.length);
  }
  return undefined;
}

/** A client's text frame as a control message, or undefined for anything else (ignored). */
export function parseClientMessage(text: string): TerminalClientMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = terminalClientMessageSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
