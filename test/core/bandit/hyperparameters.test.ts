/**
 * Learned hyper-parameters (core/bandit/hyperparameters.ts), checked against the rule written there:
 * - the evidence is the marginal likelihood of the hybrid model, compared with an independent dense formula over
 *   the raw observations (n×n, no Schur complements, no sufficient statistics);
 * - the learned λa maximises it (with the weak hyperprior; no point of a grid does better) and the learned λs is the
 *   lower end of its likelihood interval at a drop of 5 (a log Bayes factor: "very strong" evidence), found on a fine
 *   grid, not by learnPriors;
 * - decisions do not depend on the reward's unit.
 */
import { describe, expect, it } from 'vitest';
import { evidenceActions, learnPriors } from '../../../shared/core/bandit/hyperparameters.ts';
import {
  buildPosterior,
  evidenceFunction,
  logEvidence,
  type PosteriorAction,
  type Priors,
} from '../../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../../shared/core/bandit/score.ts';
import { addObservation, emptyStats } from '../../../shared/core/bandit/stats.ts';
import { createRng } from '../../../shared/core/random.ts';
import { sharedView } from '../../support/shared-view.ts';

interface Obs {
  a: number;
  x: Float64Array;
  r: number;
}

function scenario(seed: number, d: number, m: number, K: number, n: number, noise: number) {
  const rng = createRng(seed);
  const feats = Array.from({ length: K }, () => {
    const c = new Float64Array(m);
    c[0] = 1;
    for (let j = 1; j < m; j++) c[j] = rng.normal();
    return c;
  });
  const beta = Array.from({ length: d * m }, () => 0.5 * rng.normal());
  const obs: Obs[] = [];
  for (let t = 0; t < n; t++) {
    const a = rng.int(K);
    const x = new Float64Array(d);
    x[0] = 1;
    for (let i = 1; i < d; i++) x[i] = rng.normal();
    let mu = 0;
    for (let i = 0; i < d; i++) for (let j = 0; j < m; j++) mu += x[i]! * feats[a]![j]! * beta[i * m + j]!;
    obs.push({ a, x, r: mu + noise * rng.normal() });
  }
  const actions: PosteriorAction[] = feats.map((features, a) => {
    const s = emptyStats(d);
    for (const o of obs) if (o.a === a) addObservation(s, o.x, o.r);
    return { id: `a${a}`, features, stats: s };
  });
  return { feats, obs, actions };
}

/** Dense log-determinant and solve by Gaussian elimination with partial pivoting (an independent implementation). */
function logDetAndSolve(C: number[][], y: number[]): { logDet: number; z: number[] } {
  const n = C.length;
  const A = C.map((row, i) => [...row, y[i]!]);
  let logDet = 0;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r]![col]!) > Math.abs(A[piv]![col]!)) piv = r;
    [A[col], A[piv]] = [A[piv]!, A[col]!];
    const p = A[col]![col]!;
    logDet += Math.log(Math.abs(p));
    for (let r = col + 1; r < n; r++) {
      const f = A[r]![col]! / p;
      for (let k = col; k <= n; k++) A[r]![k]! -= f * A[col]![k]!;
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let acc = A[r]![n]!;
    for (let k = r + 1; k < n; k++) acc -= A[r]![k]! * z[k]!;
    z[r] = acc / A[r]![r]!;
  }
  return { logDet, z };
}

/**
 * log p(y) of y = Φθ + ε with θ ~ N(0, σ²Λ⁻¹), ε ~ N(0, σ² I) and σ² ~ InvGamma(ν0/2, ν0 s0²/2), up to the same
 * λ-free constant: −½ log|C| − ½(ν0 + n) log(ν0 s0² + yᵀC⁻¹y), C = I + Φ Λ⁻¹ Φᵀ, from the raw observations.
 */
