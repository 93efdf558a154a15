/**
 * What several slots cost on the request path (issue 16): per K (d = 16, m = 8, a learned posterior), one decision's
 * scoring, selection and propensities with 1, 3 and 5 slots: scoreInto for the K candidates, selectThompson (a fresh
 * draw per slot), argmaxProbabilities (every candidate's slot-1 probability) and, past slot 1, each lower slot's
 * probability given the slots above (`slotPropensities`: one more integration over the remaining candidates per
 * slot). The ratio is against one slot in the same process.
 *
 * Run directly (`npx tsx bench/core/slots.bench.ts [--quick]`) or through `npm run bench -- --only slots`.
 */
import { buildPosterior, DEFAULT_PRIORS } from '../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../shared/core/bandit/score.ts';
import { argmaxProbabilities, selectThompson, slotPropensities } from '../../shared/core/bandit/thompson.ts';
import { createRng } from '../../shared/core/random.ts';
import { type LatencyFigures, realisticActions, time, vecWithBias } from './scoring.bench.ts';

const SLOTS = [1, 3, 5] as const;

export interface SlotsBenchRow {
  K: number;
  slots: number;
  latency: LatencyFigures;
}

export function runSlotsBench(opts: { quick?: boolean } = {}): SlotsBenchRow[] {
  const budget = opts.quick ? 150 : 700;
  const rows: SlotsBenchRow[] = [];
  for (const K of [10, 100, 1000]) {
    const r = createRng(`slots-bench-${K}`);
    const post = buildPosterior({ d: 16, m: 8 }, DEFAULT_PRIORS, realisticActions(K, Math.max(3000, 5 * K), r));
    const contexts = Array.from({ length: 64 }, () => vecWithBias(r, 16));
    const candidates = Int32Array.from({ length: K }, (_, i) => i);
    const mean = new Float64Array(K);
    const sd = new Float64Array(K);
    const probs = new Float64Array(K);
    const rng = createRng(K);
    for (const slots of SLOTS) {
      const chosen = new Int32Array(slots);
      const latency = time(
        (i) => {
          scoreInto(post, contexts[i & 63]!, candidates, 1, mean, sd);
          selectThompson(mean, sd, K, rng, 0.05, slots, chosen);
          argmaxProbabilities(mean, sd, K, 0.05, probs);
          if (slots > 1) slotPropensities(mean, sd, K, 0.05, chosen, probs);
        },
        budget,
        50_000,
      );
      rows.push({ K, slots, latency });
    }
  }
  return rows;
}

export function formatSlotsBench(rows: SlotsBenchRow[]): string {
  const one = new Map(rows.filter((r) => r.slots === 1).map((r) => [r.K, r.latency.p50Us]));
  return [
    'One decision at d = 16, m = 8 on a learned posterior: scoring the K candidates, drawing the slots (a fresh Thompson draw per slot) and computing the propensities (every candidate for slot 1, then each lower slot given the slots above). µs per decision; the ratio is against one slot in the same process.',
    '',
    '| K | slots | p50 µs | p99 µs | p50 vs one slot |',
    '|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.K.toLocaleString('en-US')} | ${r.slots} | ${r.latency.p50Us.toFixed(1)} | ${r.latency.p99Us.toFixed(1)} | ${(r.latency.p50Us / one.get(r.K)!).toFixed(2)}× |`,
    ),
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  if (process.argv.includes('--help')) console.log('usage: npx tsx bench/core/slots.bench.ts [--quick]');
  else console.log(formatSlotsBench(runSlotsBench({ quick: process.argv.includes('--quick') })));
}
