/**
 * The run report as one self-contained HTML page (no scripts, no external resources): the outcome and its reasons,
 * an SVG chart with, per policy, the point estimate, its 95% interval and the high-confidence lower bound, and the
 * serving settings' choice (Thompson scale and multipliers on the learned λs: every grid point searched, the one
 * chosen and why).
 */
import type { EvaluationRecord, PolicySummary, SettingsChoice } from '../../core/retrain/evaluation-record.ts';

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toPrecision(4));

/** The chart: one row per policy on a shared horizontal value axis. */
export function policyChartSvg(policies: readonly PolicySummary[]): string {
  const values: number[] = [];
  for (const p of policies) {
    for (const v of [p.estimate?.value, p.estimate?.lower, p.estimate?.upper, p.lowerBound]) {
      if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
    }
  }
  const width = 640;
  const left = 170;
  const right = 30;
  const rowH = 44;
  const top = 30;
  const height = top + rowH * policies.length + 62;
  if (values.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="60" role="img"><text x="10" y="35">no estimates</text></svg>`;
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const xOf = (v: number) => left + ((v - lo) / (hi - lo)) * (width - left - right);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="estimates per policy" font-family="sans-serif" font-size="12">`,
  );
  const axisY = top + rowH * policies.length + 5;
  parts.push(`<line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="#555"/>`);
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    const x = xOf(v).toFixed(1);
    parts.push(`<line x1="${x}" y1="${axisY}" x2="${x}" y2="${axisY + 5}" stroke="#555"/>`);
    parts.push(`<text x="${x}" y="${axisY + 18}" text-anchor="middle" fill="#333">${esc(v.toPrecision(3))}</text>`);
    parts.push(`<line x1="${x}" y1="${top - 10}" x2="${x}" y2="${axisY}" stroke="#eee"/>`);
  }
  policies.forEach((p, i) => {
    const y = top + rowH * i + rowH / 2;
    parts.push(`<text x="10" y="${y + 4}" fill="#111">${esc(p.name)}</text>`);
    const e = p.estimate;
    if (e && e.lower !== null && e.upper !== null) {
      parts.push(
        `<line x1="${xOf(e.lower).toFixed(1)}" y1="${y}" x2="${xOf(e.upper).toFixed(1)}" y2="${y}" stroke="#1f77b4" stroke-width="3"><title>95% interval [${fmt(e.lower)}, ${fmt(e.upper)}]</title></line>`,
      );
    }
    if (e) {
      parts.push(
        `<circle cx="${xOf(e.value).toFixed(1)}" cy="${y}" r="5" fill="#1f77b4"><title>${esc(p.estimator)} estimate ${fmt(e.value)}</title></circle>`,
      );
    }
    if (p.lowerBound !== null) {
      const x = xOf(p.lowerBound).toFixed(1);
      parts.push(
        `<path d="M ${x} ${y - 9} L ${x} ${y + 9}" stroke="#d62728" stroke-width="2"><title>lower bound ${fmt(p.lowerBound)}</title></path>`,
      );
    }
  });
  const ly = height - 8;
  parts.push(`<circle cx="${left}" cy="${ly - 4}" r="4" fill="#1f77b4"/>`);
  parts.push(`<text x="${left + 8}" y="${ly}" fill="#333">estimate and 95% interval</text>`);
  parts.push(`<path d="M ${left + 200} ${ly - 10} L ${left + 200} ${ly + 2}" stroke="#d62728" stroke-width="2"/>`);
  parts.push(`<text x="${left + 208}" y="${ly}" fill="#333">high-confidence lower bound</text>`);
  parts.push('</svg>');
  return parts.join('');
}

const multipliers = (p: { shared: number; action: number } | undefined) =>
  p === undefined ? '×1, ×1' : `×${fmt(p.shared)}, ×${fmt(p.action)}`;

