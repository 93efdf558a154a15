import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DimensionMismatchError, InvalidArgumentError } from '../../../shared/core/bandit/errors.ts';
import {
  buildPosterior,
  DEFAULT_PRIORS,
  type PosteriorAction,
  type Priors,
  posteriorSummary,
} from '../../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../../shared/core/bandit/score.ts';
import {
  type ActionStats,
  addObservation,
  cloneStats,
  emptyStats,
  mergeStats,
} from '../../../shared/core/bandit/stats.ts';
import { createRng, type Rng } from '../../../shared/core/random.ts';
import { sharedView } from '../../support/shared-view.ts';

interface Obs {
  a: number;
  x: Float64Array;
  r: number;
}

/** Solves P X = B for dense row-major P (n×n) and B (n×c) by Gaussian elimination with partial pivoting. */
function solveDense(P: number[][], B: number[][]): number[][] {
  const n = P.length;
  const A = P.map((row, i) => [...row, ...(B[i] as number[])]);
  const c = (B[0] as number[]).length;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r]![col]!) > Math.abs(A[piv]![col]!)) piv = r;
    [A[col], A[piv]] = [A[piv]!, A[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = A[r]![col]! / A[col]![col]!;
      if (f === 0) continue;
      for (let k = col; k < n + c; k++) A[r]![k]! -= f * A[col]![k]!;
    }
  }
  return A.map((row, i) => row.slice(n).map((v) => v / A[i]![i]!));
}

/**
 * The hybrid model solved the slow, obvious way: one joint Bayesian ridge regression over [β; θ_1 … θ_K] with design
 * row φ = [(Px) ⊗ c_a; 0 … x … 0] built from the raw observations. Returns the mean and variance of any score.
 */
function bruteForce(d: number, m: number, feats: Float64Array[], obs: Obs[], priors: Priors) {
  const K = feats.length;
  const s = sharedView(d, m, new Float64Array(d)).length;
  const k = s * m;
  const p = k + K * d;
  const phi = (a: number, x: Float64Array): number[] => {
    const v = new Array(p).fill(0);
    const c = feats[a] as Float64Array;
    const z = sharedView(d, m, x);
    for (let i = 0; i < s; i++) for (let j = 0; j < m; j++) v[i * m + j] = (z[i] as number) * (c[j] as number);
    for (let i = 0; i < d; i++) v[k + a * d + i] = x[i] as number;
    return v;
  };
  const P: number[][] = Array.from({ length: p }, (_, i) =>
    Array.from({ length: p }, (_, j) => (i === j ? (i < k ? priors.lambdaShared : priors.lambdaAction) : 0)),
  );
  const b = new Array(p).fill(0);
  for (const o of obs) {
    const v = phi(o.a, o.x);
    for (let i = 0; i < p; i++) {
      b[i] += v[i]! * o.r;
      for (let j = 0; j < p; j++) P[i]![j]! += v[i]! * v[j]!;
    }
  }
  const mean = solveDense(
    P,
    b.map((v) => [v]),
  ).map((r) => r[0] as number);
  // σ² of the normal–inverse-gamma model: the prior guess plus the regularised residual yᵀy − bᵀθ̂, over ν0 + n.
  const sumR2 = obs.reduce((acc, o) => acc + o.r * o.r, 0);
  let explained = 0;
  for (let i = 0; i < p; i++) explained += b[i]! * mean[i]!;
  const denom = priors.noisePriorWeight + obs.length;
  const sigma2 = Math.max(
    1e-6 * priors.noisePriorVariance,
    denom > 0
      ? (priors.noisePriorWeight * priors.noisePriorVariance + sumR2 - explained) / denom
      : priors.noisePriorVariance,
  );
  return {
    sigma2,
    sumR2Scale: denom > 0 ? sumR2 / denom : 0,
    score(a: number, x: Float64Array): { mean: number; variance: number } {
      const v = phi(a, x);
      const pv = solveDense(
        P,
        v.map((t) => [t]),
      ).map((r) => r[0] as number);
      let mu = 0;
      let q = 0;
      for (let i = 0; i < p; i++) {
        mu += v[i]! * mean[i]!;
        q += v[i]! * pv[i]!;
      }
      return { mean: mu, variance: sigma2 * q };
    },
  };
}

