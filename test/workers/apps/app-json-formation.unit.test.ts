import { expect } from 'chai';
import { decideAppJsonFormation, type FormationDecision } from '../../../src/workers/apps/app-json-formation.ts';

describe("app.json formation: what the app's deploy does with it", () => {
  const formation = { web: { quantity: 2 }, worker: { quantity: 1 } };
  const said = 'app.json: formation web ×2, worker ×1';
  const cases: { name: string; input: Parameters<typeof decideAppJsonFormation>[0]; want: FormationDecision }[] = [
    { name: 'no formation: nothing, nothing said', input: { formation: {}, app: {}, firstDeploy: true }, want: {} },
    {
      name: 'first deploy, no formation of its own: asked',
      input: { formation, app: {}, firstDeploy: true },
      want: {
        ask: { web: 2, worker: 1 },
        line: `${said} asked (the app has no formation of its own): the control plane checks the quotas, places it and redeploys`,
      },
    },
    {
      name: 'instances given at creation: the app’s wins',
      input: { formation, app: { instanceCount: 1 }, firstDeploy: true },
      want: {
        line: `${said} not applied: the app has its own (instances or processes, given at creation or by PATCH), which wins`,
      },
    },
    {
      name: 'processes set by a PATCH: the app’s wins',
      input: { formation, app: { processes: { worker: 0 } }, firstDeploy: false },
      want: {
        line: `${said} not applied: the app has its own (instances or processes, given at creation or by PATCH), which wins`,
      },
    },
    {
      name: 'a later deploy of an app with the default formation: not applied (Heroku: at creation only)',
      input: { formation, app: {}, firstDeploy: false },
      want: {
        line: `${said} not applied: it applies after the app's first deploy only, as on Heroku (PATCH /apps/:name {"processes": …} to scale)`,
      },
    },
    {
      name: 'the default formation asked: nothing to do',
      input: { formation: { web: { quantity: 1 }, worker: { quantity: 0 } }, app: {}, firstDeploy: true },
      want: { line: 'app.json: formation web ×1, worker ×0: what the app runs already' },
    },
    {
      name: 'applied already (the redeploy that placed it)',
      input: { formation, app: { processes: { web: 2, worker: 1 }, formationSource: 'app.json' }, firstDeploy: false },
      want: { line: `${said}: applied (the app's processes come from app.json; PATCH processes to change them)` },
    },
    {
      name: 'asked by an earlier attempt of this deploy (a retry): not asked twice',
      input: { formation, app: { formationAsk: { processes: { web: 2 } } }, firstDeploy: true },
      want: { line: `${said}: asked already, the control plane applies it` },
    },
  ];
  for (const c of cases) it(c.name, () => expect(decideAppJsonFormation(c.input)).to.deep.equal(c.want));
});
