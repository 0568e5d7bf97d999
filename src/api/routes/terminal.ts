import { Router } from 'express';
import { z } from 'zod';
import { TerminalSessionStore, terminalSessionSchema } from '../../store/terminal-sessions.ts';
import { TerminalTicketStore, terminalTicketTtlMs } from '../../store/terminal-tickets.ts';
import { terminalProtocol, terminalSocketPath } from '../../ssh/terminal-protocol.ts';
import { principalOf } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { visibleApp } from '../visible.ts';

const ticketRequestSchema = z.strictObject({
  instance: z.number().int('must be an integer').min(0, 'must be 0 or more').max(999, 'must be at most 999').optional(),
});

const ticketSchema = z.object({
  ticket: z.string(),
  expiresAt: z.string(),
  /** Where the browser opens the WebSocket, on the API's own origin. */
  socket: z.string(),
  /** The WebSocket subprotocol to ask for, beside `ticket.<ticket>`. */
  protocol: z.string(),
  instance: z.number().int(),
  instances: z.array(z.object({ index: z.number().int(), node: z.string(), container: z.string() })),
});

/**
 * `/apps/:name/terminal`: the signed-in user asks for a web terminal in one of the app's
 * instances and gets a ticket the SSH service redeems once, within a minute (ssh/terminal-server.ts).
 * The API never opens the shell: it only vouches for the user, who must see the app (owner or
 * admin, as every app route) with a token that may change it (`deploy`: a shell can change anything).
 */
export function terminalRouter(deps: ApiDeps): Router {
  const tickets = new TerminalTicketStore(deps.redis);
  const sessions = new TerminalSessionStore(deps.redis);
  const router = Router();

  router.post('/:name/terminal', async (req, res) => {
    const name = req.params.name;
    const doc = await visibleApp(deps.apps, res, name);
    if (doc.status === 'deleting') throw new ApiError('APP_BUSY', `app "${name}" is being deleted`);
    const body = ticketRequestSchema.safeParse(req.body ?? {});
    if (!body.success) throw validationError(body.error);
    const count = doc.instances.length;
    if (count === 0) throw new ApiError('NO_RUNNING_INSTANCE', `app "${name}" has no running instance`);
    const instance = body.data.instance ?? 0;
    if (instance >= count) {
      throw new ApiError(
        'NO_RUNNING_INSTANCE',
        `app "${name}" has no instance ${instance} (it has ${count}: 0..${count - 1})`,
        { instance: `must be below ${count}` },
      );
    }
    const { user, tokenId } = principalOf(res);
    const { ticket, expiresAt } = await tickets.issue({
      user,
      app: name,
      instance,
      ...(req.ip ? { remote: req.ip } : {}),
      ...(tokenId !== undefined ? { tokenId } : {}),
    });
    deps.log.info({ app: name, user, instance }, 'web terminal ticket issued');
    res.status(201).json({
      ticket,
      expiresAt: new Date(expiresAt).toISOString(),
      socket: terminalSocketPath,
      protocol: terminalProtocol,
      instance,
      instances: doc.instances.map((i, index) => ({ index, node: i.node, container: i.container })),
    });
  });

  router.get('/:name/terminal/sessions', async (req, res) => {
    await visibleApp(deps.apps, res, req.params.name);
    res.json({ sessions: await sessions.list(req.params.name) });
  });

  return router;
}

const app = { name: 'the app name' };
apiRoutes.add(
  {
    method: 'post',
    path: '/apps/:name/terminal',
    summary: "A single-use ticket for a web terminal in one of the app's instances",
    description: `The ticket opens one shell within ${terminalTicketTtlMs / 1000} s: open a WebSocket to \`${terminalSocketPath}\` on the API with the subprotocols \`${terminalProtocol}\` and \`ticket.<ticket>\` (docs/guides/terminal.md). Needs a token with the \`deploy\` scope.`,
    tags: ['ssh'],
    auth: 'admin',
    params: app,
    body: ticketRequestSchema,
    responses: {
      201: { description: 'the ticket, and the instances the app has', schema: ticketSchema },
      404: { description: "no such app (or another user's)" },
      409: { description: 'the app has no running instance, or not the one asked for' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/terminal/sessions',
    summary: "The app's latest web-terminal sessions (who, which instance, start and end)",
    tags: ['ssh'],
    auth: 'admin',
    params: app,
    responses: {
      200: {
        description: 'the sessions, latest first',
        schema: z.object({ sessions: z.array(terminalSessionSchema) }),
      },
    },
  },
);