function bruteEvidence(d: number, m: number, feats: Float64Array[], obs: Obs[], p: Priors): number {
  const s = sharedView(d, m, new Float64Array(d)).length;
  const k = s * m;
  const row = (o: Obs): { shared: number[]; own: number[] } => {
    const shared = new Array<number>(k).fill(0);
    const z = sharedView(d, m, o.x);
    for (let i = 0; i < s; i++) for (let j = 0; j < m; j++) shared[i * m + j] = z[i]! * feats[o.a]![j]!;
    return { shared, own: Array.from(o.x) };
  };
  const rows = obs.map(row);
  const n = obs.length;
  const C = Array.from({ length: n }, (_, s) =>
    Array.from({ length: n }, (_, t) => {
      let v = s === t ? 1 : 0;
      for (let q = 0; q < k; q++) v += (rows[s]!.shared[q]! * rows[t]!.shared[q]!) / p.lambdaShared;
      if (obs[s]!.a === obs[t]!.a)
        for (let i = 0; i < d; i++) v += (rows[s]!.own[i]! * rows[t]!.own[i]!) / p.lambdaAction;
      return v;
    }),
  );
  const y = obs.map((o) => o.r);
  const { logDet, z } = logDetAndSolve(C, y);
  let quad = 0;
  for (let s = 0; s < n; s++) quad += y[s]! * z[s]!;
  return -0.5 * logDet - 0.5 * (p.noisePriorWeight + n) * Math.log(p.noisePriorWeight * p.noisePriorVariance + quad);
}

/** logEvidence differences between λ pairs against the dense formula's, on one scenario. */
function expectEvidenceMatchesDense(seed: number, d: number, m: number, n: number): void {
  const { feats, obs, actions } = scenario(seed, d, m, 3, n, 0.3);
  const at = (ls: number, la: number): Priors => ({
    lambdaShared: ls,
    lambdaAction: la,
    noisePriorVariance: 0.2,
    noisePriorWeight: 4,
  });
  const ref = at(1, 1);
  for (const [ls, la] of [
    [0.01, 50],
    [10, 0.1],
    [300, 3],
  ] as const) {
    const ours = logEvidence({ d, m }, at(ls, la), actions) - logEvidence({ d, m }, ref, actions);
    const brute = bruteEvidence(d, m, feats, obs, at(ls, la)) - bruteEvidence(d, m, feats, obs, ref);
    expect(Math.abs(ours - brute)).toBeLessThan(1e-8 * Math.max(1, Math.abs(brute)));
  }
}

describe('logEvidence (marginal likelihood of the hybrid model from per-action sums)', () => {
  it('differs between any two λ pairs exactly as the dense formula over the raw observations does', () => {
    for (const seed of [1, 2, 3]) expectEvidenceMatchesDense(seed, 3, 2, 40);
  });

  it('does so with a sketched shared part, when contextDim × actionDim exceeds 256 (k = s·m, not d·m)', () => {
    expectEvidenceMatchesDense(9, 20, 16, 45);
  });
});

