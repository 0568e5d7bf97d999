import { expect } from 'chai';
import { parseScaleArgs, unknownField } from '../../src/client/scale-args.ts';

describe('gasper scale arguments', () => {
  const ok: Array<[string[], Record<string, number>]> = [
    [['web=2'], { web: 2 }],
    [['web=2', 'worker=1'], { web: 2, worker: 1 }],
    [['3'], { web: 3 }],
    [['worker=0'], { worker: 0 }],
    [['clock_tick-2=1'], { 'clock_tick-2': 1 }],
    [[], {}],
  ];
  for (const [args, expected] of ok)
    it(`${args.join(' ') || '(none)'} → ${JSON.stringify(expected)}`, () =>
      expect(parseScaleArgs(args)).to.deep.equal(expected));

  const bad: Array<[string[], RegExp]> = [
    [['web=two'], /web=two: expected TYPE=COUNT/],
    [['web=-1'], /expected TYPE=COUNT/],
    [['=2'], /expected TYPE=COUNT/],
    [['web=1', 'web=2'], /web is given twice/],
    [['2', 'web=3'], /web is given twice/],
  ];
  for (const [args, problem] of bad)
    it(`refuses ${args.join(' ')}`, () => expect(() => parseScaleArgs(args)).to.throw(problem));

  it('knows an older API by its "unknown field" answer', () => {
    expect(unknownField({ processes: 'unknown field' }, 'processes')).to.equal(true);
    expect(unknownField({ 'processes.worker': 'no such process type' }, 'processes')).to.equal(false);
    expect(unknownField({ processes: 'at most 20' }, 'processes')).to.equal(false);
    expect(unknownField(undefined, 'processes')).to.equal(false);
  });
});
