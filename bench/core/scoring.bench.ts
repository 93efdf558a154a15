/**
 * Request-path cost of the hybrid Thompson bandit, per number of actions K (d = 16 context dims, m = 8 action
 * feature dims, k = 128 shared dims, all counted after encoding, bias included):
 *   (a) scoreInto for all K candidates,
 *   (b) scoreInto + selectThompson (1 slot) + argmaxProbabilities (the logged propensities),
 *   (c) buildPosterior (the per-refresh cost, not per request),
 * and, as a baseline, K full k×k quadratic forms zᵀA0⁻¹z (z = x ⊗ c_a): what computing only the shared part of
 * each score's variance costs when it is not precomputed per action.
 *
 * Run directly (`npx tsx bench/core/scoring.bench.ts [--quick]`) or import runScoringBench.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { learnPriors } from '../../shared/core/bandit/hyperparameters.ts';
import { choleskyInPlace, inverseFromCholesky } from '../../shared/core/bandit/linalg.ts';
import { buildPosterior, DEFAULT_PRIORS, type PosteriorAction } from '../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../shared/core/bandit/score.ts';
import { addObservation, addReward, emptyStats } from '../../shared/core/bandit/stats.ts';
import { argmaxProbabilities, lastPanelCount, selectThompson } from '../../shared/core/bandit/thompson.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';
import { machine, percentile } from '../lib/stats.ts';

const D = 16;
const M = 8;
const K_VALUES = [10, 100, 1000] as const;

export interface LatencyFigures {
  p50Us: number;
  p99Us: number;
  iterations: number;
}

export interface ScoringBenchRow {
  K: number;
  d: number;
  m: number;
  observations: number;
  /** scoreInto over all K candidates. */
  score: LatencyFigures;
  /** scoreInto + selectThompson + argmaxProbabilities. */
  full: LatencyFigures;
  /** argmaxProbabilities alone (included in `full`). */
  propensities: LatencyFigures;
  /** Mean Gauss–Kronrod panels per propensity computation. */
  meanPanels: number;
  /** Largest error bound returned by argmaxProbabilities during the run. */
  maxPropensityError: number;
  /** buildPosterior, milliseconds (median of a few builds). */
  buildMs: number;
  /** Learning the priors by empirical Bayes from scratch (a cold container, or a retraining run), median ms. */
  learnColdMs: number;
  /** Refitting them from the previous fit (once the data grew 10%), median ms. */
  learnRefitMs: number;
  /** Baseline: K k×k quadratic forms zᵀA0⁻¹z. */
  naiveQuadForms: LatencyFigures;
  /** naiveQuadForms.p50 / score.p50. */
  speedupVsNaive: number;
}

export interface ScoringBenchResult {
  machine: string;
  quick: boolean;
  rows: ScoringBenchRow[];
}

export function vecWithBias(r: Rng, n: number): Float64Array {
  const v = new Float64Array(n);
  v[0] = 1;
  for (let i = 1; i < n; i++) v[i] = r.normal() * 0.5;
  return v;
}

/**
 * K actions with random features, and observations spread over them with a skewed popularity (a few actions get most
 * of the traffic, some none): 0/1 rewards from a logistic model, some arriving late through addReward.
 */
export function realisticActions(K: number, observations: number, r: Rng, d = D, m = M): PosteriorAction[] {
  const actions: PosteriorAction[] = [];
  for (let a = 0; a < K; a++) actions.push({ id: `action-${a}`, features: vecWithBias(r, m), stats: undefined });
  // The logit's spread does not grow with d: each coefficient's scale falls as 1/√d.
  const scale = 0.3 * Math.sqrt(D / d);
  const truth = new Float64Array(d * m).map(() => scale * r.normal());
  for (let t = 0; t < observations; t++) {
    const a = Math.min(K - 1, Math.floor(K * r.next() ** 2));
    const act = actions[a] as PosteriorAction;
    act.stats ??= emptyStats(d);
    const x = vecWithBias(r, d);
    let logit = -2;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < m; j++)
        logit += (truth[i * m + j] as number) * (x[i] as number) * (act.features[j] as number);
    const reward = r.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    if (reward === 1 && r.next() < 0.5) {
      addObservation(act.stats, x, 0);
      addReward(act.stats, x, 1);
    } else {
      addObservation(act.stats, x, reward);
    }
  }
  return actions;
}

/** Times `fn` repeatedly: warm-up, then samples until `budgetMs` or `maxIter`; returns per-call µs percentiles. */
export function time(fn: (i: number) => void, budgetMs: number, maxIter: number): LatencyFigures {
  const warm = Math.min(200, maxIter);
  for (let i = 0; i < warm; i++) fn(i);
  const samples: number[] = [];
  const deadline = process.hrtime.bigint() + BigInt(Math.round(budgetMs * 1e6));
  for (let i = 0; i < maxIter; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0) / 1000);
    if (t1 > deadline && samples.length >= 50) break;
  }
  samples.sort((a, b) => a - b);
  return { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), iterations: samples.length };
}