describe('learnPriors', () => {
  it('serves λa at the maximum of the evidence plus the weak hyperprior, and λs at the lower end of its very-strong-evidence interval', () => {
    const d = 4;
    const m = 3;
    const { actions } = scenario(7, d, m, 6, 600, 0.5);
    const learned = learnPriors({ d, m }, {}, actions);
    const objective = (ls: number, la: number) =>
      logEvidence({ d, m }, { ...learned, lambdaShared: ls, lambdaAction: la }, actions) -
      (Math.log(ls) ** 2 + Math.log(la) ** 2) / (2 * Math.log(100) ** 2);
    // λa: no point of a wide grid over both λs beats the best λs at the learned λa (λa is at the joint maximum).
    const lsGrid: number[] = [];
    for (let u = -3; u <= 5 + 1e-9; u += 0.01) lsGrid.push(10 ** u);
    let atLearned = { ls: 1, v: Number.NEGATIVE_INFINITY };
    for (const ls of lsGrid) {
      const v = objective(ls, learned.lambdaAction);
      if (v > atLearned.v) atLearned = { ls, v };
    }
    for (let u = -3; u <= 5; u += 0.25) {
      for (let v = -3; v <= 5; v += 0.25) {
        expect(atLearned.v).toBeGreaterThanOrEqual(objective(10 ** u, 10 ** v) - 1e-3);
      }
    }
    // λs: the smallest value on a fine grid whose objective is within 5 of that maximum (a log Bayes factor of 5:
    // Kass & Raftery's "very strong" evidence, 2 ln B = 10).
    const drop = 5;
    const lowerEnd = lsGrid.find((ls) => objective(ls, learned.lambdaAction) >= atLearned.v - drop)!;
    expect(Math.abs(Math.log(learned.lambdaShared / lowerEnd))).toBeLessThanOrEqual(0.06);
    // The rule bites here: the maximiser shrinks at least twice as hard.
    expect(atLearned.ls / learned.lambdaShared).toBeGreaterThan(2);
  });

  it("fits a wide context on its most-observed actions and lands near the whole evidence's λa and λs interval end", () => {
    // d = 64: the rule's bound is max(10, ⌊100·32³/64³⌋) = 12 of the 30 actions with data. The data follow the model
    // (shared β and per-action θ_a), so the whole evidence has an interior maximum to compare with.
    const d = 64;
    const m = 2;
    const K = 30;
    const rng = createRng(31);
    const feats = Array.from({ length: K }, () => Float64Array.from([1, rng.normal()]));
    const beta = Array.from({ length: d * m }, () => 0.3 * rng.normal());
    const theta = Array.from({ length: K }, () => Array.from({ length: d }, () => 0.15 * rng.normal()));
    const actions: PosteriorAction[] = feats.map((features, a) => ({ id: `a${a}`, features, stats: emptyStats(d) }));
    for (let t = 0; t < 6000; t++) {
      const a = Math.min(K - 1, Math.floor(K * rng.next() ** 1.5));
      const x = new Float64Array(d);
      x[0] = 1;
      for (let i = 1; i < d; i++) x[i] = rng.normal();
      let mu = 0;
      for (let i = 0; i < d; i++) {
        mu += x[i]! * theta[a]![i]!;
        for (let j = 0; j < m; j++) mu += x[i]! * feats[a]![j]! * beta[i * m + j]!;
      }
      addObservation(actions[a]!.stats!, x, mu + 0.5 * rng.normal());
    }
    expect(evidenceActions(d, actions)).toHaveLength(12);
    const learned = learnPriors({ d, m }, {}, actions);
    // The whole evidence's maximiser on a grid of ln λ (with the same weak hyperprior), found without learnPriors.
    const whole = evidenceFunction({ d, m }, actions);
    let best = { ls: 1, la: 1, v: Number.NEGATIVE_INFINITY };
    for (let v = -3; v <= 5; v += 0.25) {
      for (let u = -3; u <= 5; u += 0.25) {
        const p: Priors = { ...learned, lambdaShared: 10 ** u, lambdaAction: 10 ** v };
        const val = whole(p) - ((u * Math.LN10) ** 2 + (v * Math.LN10) ** 2) / (2 * Math.log(100) ** 2);
        if (val > best.v) best = { ls: p.lambdaShared, la: p.lambdaAction, v: val };
      }
    }
    expect(Math.abs(Math.log10(learned.lambdaAction / best.la))).toBeLessThanOrEqual(0.5);
    // λs: the lower end of the whole evidence's interval (a drop of 5) at that λa (the rule's λs, on the whole data).
    const objective = (u: number) =>
      whole({ ...learned, lambdaShared: 10 ** u, lambdaAction: best.la }) -
      ((u * Math.LN10) ** 2 + Math.log(best.la) ** 2) / (2 * Math.log(100) ** 2);
    let lowerEnd = Math.log10(best.ls);
    while (lowerEnd > -3 && objective(lowerEnd - 0.05) >= best.v - 5) lowerEnd -= 0.05;
    expect(Math.abs(Math.log10(learned.lambdaShared) - lowerEnd)).toBeLessThanOrEqual(0.5);
  });

  it('keeps a value the settings give and learns the rest', () => {
    const { actions } = scenario(8, 3, 2, 4, 300, 0.5);
    const p = learnPriors({ d: 3, m: 2 }, { lambdaShared: 7, noisePriorWeight: 2 }, actions);
    expect(p.lambdaShared).toBe(7);
    expect(p.noisePriorWeight).toBe(2);
    expect(p.lambdaAction).not.toBe(1);
  });

  it('learns the same λs, and scales the noise by c², when every reward is multiplied by c', () => {
    const d = 3;
    const m = 2;
    const { actions } = scenario(9, d, m, 5, 400, 0.4);
    const c = 50;
    const scaled = actions.map((a) => {
      const s = a.stats!;
      return {
        ...a,
        stats: { ...s, sumR: c * s.sumR, sumR2: c * c * s.sumR2, sxr: s.sxr.map((v) => c * v) },
      };
    });
    const p1 = learnPriors({ d, m }, {}, actions);
    const p2 = learnPriors({ d, m }, {}, scaled);
    expect(p2.lambdaShared).toBeCloseTo(p1.lambdaShared, 6);
    expect(p2.lambdaAction).toBeCloseTo(p1.lambdaAction, 6);
    const b1 = buildPosterior({ d, m }, p1, actions);
    const b2 = buildPosterior({ d, m }, p2, scaled);
    expect(b2.sigma2 / b1.sigma2).toBeCloseTo(c * c, 6);
    const x = Float64Array.from([1, 0.3, -1.2]);
    const [m1, s1, m2, s2] = [new Float64Array(5), new Float64Array(5), new Float64Array(5), new Float64Array(5)];
    scoreInto(b1, x, [0, 1, 2, 3, 4], 1, m1, s1);
    scoreInto(b2, x, [0, 1, 2, 3, 4], 1, m2, s2);
    for (let i = 0; i < 5; i++) {
      expect(m2[i]! / m1[i]!).toBeCloseTo(c, 6);
      expect(s2[i]! / s1[i]!).toBeCloseTo(c, 6);
    }
  });
});

