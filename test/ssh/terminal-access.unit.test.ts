import { expect } from 'chai';
import type { Role } from '../../src/core/access.ts';
import { planTerminalSession } from '../../src/ssh/terminal-access.ts';
import { parseClientMessage, terminalCloseCodes, ticketFromProtocols } from '../../src/ssh/terminal-protocol.ts';

const instance = (node: string, container: string) => ({ node, address: '127.0.0.1', port: 40000, container });
const self = { nodeId: 'n1', dockerHost: undefined };
const nodes = [{ id: 'n1' }, { id: 'n2', docker: 'tcp://10.0.0.2:2376' }, { id: 'n3' }];
const grant = (instance?: number) => ({
  user: 'alice',
  app: 'shop',
  expiresAt: 0,
  ...(instance === undefined ? {} : { instance }),
});
const alice = { name: 'alice', role: 'member' as Role };
const running = (...instances: ReturnType<typeof instance>[]) => ({ owner: 'alice', status: 'running', instances });

describe('planTerminalSession: where a redeemed ticket opens its shell, decided again at redeem time', () => {
  type Input = Parameters<typeof planTerminalSession>[0];
  const cases: Array<[string, Omit<Input, 'self' | 'nodes'>, ReturnType<typeof planTerminalSession>]> = [
    [
      'the owner, first instance, on this node: the local Docker',
      { grant: grant(), user: alice, app: running(instance('n1', 'c0'), instance('n2', 'c1')) },
      { ok: true, instance: instance('n1', 'c0'), index: 0, endpoint: undefined },
    ],
    [
      "instance 1, on another node: that node's advertised endpoint",
      { grant: grant(1), user: alice, app: running(instance('n1', 'c0'), instance('n2', 'c1')) },
      { ok: true, instance: instance('n2', 'c1'), index: 1, endpoint: 'tcp://10.0.0.2:2376' },
    ],
    [
      "an admin, in someone else's app",
      {
        grant: { ...grant(), user: 'root' },
        user: { name: 'root', role: 'admin' },
        app: running(instance('n1', 'c0')),
      },
      { ok: true, instance: instance('n1', 'c0'), index: 0, endpoint: undefined },
    ],
    [
      'the user was deleted since the ticket was issued',
      { grant: grant(), user: undefined, app: running(instance('n1', 'c0')) },
      { ok: false, code: terminalCloseCodes.forbidden, problem: 'user "alice" no longer exists' },
    ],
    [
      'the app was given to another user meanwhile',
      { grant: grant(), user: alice, app: { ...running(instance('n1', 'c0')), owner: 'bob' } },
      { ok: false, code: terminalCloseCodes.forbidden, problem: 'app "shop" not found' },
    ],
    [
      'the app was deleted',
      { grant: grant(), user: alice, app: undefined },
      { ok: false, code: terminalCloseCodes.unavailable, problem: 'app "shop" not found' },
    ],
    [
      'the app is being deleted',
      { grant: grant(), user: alice, app: { ...running(instance('n1', 'c0')), status: 'deleting' } },
      { ok: false, code: terminalCloseCodes.unavailable, problem: 'app "shop" not found' },
    ],
    [
      'the app was scaled down below the instance asked for',
      { grant: grant(1), user: alice, app: running(instance('n1', 'c0')) },
      {
        ok: false,
        code: terminalCloseCodes.unavailable,
        problem: 'app "shop" has no instance 1 (it has 1: 0..0)',
      },
    ],
    [
      'the app was stopped',
      { grant: grant(), user: alice, app: running() },
      { ok: false, code: terminalCloseCodes.unavailable, problem: 'app "shop" has no running instance' },
    ],
    [
      'the instance runs on a node that advertises no Docker endpoint',
      { grant: grant(), user: alice, app: running(instance('n3', 'c0')) },
      {
        ok: false,
        code: terminalCloseCodes.unavailable,
        problem: 'node "n3" does not advertise a Docker endpoint (GASPER_NODE_DOCKER_HOST)',
      },
    ],
  ];
  for (const [what, input, expected] of cases) {
    it(what, () => expect(planTerminalSession({ ...input, self, nodes })).to.deep.equal(expected));
  }
});

describe('ticketFromProtocols: the ticket among the WebSocket subprotocols', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    ['gasper.terminal.v1, ticket.gtt_abc', 'gtt_abc'],
    ['ticket.gtt_abc,gasper.terminal.v1', 'gtt_abc'],
    ['gasper.terminal.v1', undefined],
    ['gasper.terminal.v1, ticket.', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${JSON.stringify(expected)}`, () =>
      expect(ticketFromProtocols(header)).to.equal(expected));
  }
});

describe('parseClientMessage: control messages from the browser', () => {
  const cases: Array<[string, ReturnType<typeof parseClientMessage>]> = [
    ['{"type":"resize","cols":120,"rows":40}', { type: 'resize', cols: 120, rows: 40 }],
    ['{"type":"resize","cols":0,"rows":40}', undefined],
    ['{"type":"resize","cols":80.5,"rows":40}', undefined],
    ['{"type":"resize","cols":1001,"rows":40}', undefined],
    ['{"type":"resize","cols":80,"rows":24,"x":1}', undefined],
    ['{"type":"signal","name":"KILL"}', undefined],
    ['not json', undefined],
    ['null', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${text} → ${JSON.stringify(expected)}`, () => expect(parseClientMessage(text)).to.deep.equal(expected));
  }
});