function withBias(r: Rng, n: number, scale = 1): Float64Array {
  const v = new Float64Array(n);
  v[0] = 1;
  for (let i = 1; i < n; i++) v[i] = scale * r.normal();
  return v;
}

function scenario(seed: number, d: number, m: number, K: number, nObs: number, coldLast: boolean) {
  const r = createRng(seed);
  const feats = Array.from({ length: K }, () => withBias(r, m));
  const truth = Array.from({ length: d * m }, () => 0.5 * r.normal());
  const obs: Obs[] = [];
  const warmK = coldLast && K > 1 ? K - 1 : K;
  for (let t = 0; t < nObs; t++) {
    const a = r.int(warmK);
    const x = withBias(r, d);
    let mu = 0;
    const c = feats[a] as Float64Array;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < m; j++) mu += (truth[i * m + j] as number) * (x[i] as number) * (c[j] as number);
    obs.push({ a, x, r: mu + 0.3 * r.normal() + 0.2 * a });
  }
  const expected = (a: number, x: Float64Array): number => {
    let mu = 0.2 * a;
    const c = feats[a] as Float64Array;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < m; j++) mu += (truth[i * m + j] as number) * (x[i] as number) * (c[j] as number);
    return mu;
  };
  return { feats, obs, r, expected };
}

function actionsFrom(d: number, feats: Float64Array[], obs: Obs[]): PosteriorAction[] {
  const stats: (ActionStats | undefined)[] = feats.map(() => undefined);
  for (const o of obs) {
    stats[o.a] ??= emptyStats(d);
    addObservation(stats[o.a] as ActionStats, o.x, o.r);
  }
  return feats.map((features, a) => ({ id: `a${a}`, features, stats: stats[a] }));
}

function expectMatchesBruteForce(
  d: number,
  m: number,
  feats: Float64Array[],
  obs: Obs[],
  actions: PosteriorAction[],
  priors: Priors,
  contexts: Float64Array[],
): void {
  const post = buildPosterior({ d, m }, priors, actions);
  const bf = bruteForce(d, m, feats, obs, priors);
  // σ² comes from Σr² − (Σr)²/n, which cancels when rewards are nearly equal: its rounding error is relative to
  // Σr², not to σ² (the brute force uses the two-pass formula).
  expect(Math.abs(post.sigma2 - bf.sigma2)).toBeLessThanOrEqual(1e-12 * bf.sigma2 + 1e-14 * bf.sumR2Scale);
  const K = feats.length;
  const cands = Array.from({ length: K }, (_, a) => a);
  const mean = new Float64Array(K);
  const sd = new Float64Array(K);
  for (const x of contexts) {
    scoreInto(post, x, cands, 1, mean, sd);
    for (let a = 0; a < K; a++) {
      const want = bf.score(a, x);
      expect(Math.abs((mean[a] as number) - want.mean)).toBeLessThanOrEqual(1e-8 * Math.max(1, Math.abs(want.mean)));
      expect(Math.abs((sd[a] as number) ** 2 - want.variance)).toBeLessThanOrEqual(1e-8 * want.variance);
    }
  }
}