describe('compound-event noise (rare binary outcomes)', () => {
  it('explores a user who never reaches the event far less than the pooled noise would, with the same means', () => {
    // Two user groups (x = [1, buyer]); buyers purchase (worth 20) with probability 0.3, others never.
    const d = 2;
    const m = 1;
    const rng = createRng(5);
    const feats = [Float64Array.from([1]), Float64Array.from([1])];
    const stats = [emptyStats(d), emptyStats(d)];
    for (let t = 0; t < 4000; t++) {
      const buyer = rng.next() < 0.4 ? 1 : 0;
      const a = rng.int(2);
      const r = buyer && rng.next() < 0.3 ? 20 : 0;
      addObservation(stats[a]!, Float64Array.from([1, buyer]), r);
    }
    const actions = feats.map((features, a) => ({ id: `a${a}`, features, stats: stats[a] }));
    const priors = learnPriors({ d, m }, {}, actions);
    const pooled = buildPosterior({ d, m }, priors, actions);
    const compound = buildPosterior({ d, m }, priors, actions, { compoundEvents: true });
    expect(compound.eventValue).toBeCloseTo(20, 9);
    const score = (post: typeof pooled, x: Float64Array) => {
      const mean = new Float64Array(2);
      const sd = new Float64Array(2);
      scoreInto(post, x, [0, 1], 1, mean, sd);
      return { mean, sd };
    };
    const never = Float64Array.from([1, 0]);
    const buyer = Float64Array.from([1, 1]);
    const [pn, cn, pb, cb] = [
      score(pooled, never),
      score(compound, never),
      score(pooled, buyer),
      score(compound, buyer),
    ];
    for (let i = 0; i < 2; i++) {
      expect(cn.mean[i]).toBe(pn.mean[i]);
      // Non-buyers: the noise is the compound variance near μ = 0, a small fraction of the pooled one.
      expect(cn.sd[i]!).toBeLessThan(0.5 * pn.sd[i]!);
      // Buyers (μ ≈ 6, variance μ(20 − μ) ≈ 84 > pooled ≈ 36): explored at least as much as before.
      expect(cb.sd[i]!).toBeGreaterThan(pb.sd[i]!);
    }
  });
});
