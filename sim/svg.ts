/**
 * A dependency-free SVG line chart: axes with round-number ticks, light grid lines, one polyline per series and a
 * legend. Enough for learning curves in the documentation; not a plotting library.
 */

export interface ChartSeries {
  readonly name: string;
  readonly values: readonly number[];
  readonly color: string;
  readonly dashed?: boolean;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** x coordinate of each point (shared by every series). */
  readonly x: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly width?: number;
  readonly height?: number;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round-number ticks (1, 2 or 5 × 10^k apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  if (v !== 0 && Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(4))}k`;
  return String(Number(v.toPrecision(4)));
}

/** Renders the chart as a standalone SVG document. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 800;
  const height = o.height ?? 460;
  const m = { left: 70, right: 190, top: 40, bottom: 55 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const all = o.series.flatMap((s) => s.values.filter(Number.isFinite));
  const xs = o.x;
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(...xs);
  const yTicks = niceTicks(Math.min(0, ...all), Math.max(...all) * 1.05);
  const y0 = yTicks[0] as number;
  const y1 = Math.max(yTicks[yTicks.length - 1] as number, Math.max(...all) * 1.05);
  const sx = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * pw;
  const sy = (v: number) => m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 8)) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top + ph}" x2="${x}" y2="${m.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(
    `<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const points = s.values
      .map((v, j) => (Number.isFinite(v) && xs[j] !== undefined ? `${sx(xs[j]).toFixed(1)},${sy(v).toFixed(1)}` : ''))
      .filter((p) => p !== '')
      .join(' ');
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${points}"/>`);
    const ly = m.top + 10 + i * 20;
    const lx = m.left + pw + 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 32}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
