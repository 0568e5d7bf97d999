const svgNs = 'http://www.w3.org/2000/svg';

/** Size of one chart in SVG units; CSS scales it to the width it is given. */
export const chartSize = { width: 240, height: 56 };

/**
 * The `points` of a polyline drawing `values` left to right over `slots` equal steps (the
 * newest at the right edge, so a chart with few samples fills in from the right, as a live
 * chart does), 0 at the bottom and `max` at the top. Nulls (an instance's first reading has no
 * CPU rate yet) are skipped. Pure: unit-tested in test/dashboard/metrics-chart.unit.test.ts.
 */
export function chartPoints(values, { slots, max, width = chartSize.width, height = chartSize.height }) {
  const top = max > 0 ? max : 1;
  const step = slots > 1 ? width / (slots - 1) : 0;
  const offset = Math.max(0, slots - values.length);
  const points = [];
  values.forEach((value, index) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    const x = (offset + index) * step;
    const y = height - (Math.min(Math.max(value, 0), top) / top) * height;
    points.push(`${round(x)},${round(y)}`);
  });
  return points.join(' ');
}

const round = (n) => Math.round(n * 10) / 10;

/** The upper bound of a chart: `floor` at least, else the largest value rounded up to a tidy step. */
export function chartMax(values, floor) {
  const largest = Math.max(floor, ...values.filter((v) => typeof v === 'number' && Number.isFinite(v)));
  if (largest <= floor) return floor;
  const magnitude = 10 ** Math.floor(Math.log10(largest));
  return Math.ceil(largest / magnitude) * magnitude;
}

/**
 * One small line chart drawn by hand in SVG (no library, nothing inline that the page's CSP
 * would refuse): a frame, a polyline, and a caption with the latest value. `update` redraws it.
 */
export function createChart(label) {
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${chartSize.width} ${chartSize.height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const frame = document.createElementNS(svgNs, 'rect');
  frame.setAttribute('class', 'chart-frame');
  frame.setAttribute('width', String(chartSize.width));
  frame.setAttribute('height', String(chartSize.height));
  const line = document.createElementNS(svgNs, 'polyline');
  line.setAttribute('class', 'chart-line');
  line.setAttribute('points', '');
  // The newest reading as a dot: a line of one sample draws nothing.
  const dot = document.createElementNS(svgNs, 'circle');
  dot.setAttribute('class', 'chart-dot');
  dot.setAttribute('r', '2.5');
  svg.append(frame, line, dot);
  const caption = document.createElement('figcaption');
  const figure = document.createElement('figure');
  figure.className = 'chart-figure';
  figure.append(caption, svg);
  return {
    element: figure,
    line,
    update(values, { slots, max, text }) {
      const points = chartPoints(values, { slots, max });
      line.setAttribute('points', points);
      const [cx, cy] = (points.split(' ').at(-1) || '').split(',');
      dot.setAttribute('visibility', cx === undefined || cy === undefined ? 'hidden' : 'visible');
      if (cx !== undefined && cy !== undefined) {
        dot.setAttribute('cx', cx);
        dot.setAttribute('cy', cy);
      }
      caption.textContent = `${label}: ${text}`;
      svg.setAttribute('aria-label', `${label}, ${text}`);
    },
  };
}
