import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { syntheticActionFeatures, TRUE_VALUE } from '../../bench/retrain/synthetic-log.ts';
import { fitModel } from '../../shared/app/retrain/fit.ts';
import { aggregateRecords } from '../../shared/app/retrain/join-bucket.ts';
import type { RunParams } from '../../shared/app/retrain/run-context.ts';
import { buildPosterior, DEFAULT_PRIORS } from '../../shared/core/bandit/posterior.ts';
import { addObservation, emptyStats, statsEqual } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { effectiveSampleSize } from '../../shared/core/importance.ts';
import {
  addWeighted,
  decisionWeight,
  emptyWeighted,
  finalizeWeighted,
  mergeWeighted,
} from '../../shared/core/retrain/weighting.ts';
import { DAY, runParams, syntheticRecords, T0 } from './support.ts';

/** Posterior mean value of each action over the log's own contexts (the model is linear: x̄ᵀ w_a). */
function fittedValues(run: RunParams, skew: number, weighting: RunParams['weighting']): { A: number; B: number } {
  const records = syntheticRecords({
    decisionPoint: 'dp',
    startMs: T0,
    days: 2,
    perDay: 15_000,
    contextDim: run.contextDim,
    actionDim: run.actionDim,
    skew,
    seed: 11,
  });
  const r = { ...run, weighting };
  const agg = aggregateRecords(r, records);
  const { model } = fitModel(r, agg, []);
  const stats = model.objectives.get(DEFAULT_OBJECTIVE)!.final;
  const post = buildPosterior(
    { d: r.contextDim, m: r.actionDim },
    DEFAULT_PRIORS,
    ['A', 'B'].map((id) => ({
      id,
      features: encodeFeatures(syntheticActionFeatures(id), r.actionDim),
      stats: stats.get(id),
    })),
  );
  const xbar = new Float64Array(r.contextDim);
  for (const dec of records.decisions)
    for (let i = 0; i < r.contextDim; i++) xbar[i]! += dec.x[i]! / records.decisions.length;
  const value = (id: string) => {
    const a = post.index.get(id)!;
    let s = 0;
    for (let i = 0; i < r.contextDim; i++) s += xbar[i]! * post.w[a * r.contextDim + i]!;
    return s;
  };
  return { A: value('A'), B: value('B') };
}

describe('importance-weighted fitting', () => {
  const run = runParams({ cutoffBucket: T0 / DAY + 10, holdoutFromBucket: T0 / DAY + 9 });

  it('recovers the true ranking (B above A) from a heavily skewed, confounded log where the unweighted fit inverts it', () => {
    const unweighted = fittedValues(run, 0.95, { kind: 'none' });
    const weighted = fittedValues(run, 0.95, { kind: 'uniform', clip: 20 });
    // Unweighted: A looks like 0.6 × 0.95 = 0.57, B like 0.4 × 0.95 + 0.6 × 0.05 = 0.41.
    expect(unweighted.A).toBeGreaterThan(unweighted.B);
    expect(unweighted.A).toBeGreaterThan(0.5);
    // Weighted: each action's value under the whole population.
    expect(weighted.B).toBeGreaterThan(weighted.A);
    expect(weighted.A).toBeCloseTo(TRUE_VALUE.A!, 1);
    expect(weighted.B).toBeCloseTo(TRUE_VALUE.B!, 1);
  });

  it('a clip below the needed weight leaves part of the skew in (clipping trades bias for variance)', () => {
    const clipped = fittedValues(run, 0.95, { kind: 'uniform', clip: 2 });
    const full = fittedValues(run, 0.95, { kind: 'uniform', clip: 20 });
    // Clipped weights under-count the minority users, so A keeps part of its inflated value.
    expect(clipped.A).toBeGreaterThan(full.A + 0.05);
  });
});

describe('decisionWeight', () => {
  it('is (1/K)/p below the clip, the clip above it, and 1 without a propensity', () => {
    expect(decisionWeight({ kind: 'uniform', clip: 20 }, 0.25, 2).weight).toBeCloseTo(2);
    expect(decisionWeight({ kind: 'uniform', clip: 20 }, 0.001, 2)).toEqual({
      weight: 20,
      clipped: true,
      missingPropensity: false,
    });
    expect(decisionWeight({ kind: 'uniform', clip: 20 }, undefined, 2)).toEqual({
      weight: 1,
      clipped: false,
      missingPropensity: true,
    });
    expect(decisionWeight({ kind: 'none' }, 0.001, 2).weight).toBe(1);
  });

  it('never exceeds the clip and is positive for any propensity in (0, 1] (100,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 1, max: 1e4, noNaN: true }),
        (p, k, clip) => {
          const w = decisionWeight({ kind: 'uniform', clip }, p, k).weight;
          return w > 0 && w <= clip;
        },
      ),
      { numRuns: 100_000 },
    );
  });
});

describe('weighted statistics', () => {
  const d = 3;
  const obs = fc.array(
    fc.record({
      x: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d }),
      r: fc.double({ min: -5, max: 5, noNaN: true }),
      w: fc.double({ min: 0.01, max: 50, noNaN: true }),
    }),
    { maxLength: 30 },
  );
  const add = (s: ReturnType<typeof emptyWeighted>, o: { x: number[]; r: number; w: number }) =>
    addWeighted(s, Float64Array.from(o.x), o.r, { weight: o.w, clipped: false, missingPropensity: false }, 0);

  it('merge of partials equals one pass over all observations, in any split (10,000 runs)', () => {
    fc.assert(
      fc.property(obs, fc.nat(), (list, cut) => {
        const k = list.length === 0 ? 0 : cut % (list.length + 1);
        const whole = emptyWeighted(d);
        for (const o of list) add(whole, o);
        const left = emptyWeighted(d);
        const right = emptyWeighted(d);
        for (const o of list.slice(0, k)) add(left, o);
        for (const o of list.slice(k)) add(right, o);
        mergeWeighted(right, left);
        return (
          statsEqual(whole.stats, right.stats, 1e-9) && Math.abs(whole.sumW2 - right.sumW2) < 1e-6 * (1 + whole.sumW2)
        );
      }),
      { numRuns: 10_000 },
    );
  });

  it('equal weights change nothing after finalisation: the posterior sees the unweighted data (10,000 runs)', () => {
    fc.assert(
      fc.property(obs, fc.double({ min: 0.01, max: 50, noNaN: true }), (list, c) => {
        const weighted = emptyWeighted(d);
        const plain = emptyStats(d);
        for (const o of list) {
          add(weighted, { ...o, w: c });
          addObservation(plain, Float64Array.from(o.x), o.r);
        }
        return statsEqual(finalizeWeighted(weighted), plain, 1e-9);
      }),
      { numRuns: 10_000 },
    );
  });

  it('finalised count is the effective sample size (Σw)²/Σw²', () => {
    const s = emptyWeighted(d);
    for (const w of [1, 1, 10]) add(s, { x: [1, 0, 0], r: 1, w });
    expect(finalizeWeighted(s).n).toBeCloseTo(144 / 102);
    expect(effectiveSampleSize(s)).toBeCloseTo(144 / 102);
  });
});