export async function runScoringBench(opts: { quick?: boolean } = {}): Promise<ScoringBenchResult> {
  const quick = opts.quick ?? false;
  const budget = quick ? 150 : 700;
  const rows: ScoringBenchRow[] = [];
  for (const K of K_VALUES) {
    const r = createRng(`scoring-bench-${K}`);
    const observations = Math.max(3000, 5 * K);
    const actions = realisticActions(K, observations, r);

    const builds: number[] = [];
    let post = buildPosterior({ d: D, m: M }, DEFAULT_PRIORS, actions);
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const t0 = process.hrtime.bigint();
      post = buildPosterior({ d: D, m: M }, DEFAULT_PRIORS, actions);
      builds.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    builds.sort((a, b) => a - b);
    const colds: number[] = [];
    const refits: number[] = [];
    let learned = learnPriors({ d: D, m: M }, {}, actions);
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const t0 = process.hrtime.bigint();
      learned = learnPriors({ d: D, m: M }, {}, actions);
      colds.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const t1 = process.hrtime.bigint();
      learnPriors({ d: D, m: M }, {}, actions, learned);
      refits.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
    colds.sort((a, b) => a - b);
    refits.sort((a, b) => a - b);

    const contexts = Array.from({ length: 64 }, () => vecWithBias(r, D));
    const candidates = Int32Array.from({ length: K }, (_, i) => i);
    const mean = new Float64Array(K);
    const sd = new Float64Array(K);
    const probs = new Float64Array(K);
    const chosen = new Int32Array(1);
    const rng = createRng(K);
    const ctx = (i: number) => contexts[i & 63] as Float64Array;

    const score = time((i) => scoreInto(post, ctx(i), candidates, 1, mean, sd), budget, 200_000);
    let panels = 0;
    let calls = 0;
    let maxErr = 0;
    const full = time(
      (i) => {
        scoreInto(post, ctx(i), candidates, 1, mean, sd);
        selectThompson(mean, sd, K, rng, 0.05, 1, chosen);
        const { maxAbsError } = argmaxProbabilities(mean, sd, K, 0.05, probs);
        if (maxAbsError > maxErr) maxErr = maxAbsError;
        panels += lastPanelCount();
        calls++;
      },
      budget,
      100_000,
    );
    // Propensities alone, on precomputed scores for each context.
    const scored = contexts.map((x) => {
      scoreInto(post, x, candidates, 1, mean, sd);
      return { mean: mean.slice(), sd: sd.slice() };
    });
    const propensities = time(
      (i) => {
        const s = scored[i & 63] as { mean: Float64Array; sd: Float64Array };
        argmaxProbabilities(s.mean, s.sd, K, 0.05, probs);
      },
      budget,
      100_000,
    );

    // Baseline: z = x ⊗ c_a, then zᵀ A0⁻¹ z with a dense k×k SPD inverse, for every action.
    const k = D * M;
    const a0 = new Float64Array(k * k);
    for (let i = 0; i < k; i++) {
      a0[i * k + i] = 1 + k;
      for (let j = 0; j < i; j++) {
        const v = 0.5 * r.next();
        a0[i * k + j] = v;
        a0[j * k + i] = v;
      }
    }
    const a0inv = new Float64Array(k * k);
    inverseFromCholesky(choleskyInPlace(a0, k), k, a0inv);
    const z = new Float64Array(k);
    const qOut = new Float64Array(K);
    const naive = time(
      (i) => {
        const x = ctx(i);
        for (let a = 0; a < K; a++) {
          const c = post.features.subarray(a * M, (a + 1) * M);
          for (let p = 0; p < D; p++) for (let q = 0; q < M; q++) z[p * M + q] = (x[p] as number) * (c[q] as number);
          let total = 0;
          for (let p = 0; p < k; p++) {
            let row = 0;
            const o = p * k;
            for (let q = 0; q < k; q++) row += (a0inv[o + q] as number) * (z[q] as number);
            total += (z[p] as number) * row;
          }
          qOut[a] = total;
        }
      },
      budget,
      K >= 1000 ? 400 : 20_000,
    );

    rows.push({
      K,
      d: D,
      m: M,
      observations,
      score,
      full,
      propensities,
      meanPanels: calls > 0 ? panels / calls : 0,
      maxPropensityError: maxErr,
      buildMs: builds[Math.floor(builds.length / 2)] as number,
      learnColdMs: colds[Math.floor(colds.length / 2)] as number,
      learnRefitMs: refits[Math.floor(refits.length / 2)] as number,
      naiveQuadForms: naive,
      speedupVsNaive: naive.p50Us / score.p50Us,
    });
  }
  return { machine: machine(), quick, rows };
}

export function formatScoringBench(res: ScoringBenchResult): string {
  const f = (v: number, digits = 1) => v.toFixed(digits);
  const lines = [
    `Hybrid Thompson bandit scoring (d = ${D}, m = ${M}, k = ${D * M}); ${res.machine}${res.quick ? '; quick run' : ''}`,
    '',
    '|     K | obs  | score p50/p99 µs | score+select+propensities p50/p99 µs | propensities p50 µs | GK panels | max prop. error | build ms | learn priors cold / refit ms | naive K·zᵀA0⁻¹z p50 µs | speedup |',
    '|------:|-----:|-----------------:|-------------------------------------:|--------------------:|----------:|----------------:|---------:|-----------------------------:|-----------------------:|--------:|',
  ];
  for (const r of res.rows) {
    lines.push(
      `| ${String(r.K).padStart(5)} | ${r.observations} | ${f(r.score.p50Us)} / ${f(r.score.p99Us)} | ${f(r.full.p50Us)} / ${f(r.full.p99Us)} | ${f(r.propensities.p50Us)} | ${f(r.meanPanels)} | ${r.maxPropensityError.toExponential(1)} | ${f(r.buildMs)} | ${f(r.learnColdMs)} / ${f(r.learnRefitMs)} | ${f(r.naiveQuadForms.p50Us)} | ${f(r.speedupVsNaive)}× |`,
    );
  }
  return lines.join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const res = await runScoringBench({ quick: process.argv.includes('--quick') });
  console.log(formatScoringBench(res));
}