describe('buildPosterior (hybrid model from per-action statistics)', () => {
  it('matches the joint regression over [β; θ_1…θ_K] for every score mean and variance, cold action included', () => {
    const d = 3;
    const m = 2;
    const { feats, obs, r } = scenario(11, d, m, 4, 60, true);
    const contexts = Array.from({ length: 5 }, () => withBias(r, d));
    const priors: Priors = { lambdaShared: 0.7, lambdaAction: 2.5, noisePriorVariance: 0.3, noisePriorWeight: 4 };
    expectMatchesBruteForce(d, m, feats, obs, actionsFrom(d, feats, obs), priors, contexts);
  });

  it('matches the joint regression on the sketched shared part when contextDim × actionDim exceeds 256', () => {
    // d·m = 320: the shared part sees s = 16 sketched slots (k = 256) while each action's θ sees all 20.
    const d = 20;
    const m = 16;
    const { feats, obs, r } = scenario(23, d, m, 3, 120, true);
    const contexts = Array.from({ length: 2 }, () => withBias(r, d));
    const priors: Priors = { lambdaShared: 0.8, lambdaAction: 1.7, noisePriorVariance: 0.4, noisePriorWeight: 3 };
    const actions = actionsFrom(d, feats, obs);
    expect(buildPosterior({ d, m }, priors, actions).beta.length).toBe(256);
    expectMatchesBruteForce(d, m, feats, obs, actions, priors, contexts);
  });

  it('matches the batch solution after any number of sequential updates (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.boolean(),
        fc.record({
          lambdaShared: fc.double({ min: 0.05, max: 20, noNaN: true }),
          lambdaAction: fc.double({ min: 0.05, max: 20, noNaN: true }),
          noisePriorVariance: fc.double({ min: 0.01, max: 2, noNaN: true }),
          noisePriorWeight: fc.double({ min: 0, max: 20, noNaN: true }),
        }),
        (d, m, K, nObs, seed, coldLast, priors) => {
          const { feats, obs, r } = scenario(seed, d, m, K, nObs, coldLast);
          const contexts = Array.from({ length: 2 }, () => withBias(r, d));
          expectMatchesBruteForce(d, m, feats, obs, actionsFrom(d, feats, obs), priors, contexts);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives the same posterior from merged partial statistics as from a single writer', () => {
    const d = 3;
    const m = 2;
    const { feats, obs, r } = scenario(5, d, m, 3, 90, false);
    const single = actionsFrom(d, feats, obs);
    const partA = actionsFrom(d, feats, obs.slice(0, 40));
    const partB = actionsFrom(d, feats, obs.slice(40));
    const merged = partA.map((act, a) => {
      const s = act.stats ? cloneStats(act.stats) : emptyStats(d);
      const other = partB[a]?.stats;
      if (other) mergeStats(s, other);
      return { ...act, stats: s };
    });
    const x = withBias(r, d);
    const p1 = buildPosterior({ d, m }, DEFAULT_PRIORS, single);
    const p2 = buildPosterior({ d, m }, DEFAULT_PRIORS, merged);
    const m1 = new Float64Array(3);
    const s1 = new Float64Array(3);
    const m2 = new Float64Array(3);
    const s2 = new Float64Array(3);
    scoreInto(p1, x, [0, 1, 2], 1, m1, s1);
    scoreInto(p2, x, [0, 1, 2], 1, m2, s2);
    for (let a = 0; a < 3; a++) {
      expect(m2[a]).toBeCloseTo(m1[a] as number, 10);
      expect(s2[a]).toBeCloseTo(s1[a] as number, 10);
    }
  });

  it('learns: with plenty of data the mean score approaches the true expected reward and uncertainty shrinks', () => {
    const d = 3;
    const m = 2;
    const few = scenario(21, d, m, 3, 20, false);
    const many = scenario(21, d, m, 3, 20_000, false);
    const x = withBias(createRng(99), d);
    const sdOf = (s: ReturnType<typeof scenario>) => {
      const post = buildPosterior({ d, m }, DEFAULT_PRIORS, actionsFrom(d, s.feats, s.obs));
      const mean = new Float64Array(3);
      const sd = new Float64Array(3);
      scoreInto(post, x, [0, 1, 2], 1, mean, sd);
      return { post, mean, sd };
    };
    const a = sdOf(few);
    const b = sdOf(many);
    for (let i = 0; i < 3; i++) {
      expect(b.sd[i] as number).toBeLessThan((a.sd[i] as number) / 5);
      expect(Math.abs((b.mean[i] as number) - many.expected(i, x))).toBeLessThan(0.05);
    }
    // σ² estimates the noise the model cannot explain: the simulated noise variance 0.09 (the context-driven
    // variation of the rewards is explained, so it does not inflate exploration).
    expect(b.post.sigma2).toBeGreaterThan(0.08);
    expect(b.post.sigma2).toBeLessThan(0.1);
  });

  it('scores a cold action from its features with larger uncertainty than a similar warm one', () => {
    const d = 2;
    const m = 2;
    const feats = [Float64Array.from([1, 1]), Float64Array.from([1, 1.05])];
    const r = createRng(4);
    const obs: Obs[] = [];
    for (let t = 0; t < 500; t++) {
      const x = withBias(r, d);
      obs.push({ a: 0, x, r: 0.8 * (x[1] as number) + 0.1 * r.normal() });
    }
    const post = buildPosterior({ d, m }, DEFAULT_PRIORS, actionsFrom(d, feats, obs));
    const x = Float64Array.from([1, 1]);
    const mean = new Float64Array(2);
    const sd = new Float64Array(2);
    scoreInto(post, x, [0, 1], 1, mean, sd);
    expect(mean[1]).toBeGreaterThan(0.3); // borrowed from the shared model through the features
    expect(sd[1]).toBeGreaterThan(2 * (sd[0] as number));
    expect(post.n[1]).toBe(0);
  });

  it('rejects duplicate ids, wrong feature or stats lengths and invalid priors', () => {
    const f = Float64Array.from([1, 0]);
    expect(() =>
      buildPosterior({ d: 2, m: 2 }, DEFAULT_PRIORS, [
        { id: 'a', features: f, stats: undefined },
        { id: 'a', features: f, stats: undefined },
      ]),
    ).toThrow(InvalidArgumentError);
    expect(() => buildPosterior({ d: 2, m: 3 }, DEFAULT_PRIORS, [{ id: 'a', features: f, stats: undefined }])).toThrow(
      DimensionMismatchError,
    );
    expect(() =>
      buildPosterior({ d: 3, m: 2 }, DEFAULT_PRIORS, [{ id: 'a', features: f, stats: emptyStats(2) }]),
    ).toThrow(DimensionMismatchError);
    expect(() =>
      buildPosterior({ d: 2, m: 2 }, { ...DEFAULT_PRIORS, lambdaAction: 0 }, [
        { id: 'a', features: f, stats: undefined },
      ]),
    ).toThrow(InvalidArgumentError);
  });

  it('summarises an action and returns undefined for an unknown id', () => {
    const d = 3;
    const m = 2;
    const { feats, obs } = scenario(8, d, m, 3, 50, true);
    const post = buildPosterior({ d, m }, DEFAULT_PRIORS, actionsFrom(d, feats, obs));
    const s = posteriorSummary(post, 'a2');
    expect(s?.n).toBe(0);
    // Cold action: w_a is exactly the shared part Z_aᵀβ̂.
    expect(Array.from(s?.weights ?? [])).toEqual(Array.from(s?.sharedWeights ?? [1]));
    expect(s?.varianceTrace).toBeGreaterThan(0);
    expect(posteriorSummary(post, 'nope')).toBeUndefined();
  });
});

