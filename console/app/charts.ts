/**
 * Line charts of the learning series, drawn with uPlot (a small, maintained canvas charting library). Each chart is
 * an image with a text alternative (its latest values) and the numbers it draws in a table under a disclosure, so
 * the figures are there for a screen reader and for copying.
 */
import uPlot from 'uplot';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
}

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v.toFixed(digits)).toString();

/**
 * A chart of `series` over `times` (seconds since the epoch) on the period `range`, with its title, text alternative
 * and data table. It takes its figure's width, and follows it when the window is resized.
 */
export function lineChart(
  title: string,
  times: number[],
  range: [number, number],
  series: Series[],
  digits = 3,
): HTMLElement {
  const figure = document.createElement('figure');
  figure.className = 'chart';
  const caption = document.createElement('figcaption');
  const h = document.createElement('h4');
  h.textContent = title;
  caption.append(h);
  figure.append(caption);

  const canvasBox = document.createElement('div');
  canvasBox.setAttribute('role', 'img');
  const last = times.length - 1;
  canvasBox.setAttribute(
    'aria-label',
    last < 0
      ? `${title}: no data yet`
      : `${title}, ${times.length} window${times.length === 1 ? '' : 's'}; latest: ${series
          .map((s) => `${s.label} ${fmt(s.values[last], digits)}`)
          .join(', ')}`,
  );
  // The key (uPlot's own legend is off: the data table below carries the values).
  const key = document.createElement('p');
  key.className = 'key';
  for (const s of series) {
    const item = document.createElement('span');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.borderTopColor = s.color;
    swatch.style.borderTopStyle = s.dash ? 'dashed' : 'solid';
    item.append(swatch, s.label);
    key.append(item);
  }
  figure.append(key, canvasBox);

  const HEIGHT = 200;
  const plot = new uPlot(
    {
      width: 300,
      height: HEIGHT,
      legend: { show: false },
      scales: { x: { time: true, range: () => range } },
      axes: [{ stroke: '#1b1f24' }, { stroke: '#1b1f24', size: 56 }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          ...(s.dash ? { dash: s.dash } : {}),
          points: { show: true, size: 6 },
          value: (_u: uPlot, v: number | null) => fmt(v, digits),
        })),
      ],
    },
    [times, ...series.map((s) => s.values)],
    canvasBox,
  );
  // The figure's content width (its padding is 0.5 rem a side), once it is laid out and whenever it changes.
  new ResizeObserver(([entry]) => {
    const width = Math.floor(entry?.contentRect.width ?? 0);
    if (width > 0 && width !== plot.width) plot.setSize({ width, height: HEIGHT });
  }).observe(figure);

  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = `Data: ${title}`;
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const label of ['Window start (UTC)', ...series.map((s) => s.label)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = label;
    head.append(th);
  }
  const body = table.createTBody();
  times.forEach((t, i) => {
    const row = body.insertRow();
    row.insertCell().textContent = new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ');
    for (const s of series) {
      const cell = row.insertCell();
      cell.className = 'num';
      cell.textContent = fmt(s.values[i], digits);
    }
  });
  details.append(summary, table);
  figure.append(details);
  return figure;
}