/**
 * The serving settings section: the rule's outcome in a sentence, then one row per grid point searched (Thompson
 * scale, and the multipliers on the learned λs and λa).
 */
export function settingsChoiceHtml(choice: SettingsChoice | undefined): string {
  if (!choice) return '<p>not recorded (a run from before the settings were chosen offline)</p>';
  const head =
    `<p>Scale <strong>${fmt(choice.scale)}</strong>, λs and λa <strong>${multipliers(choice.priorScale)}</strong> ` +
    `(serving now: ${fmt(choice.currentScale)}, ${multipliers(choice.currentPriorScale)}): ${esc(choice.why)}.</p>`;
  if (choice.grid.length === 0) return head;
  const isChosen = (g: SettingsChoice['grid'][number]) =>
    g.scale === choice.scale &&
    (g.priorScale?.shared ?? 1) === (choice.priorScale?.shared ?? 1) &&
    (g.priorScale?.action ?? 1) === (choice.priorScale?.action ?? 1);
  const rows = choice.grid
    .map(
      (g) =>
        `<tr${isChosen(g) ? ' class="chosen"' : ''}><td>${fmt(g.scale)}${isChosen(g) ? ' (chosen)' : ''}</td><td>${multipliers(g.priorScale)}</td>` +
        `<td>${esc(g.estimator)}</td><td>${fmt(g.estimate?.value)}</td><td>[${fmt(g.estimate?.lower)}, ${fmt(g.estimate?.upper)}]</td>` +
        `<td>${fmt(g.lowerBound)}</td><td>${fmt(g.delta)}</td><td>${fmt(g.ess)}</td></tr>`,
    )
    .join('');
  return `${head}
<table><thead><tr><th>scale</th><th>λs, λa</th><th>estimator</th><th>value</th><th>95% interval</th><th>lower bound</th><th>its δ</th><th>ESS</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function reportHtml(record: EvaluationRecord): string {
  const day = (bucket: number) => new Date(bucket * 86_400_000).toISOString().slice(0, 10);
  const rows = record.policies
    .map(
      (p) =>
        `<tr><td>${esc(p.name)}</td><td>${esc(p.estimator)}</td><td>${fmt(p.estimate?.value)}</td>` +
        `<td>[${fmt(p.estimate?.lower)}, ${fmt(p.estimate?.upper)}]</td><td>${fmt(p.lowerBound)}</td><td>${fmt(p.ess)}</td></tr>`,
    )
    .join('');
  const list = (items: readonly string[]) =>
    items.length === 0 ? '<p>none</p>' : `<ul>${items.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Retraining ${esc(record.decisionPoint)} ${esc(record.runId)}</title>
<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#111}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.promoted{color:#2a7d2a}.rejected{color:#a15c00}.failed{color:#b00020}.chosen{font-weight:bold}</style>
</head><body>
<h1>Retraining of ${esc(record.decisionPoint)}</h1>
<p>Run <code>${esc(record.runId)}</code>, model <code>${esc(record.version)}</code>: <strong class="${record.outcome}">${record.outcome}</strong></p>
<p>Trained on decisions before ${day(record.cutoffBucket)} (cutoff bucket ${record.cutoffBucket}); evaluated on ${day(record.holdoutFromBucket)} to ${day(record.cutoffBucket - 1)} (${record.rounds ?? 0} held-out decisions).
Started ${new Date(record.startedAt).toISOString()}, finished ${new Date(record.finishedAt).toISOString()}.</p>
<h2>Estimates</h2>
${policyChartSvg(record.policies)}
<table><thead><tr><th>policy</th><th>estimator</th><th>value</th><th>95% interval</th><th>lower bound</th><th>ESS</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Serving settings chosen offline</h2>
${settingsChoiceHtml(record.exploration)}
<h2>Why</h2>
${list(record.reasons)}
<h2>Warnings</h2>
${list(record.warnings)}
</body></html>
`;
}