describe('scoreInto', () => {
  const d = 3;
  const m = 2;
  const { feats, obs } = scenario(3, d, m, 4, 80, false);
  const post = buildPosterior({ d, m }, DEFAULT_PRIORS, actionsFrom(d, feats, obs));
  const x = Float64Array.from([1, 0.5, -0.2]);

  it('follows the candidate order and scales the variance by explorationScale', () => {
    const all = { mean: new Float64Array(4), sd: new Float64Array(4) };
    scoreInto(post, x, [0, 1, 2, 3], 1, all.mean, all.sd);
    const sub = { mean: new Float64Array(2), sd: new Float64Array(2) };
    scoreInto(post, x, Int32Array.from([3, 1]), 4, sub.mean, sub.sd);
    expect(sub.mean[0]).toBe(all.mean[3]);
    expect(sub.mean[1]).toBe(all.mean[1]);
    expect(sub.sd[0]).toBeCloseTo(2 * (all.sd[3] as number), 12);
    scoreInto(post, x, [0], 0, sub.mean, sub.sd);
    expect(sub.sd[0]).toBe(0);
  });

  it('rejects a context of the wrong length, an unknown index and a negative scale', () => {
    const mean = new Float64Array(4);
    const sd = new Float64Array(4);
    expect(() => scoreInto(post, new Float64Array(2), [0], 1, mean, sd)).toThrow(DimensionMismatchError);
    expect(() => scoreInto(post, x, [4], 1, mean, sd)).toThrow(InvalidArgumentError);
    expect(() => scoreInto(post, x, [-1], 1, mean, sd)).toThrow(InvalidArgumentError);
    expect(() => scoreInto(post, x, [0], -1, mean, sd)).toThrow(InvalidArgumentError);
  });
});
