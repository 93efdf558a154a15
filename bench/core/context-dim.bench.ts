/**
 * What the context dimension d costs (issue 13, item 6): for d = 16 … 256 encoded slots (m = 8 action-feature slots,
 * so the shared model is exact up to d = 32 and a count sketch of s = 32 slots above), per number of actions K:
 *   - a decision's core work: scoreInto over all K candidates + selectThompson + argmaxProbabilities (µs, p50);
 *   - buildPosterior, the per-refresh rebuild (ms), and learning the priors cold and as a refit (ms);
 *   - memory: the served model per action (w_a and the packed V_a) and an action's statistics as stored (bytes),
 *     with the DynamoDB write units one statistics write takes (1 WCU per KB);
 * each with its ratio to d = 16 measured in the same process.
 *
 * Run directly (`npx tsx bench/core/context-dim.bench.ts [--quick]`) or import runContextDimBench.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { learnPriors } from '../../shared/core/bandit/hyperparameters.ts';
import { packedSize } from '../../shared/core/bandit/linalg.ts';
import { buildPosterior, DEFAULT_PRIORS, sharedSketch } from '../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../shared/core/bandit/score.ts';
import { encodedStatsLength } from '../../shared/core/bandit/stats.ts';
import { argmaxProbabilities, selectThompson } from '../../shared/core/bandit/thompson.ts';
import { createRng } from '../../shared/core/random.ts';
import { machine } from '../lib/stats.ts';
import { realisticActions, time, vecWithBias } from './scoring.bench.ts';

const M = 8;
const D_VALUES = [16, 32, 64, 128, 256] as const;
const K_VALUES = [10, 100] as const;

export interface ContextDimRow {
  d: number;
  K: number;
  /** Slots the shared model sees (d, or the sketch's s). */
  sharedSlots: number;
  observations: number;
  decisionP50Us: number;
  buildMs: number;
  learnColdMs: number;
  learnRefitMs: number;
  modelBytesPerAction: number;
  statsBytesPerAction: number;
  wcuPerStatsWrite: number;
}

export interface ContextDimResult {
  machine: string;
  quick: boolean;
  rows: ContextDimRow[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function timedMs(fn: () => void, repeats: number): number {
  const out: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(out);
}

export async function runContextDimBench(opts: { quick?: boolean } = {}): Promise<ContextDimResult> {
  const quick = opts.quick ?? false;
  const rows: ContextDimRow[] = [];
  for (const K of K_VALUES) {
    for (const d of D_VALUES) {
      const r = createRng(`context-dim-${d}-${K}`);
      const observations = 3000;
      const actions = realisticActions(K, observations, r, d, M);
      const dims = { d, m: M };
      let post = buildPosterior(dims, DEFAULT_PRIORS, actions);
      const buildMs = timedMs(
        () => {
          post = buildPosterior(dims, DEFAULT_PRIORS, actions);
        },
        quick ? 1 : 3,
      );
      let learned = learnPriors(dims, {}, actions);
      const learnColdMs = timedMs(() => {
        learned = learnPriors(dims, {}, actions);
      }, 1);
      const learnRefitMs = timedMs(() => learnPriors(dims, {}, actions, learned), 1);

      const contexts = Array.from({ length: 64 }, () => vecWithBias(r, d));
      const candidates = Int32Array.from({ length: K }, (_, i) => i);
      const mean = new Float64Array(K);
      const sd = new Float64Array(K);
      const probs = new Float64Array(K);
      const chosen = new Int32Array(1);
      const rng = createRng(d * 1000 + K);
      const decision = time(
        (i) => {
          scoreInto(post, contexts[i & 63] as Float64Array, candidates, 1, mean, sd);
          selectThompson(mean, sd, K, rng, 0.05, 1, chosen);
          argmaxProbabilities(mean, sd, K, 0.05, probs);
        },
        quick ? 150 : 600,
        50_000,
      );
      rows.push({
        d,
        K,
        sharedSlots: sharedSketch(d, M).s,
        observations,
        decisionP50Us: decision.p50Us,
        buildMs,
        learnColdMs,
        learnRefitMs,
        modelBytesPerAction: 8 * (d + packedSize(d)),
        statsBytesPerAction: encodedStatsLength(d),
        wcuPerStatsWrite: Math.ceil(encodedStatsLength(d) / 1024),
      });
    }
  }
  return { machine: machine(), quick, rows };
}

export function formatContextDimBench(res: ContextDimResult): string {
  const f = (v: number, digits = 1) => v.toFixed(digits);
  const kb = (b: number) => `${f(b / 1024)} KB`;
  const lines = [
    `m = ${M} action-feature slots, 3,000 observations over the K actions (skewed popularity), default priors for the build; ${res.machine}${res.quick ? '; quick run' : ''}. "×" is the ratio to d = 16 at the same K, measured in this run.`,
    '',
    '|   K |   d | shared slots | decision p50 µs (×) | build ms (×) | learn priors cold / refit ms | served model per action | statistics per action (WCU per write) |',
    '|----:|----:|-------------:|--------------------:|-------------:|-----------------------------:|------------------------:|--------------------------------------:|',
  ];
  for (const r of res.rows) {
    const base = res.rows.find((b) => b.K === r.K && b.d === 16) as ContextDimRow;
    lines.push(
      `| ${r.K} | ${r.d} | ${r.sharedSlots}${r.sharedSlots < r.d ? ' (sketch)' : ''} | ${f(r.decisionP50Us)} (${f(r.decisionP50Us / base.decisionP50Us)}×) | ${f(r.buildMs)} (${f(r.buildMs / base.buildMs)}×) | ${f(r.learnColdMs, 0)} / ${f(r.learnRefitMs, 0)} | ${kb(r.modelBytesPerAction)} | ${kb(r.statsBytesPerAction)} (${r.wcuPerStatsWrite}) |`,
    );
  }
  lines.push(
    '',
    'Learning the priors fits the evidence of the most-observed max(10, ⌊100·32³/d³⌋) actions (`shared/core/bandit/hyperparameters.ts`), so its cost is bounded by d, not by K; before that rule, K = 100 took 3.8 s cold at d = 128 and 15.5 s at d = 256 in this benchmark. The rebuild (every refresh that sees new statistics) and the cold fit run in the request path of the container that refreshes: at d ≥ 128 with K = 100 that is a pause of 0.2 to 3 s per container, which the model snapshots of issue 14 move off the request path. The decision itself stays in the milliseconds: 0.6 ms at d = 128 and 2.6 ms at d = 256 with K = 100.',
  );
  return lines.join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const res = await runContextDimBench({ quick: process.argv.includes('--quick') });
  console.log(formatContextDimBench(res));
}
