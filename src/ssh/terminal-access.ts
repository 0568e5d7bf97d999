import { canSee, type Role } from '../core/access.ts';
import type { Instance } from '../events/schemas.ts';
import type { TerminalGrant } from '../store/terminal-tickets.ts';
import { chooseInstance, dockerEndpointFor } from './target.ts';
import { terminalCloseCodes } from './terminal-protocol.ts';

export type TerminalPlan =
  | { ok: true; instance: Instance; index: number; endpoint: string | undefined }
  | { ok: false; code: number; problem: string };

/**
 * Where a redeemed ticket's shell runs, or why it may not: decided again at redeem time, as SSH
 * decides at each login, because the minute since the ticket was issued may have deleted the
 * user, given the app to someone else or moved its instances. Owner or admin, as every app route.
 */
export function planTerminalSession(input: {
  grant: TerminalGrant;
  user: { name: string; role: Role } | undefined;
  app: { owner?: string; status: string; instances: readonly Instance[] } | undefined;
  self: { nodeId: string; dockerHost: string | undefined };
  nodes: readonly { id: string; docker?: string }[];
}): TerminalPlan {
  const { grant, user, app } = input;
  if (!user) return { ok: false, code: terminalCloseCodes.forbidden, problem: `user "${grant.user}" no longer exists` };
  if (!app || app.status === 'deleting')
    return { ok: false, code: terminalCloseCodes.unavailable, problem: `app "${grant.app}" not found` };
  if (!canSee({ user: user.name, role: user.role, scopes: [] }, app.owner))
    return { ok: false, code: terminalCloseCodes.forbidden, problem: `app "${grant.app}" not found` };
  const choice = chooseInstance(app.instances, { app: grant.app, instance: grant.instance });
  if (!choice.ok) return { ok: false, code: terminalCloseCodes.unavailable, problem: choice.problem };
  const endpoint = dockerEndpointFor(choice.instance, input.self, input.nodes);
  if (!endpoint.ok) return { ok: false, code: terminalCloseCodes.unavailable, problem: endpoint.problem };
  return {
    ok: true,
    instance: choice.instance,
    index: app.instances.indexOf(choice.instance),
    endpoint: endpoint.endpoint,
  };
}
