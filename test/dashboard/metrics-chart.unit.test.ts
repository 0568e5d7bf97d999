import { expect } from 'chai';

interface ChartModule {
  chartPoints(
    values: (number | null)[],
    options: { slots: number; max: number; width?: number; height?: number },
  ): string;
  chartMax(values: (number | null)[], floor: number): number;
}

// A browser module, plain JavaScript: imported by URL so TypeScript does not look for its types.
const { chartPoints, chartMax }: ChartModule = await import(
  new URL('../../src/dashboard/public/js/metrics-chart.js', import.meta.url).href
);

describe('dashboard metrics chart (pure SVG geometry)', function () {
  const size = { width: 100, height: 50 };
  const cases: [string, (number | null)[], number, number, string][] = [
    ['no samples draw nothing', [], 3, 100, ''],
    ['a full chart spans the width, 0 at the bottom, max at the top', [0, 50, 100], 3, 100, '0,50 50,25 100,0'],
    ['few samples fill in from the right', [10], 3, 100, '100,45'],
    ['nulls are skipped, their slot kept', [null, 100], 3, 100, '100,0'],
    ['values are clamped to the chart', [-5, 250], 2, 100, '0,50 100,0'],
    ['a zero max does not divide by zero', [0], 1, 0, '0,50'],
  ];
  for (const [label, values, slots, max, want] of cases) {
    it(label, function () {
      expect(chartPoints(values, { slots, max, ...size })).to.equal(want);
    });
  }
  it('chartMax: the floor, or the largest value rounded up to a tidy step', function () {
    expect(chartMax([], 100)).to.equal(100);
    expect(chartMax([20, null, 90], 100)).to.equal(100);
    expect(chartMax([130], 100)).to.equal(200);
    expect(chartMax([1234], 100)).to.equal(2000);
  });
});
