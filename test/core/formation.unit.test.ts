import { expect } from 'chai';
import { freeSlotsIn } from '../../src/core/app-placement.ts';
import {
  desiredFormation,
  type FormationSource,
  formationTotal,
  isWeb,
  processOfSlots,
  processShare,
  processSlots,
  resolveFormation,
  runsWeb,
} from '../../src/core/formation.ts';
import { appContainerName, processOfContainer } from '../../src/core/naming.ts';

describe('formation', () => {
  describe('desired counts (web: instances unless processes says)', () => {
    const rows: [FormationSource, Record<string, number>, number][] = [
      [{}, { web: 1 }, 1],
      [{ instanceCount: 3 }, { web: 3 }, 3],
      [{ processes: { worker: 2 } }, { worker: 2, web: 1 }, 3],
      [{ instanceCount: 2, processes: { worker: 1, clock: 0 } }, { worker: 1, clock: 0, web: 2 }, 3],
      [{ instanceCount: 2, processes: { web: 0, worker: 1 } }, { web: 0, worker: 1 }, 1],
      [{ instanceCount: 2, processes: { web: 4 } }, { web: 4 }, 4],
    ];
    for (const [source, desired, total] of rows) {
      it(`${JSON.stringify(source)} -> ${JSON.stringify(desired)}, ${total} container(s)`, () => {
        expect(desiredFormation(source)).to.deep.equal(desired);
        expect(formationTotal(source)).to.equal(total);
      });
    }
  });

  it('orders the placement web first, then the other types by name, zeros left out', () => {
    expect(processOfSlots({ instanceCount: 2, processes: { worker: 1, clock: 1, idle: 0 } })).to.deep.equal([
      'web',
      'web',
      'clock',
      'worker',
    ]);
    expect(processOfSlots({ processes: { web: 0, worker: 2 } })).to.deep.equal(['worker', 'worker']);
  });

  describe('placement of process types', () => {
    // web ×2, worker ×2 over nodes a and b: indices 0,1 web; 2,3 worker.
    const app = { instanceCount: 2, processes: { worker: 2 } };
    const placement = ['a', 'b', 'b', 'a'];
    const rows: [string, string, number[]][] = [
      ['a', 'web', [0]],
      ['b', 'web', [1]],
      ['a', 'worker', [3]],
      ['b', 'worker', [2]],
      ['c', 'web', []],
      ['a', 'clock', []],
    ];
    for (const [node, type, offsets] of rows) {
      it(`${type} on ${node}: slots ${JSON.stringify(offsets)}`, () => {
        expect(processSlots(placement, app, node, type)).to.deep.equal({ offsets, stride: 4 });
        expect(processShare(placement, app, node, type)).to.equal(offsets.length);
      });
    }

    it('never gives two types or two nodes the same slot, in any round', () => {
      const all = ['a', 'b'].flatMap((node) =>
        ['web', 'worker'].flatMap((type) => freeSlotsIn(processSlots(placement, app, node, type), new Set(), 3)),
      );
      expect(new Set(all).size).to.equal(all.length);
    });

    it('reads a placement from before process types as web only', () => {
      expect(processSlots(['a', 'a'], { instanceCount: 2 }, 'a', 'web').offsets).to.deep.equal([0, 1]);
    });
  });

  describe('what a release runs', () => {
    const rows: [string, string[], FormationSource, Record<string, number>, string[]][] = [
      ['no Procfile: web only', ['web'], {}, { web: 1 }, ['processes: web ×1']],
      [
        'Heroku default: the worker runs 0 until asked',
        ['web', 'worker'],
        { instanceCount: 2 },
        { web: 2, worker: 0 },
        [
          'processes: web ×2',
          'declared but scaled to 0: worker (PATCH /apps/:name {"processes": {"worker": 1}} to run it)',
        ],
      ],
      [
        'scaled worker, release is no process type',
        ['release', 'worker', 'web'],
        { processes: { worker: 2 } },
        { web: 1, worker: 2 },
        ['processes: web ×1, worker ×2'],
      ],
      [
        'worker only',
        ['worker'],
        { processes: { worker: 1 } },
        { worker: 1 },
        ['processes: worker ×1', 'no web process: nothing answers HTTP, the proxy answers 503 "no web process"'],
      ],
      [
        'a type asked for that the release does not declare',
        ['web'],
        { processes: { clock: 1 } },
        { web: 1 },
        ['processes: web ×1', 'asked for but not declared by this release: clock (none run)'],
      ],
      [
        'web scaled to 0',
        ['web', 'worker'],
        { processes: { web: 0, worker: 1 } },
        { web: 0, worker: 1 },
        [
          'processes: worker ×1',
          'declared but scaled to 0: web (PATCH /apps/:name {"processes": {"web": 1}} to run it)',
        ],
      ],
    ];
    for (const [title, declared, source, counts, lines] of rows) {
      it(title, () => {
        const resolved = resolveFormation(declared, source);
        expect(resolved.counts).to.deep.equal(counts);
        expect(Object.keys(resolved.counts)[0]).to.equal(declared.includes('web') ? 'web' : Object.keys(counts)[0]);
        expect(resolved.lines).to.deep.equal(lines);
      });
    }
  });

  it('tells whether a release runs web, and which instances are web', () => {
    expect(runsWeb(undefined)).to.equal(true);
    expect(runsWeb({ web: 2, worker: 1 })).to.equal(true);
    expect(runsWeb({ web: 0, worker: 1 })).to.equal(false);
    expect(runsWeb({ worker: 1 })).to.equal(false);
    expect(isWeb({})).to.equal(true);
    expect(isWeb({ process: 'web' })).to.equal(true);
    expect(isWeb({ process: 'worker' })).to.equal(false);
  });

  it('names containers with their type, and reads the type back from the name', () => {
    const rows: [string | undefined, string][] = [
      [undefined, 'gasper-i1-my-worker-app-r000003-2'],
      ['web', 'gasper-i1-my-worker-app-r000003-2'],
      ['worker', 'gasper-i1-my-worker-app-r000003-worker-2'],
      ['queue-2', 'gasper-i1-my-worker-app-r000003-queue-2-12'],
    ];
    for (const [type, name] of rows) {
      expect(appContainerName('i1', 'my-worker-app', 'r000003', name.endsWith('12') ? 12 : 2, type)).to.equal(name);
      expect(processOfContainer(name, 'r000003')).to.equal(type ?? 'web');
    }
    expect(processOfContainer('unrelated', 'r000001')).to.equal('web');
  });
});
