import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cltEstimate,
  dmEstimate,
  drEstimate,
  drosEstimate,
  evaluatePolicy,
  ipsEstimate,
  loggingPolicy,
  meanAndVariance,
  normalQuantile,
  policyFromFunction,
  type RewardModel,
  type Round,
  type RoundTerms,
  snipsEstimate,
  zFor,
} from '../../../shared/core/evaluation/index.ts';

/*
 * Tiny log, two actions a/b, target π(a) = 0.8, π(b) = 0.2 in every context, reward model q̂(a) = 0.5, q̂(b) = 0.2.
 *
 *   round  chosen  p     r   w = π/p        w·r    DR term = 0.44 + w(r − q̂)
 *   1      a       0.5   1   0.8/0.5 = 1.6  1.6    0.44 + 1.6·0.5  =  1.24
 *   2      b       0.5   0   0.2/0.5 = 0.4  0      0.44 − 0.4·0.2  =  0.36
 *   3      a       0.4   0   0.8/0.4 = 2    0      0.44 − 2·0.5    = −0.56
 *   4      b       0.8   1   0.2/0.8 = 0.25 0.25   0.44 + 0.25·0.8 =  0.64
 *   5      a       0.2   1   0.8/0.2 = 4    4      0.44 + 4·0.5    =  2.44
 *   6      b       0.25  0   0.2/0.25 = 0.8 0      0.44 − 0.8·0.2  =  0.28
 *
 * DM term = Σ π q̂ = 0.8·0.5 + 0.2·0.2 = 0.44 in every round.
 * IPS   = 5.85 / 6 = 0.975; sample variance of w·r = 12.91875 / 5 = 2.58375; se = √(2.58375/6) = 0.656220.
 * SNIPS = 5.85 / 9.05 = 0.646409; Σ w²(r − V)² = 4.333963; var = 4.333963 / 9.05² · 6/5 = 0.0634994; se = 0.251991.
 * DR    = 4.40 / 6 = 0.733333; sample variance of DR terms = 1.039147; se = √(1.039147/6) = 0.416162.
 * ESS   = 9.05² / 23.4225 = 81.9025 / 23.4225 = 3.496745; max weight 4.
 * z(97.5%) = 1.959964.
 */
const Z = 1.959964;
const tinyLog: { chosen: 'a' | 'b'; p: number; r: number }[] = [
  { chosen: 'a', p: 0.5, r: 1 },
  { chosen: 'b', p: 0.5, r: 0 },
  { chosen: 'a', p: 0.4, r: 0 },
  { chosen: 'b', p: 0.8, r: 1 },
  { chosen: 'a', p: 0.2, r: 1 },
  { chosen: 'b', p: 0.25, r: 0 },
];
const candidates = [{ id: 'a' }, { id: 'b' }];
const tinyRounds: Round[] = tinyLog.map((l) => ({
  context: new Float64Array([0]),
  candidates,
  chosenIndex: l.chosen === 'a' ? 0 : 1,
  propensity: l.p,
  reward: l.r,
}));
const tinyTarget = policyFromFunction('fixed', (_round, id) => (id === 'a' ? 0.8 : 0.2));
const tinyModel: RewardModel = { predict: (_round, id) => (id === 'a' ? 0.5 : 0.2) };
const tinyTerms: RoundTerms = {
  weight: Float64Array.from([1.6, 0.4, 2, 0.25, 4, 0.8]),
  reward: Float64Array.from([1, 0, 0, 1, 1, 0]),
  qChosen: Float64Array.from([0.5, 0.2, 0.5, 0.2, 0.5, 0.2]),
  qTarget: new Float64Array(6).fill(0.44),
};

describe('estimators on a hand-computed tiny log', () => {
  it('IPS is the mean of w·r with a CLT interval', () => {
    const e = ipsEstimate(tinyTerms);
    expect(e.value).toBeCloseTo(0.975, 12);
    expect(e.lower).toBeCloseTo(0.975 - Z * 0.65622, 5);
    expect(e.upper).toBeCloseTo(0.975 + Z * 0.65622, 5);
  });

  it('SNIPS is Σw·r/Σw with a delta-method interval', () => {
    const e = snipsEstimate(tinyTerms)!;
    expect(e.value).toBeCloseTo(0.646409, 6);
    expect(e.upper - e.value).toBeCloseTo(Z * 0.251991, 5);
    expect(e.value - e.lower).toBeCloseTo(Z * 0.251991, 5);
  });

  it('DR is the mean of DM term plus weighted residual, with a CLT interval', () => {
    const e = drEstimate(tinyTerms);
    expect(e.value).toBeCloseTo(0.733333, 6);
    expect(e.upper - e.value).toBeCloseTo(Z * 0.416162, 5);
  });

  it('DM is the mean of Σπq̂ and reports no interval', () => {
    expect(dmEstimate(tinyTerms.qTarget)).toEqual({ value: expect.closeTo(0.44, 12), lower: null, upper: null });
  });

  it('evaluatePolicy reproduces the hand figures from rounds, target and model, clamping intervals to the range', () => {
    const r = evaluatePolicy({ rounds: tinyRounds, rewardRange: { min: 0, max: 1 } }, tinyTarget, {
      rewardModel: tinyModel,
    });
    expect(r.n).toBe(6);
    expect(r.ess).toBeCloseTo(3.496745, 6);
    expect(r.maxWeight).toBeCloseTo(4, 12);
    expect(r.supportMissing).toBe(0);
    expect(r.estimates.ips!.value).toBeCloseTo(0.975, 12);
    // 0.975 ± 1.286 leaves [0, 1] on both sides.
    expect(r.estimates.ips!.lower).toBe(0);
    expect(r.estimates.ips!.upper).toBe(1);
    expect(r.estimates.snips!.value).toBeCloseTo(0.646409, 6);
    expect(r.estimates.snips!.lower).toBeCloseTo(0.646409 - Z * 0.251991, 5);
    expect(r.estimates.dr!.value).toBeCloseTo(0.733333, 6);
    expect(r.estimates.dm.value).toBeCloseTo(0.44, 12);
    expect(r.details.rewardModel).toBe('given');
    expect(r.recommended).toBe('dr');
    expect(r.warnings.some((w) => w.startsWith('effective sample size 3 of 6'))).toBe(true);
  });

  it('DRos never shrinks when residuals are all zero, so it equals DR and DM', () => {
    const t: RoundTerms = { ...tinyTerms, qChosen: Float64Array.from(tinyTerms.reward) };
    const e = drosEstimate(t);
    expect(e.value).toBeCloseTo(0.44, 12);
    expect(e.biasBound).toBe(0);
  });
});

describe('missing propensities', () => {
  it('reports only DM, without an interval, and says why', () => {
    const rounds = tinyRounds.map(({ propensity: _p, ...rest }) => rest);
    const r = evaluatePolicy({ rounds, rewardRange: { min: 0, max: 1 } }, tinyTarget, { rewardModel: tinyModel });
    expect(r.estimates.ips).toBeNull();
    expect(r.estimates.snips).toBeNull();
    expect(r.estimates.dr).toBeNull();
    expect(r.estimates.dros).toBeNull();
    expect(r.lowerBound).toBeNull();
    expect(r.estimates.dm).toEqual({ value: expect.closeTo(0.44, 12), lower: null, upper: null });
    expect(r.recommended).toBe('dm');
    expect(r.supportMissing).toBe(1);
    expect(r.warnings[0]).toMatch(/^propensities missing: IPS\/SNIPS\/DR unavailable; only DM reported/);
  });

  it('uses the rounds that have one when some are missing, and warns', () => {
    const rounds = tinyRounds.map((r, i) => (i === 0 ? { ...r, propensity: undefined } : r));
    const r = evaluatePolicy({ rounds, rewardRange: { min: 0, max: 1 } }, tinyTarget, { rewardModel: tinyModel });
    expect(r.nWithPropensity).toBe(5);
    expect(r.supportMissing).toBeCloseTo(1 / 6, 12);
    // IPS over rounds 2-6: (0 + 0 + 0.25 + 4 + 0) / 5.
    expect(r.estimates.ips!.value).toBeCloseTo(0.85, 12);
    expect(r.warnings.some((w) => w.startsWith('propensities missing or 0 on 1 of 6 rounds'))).toBe(true);
  });
});

const roundsArb = fc
  .array(
    fc.record({
      p: fc.double({ min: 0.05, max: 0.5, noNaN: true }),
      r: fc.double({ min: 0, max: 1, noNaN: true }),
      chosen: fc.integer({ min: 0, max: 2 }),
    }),
    { minLength: 2, maxLength: 60 },
  )
  .map((xs) =>
    xs.map(
      (x): Round => ({
        context: new Float64Array([x.r > 0.5 ? 1 : 0]),
        candidates: [{ id: 'x' }, { id: 'y' }, { id: 'z' }],
        chosenIndex: x.chosen,
        propensity: x.p,
        reward: x.r,
      }),
    ),
  );
const skewed = policyFromFunction('skewed', (_r, id) => (id === 'x' ? 0.6 : id === 'y' ? 0.3 : 0.1));

describe('estimator properties', () => {
  it('for the logging policy every weight is 1: IPS = SNIPS = mean reward and ESS = n', () => {
    fc.assert(
      fc.property(roundsArb, (rounds) => {
        const r = evaluatePolicy({ rounds, rewardRange: { min: 0, max: 1 } }, loggingPolicy);
        const meanReward = rounds.reduce((s, x) => s + x.reward, 0) / rounds.length;
        expect(r.estimates.ips!.value).toBeCloseTo(meanReward, 9);
        expect(r.estimates.snips!.value).toBeCloseTo(meanReward, 9);
        expect(r.ess).toBeCloseTo(rounds.length, 6);
        expect(r.maxWeight).toBeCloseTo(1, 12);
      }),
      { numRuns: 200 },
    );
  });

  it('SNIPS stays within the observed rewards and ignores a common rescaling of propensities', () => {
    fc.assert(
      fc.property(roundsArb, fc.double({ min: 0.5, max: 2, noNaN: true }), (rounds, scale) => {
        const data = { rounds, rewardRange: { min: 0, max: 1 } };
        const a = evaluatePolicy(data, skewed).estimates.snips!.value;
        const scaled = rounds.map((r) => ({ ...r, propensity: r.propensity! * scale }));
        const b = evaluatePolicy({ ...data, rounds: scaled }, skewed).estimates.snips!.value;
        const rs = rounds.map((r) => r.reward);
        expect(a).toBeGreaterThanOrEqual(Math.min(...rs) - 1e-12);
        expect(a).toBeLessThanOrEqual(Math.max(...rs) + 1e-12);
        expect(b).toBeCloseTo(a, 9);
      }),
      { numRuns: 200 },
    );
  });

  it('DR with a zero reward model is IPS', () => {
    const zero: RewardModel = { predict: () => 0 };
    fc.assert(
      fc.property(roundsArb, (rounds) => {
        const r = evaluatePolicy({ rounds, rewardRange: { min: 0, max: 1 } }, skewed, { rewardModel: zero });
        expect(r.estimates.dr!.value).toBeCloseTo(r.estimates.ips!.value, 12);
      }),
      { numRuns: 200 },
    );
  });

  it('IPS and DR stay unbiased in expectation over the logging policy (exact enumeration)', () => {
    // One context, three actions, logging μ, any target π and rewards: Σ_a μ(a)·w(a)·r(a) = Σ_a π(a) r(a).
    fc.assert(
      fc.property(
        fc.tuple(fc.double({ min: 0.05, max: 1, noNaN: true }), fc.double({ min: 0.05, max: 1, noNaN: true })),
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        ([m1, m2], [t1, t2], rewards, q) => {
          const mu = [m1, m2, 1].map((v) => v / (m1 + m2 + 1));
          const pi = [t1, t2, 1].map((v) => v / (t1 + t2 + 1));
          const truth = pi.reduce((s, p, a) => s + p * rewards[a]!, 0);
          const qt = pi.reduce((s, p, a) => s + p * q[a]!, 0);
          let ips = 0;
          let dr = 0;
          for (let a = 0; a < 3; a++) {
            const terms: RoundTerms = {
              weight: Float64Array.of(pi[a]! / mu[a]!),
              reward: Float64Array.of(rewards[a]!),
              qChosen: Float64Array.of(q[a]!),
              qTarget: Float64Array.of(qt),
            };
            ips += mu[a]! * ipsEstimate(terms).value;
            dr += mu[a]! * drEstimate(terms).value;
          }
          expect(ips).toBeCloseTo(truth, 9);
          expect(dr).toBeCloseTo(truth, 9);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a CLT interval is centred on the mean and widens with the confidence level', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 40 }), (xs) => {
        const a = cltEstimate(xs, { confidence: 0.9 });
        const b = cltEstimate(xs, { confidence: 0.99 });
        expect(a.upper - a.value).toBeCloseTo(a.value - a.lower, 9);
        expect(b.upper - b.lower).toBeGreaterThanOrEqual(a.upper - a.lower);
      }),
    );
  });
});

describe('numerics', () => {
  it('meanAndVariance gives the mean and the n − 1 sample variance, 0 below two values', () => {
    // 1, 2, 3, 4: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, variance 5/3.
    expect(meanAndVariance([1, 2, 3, 4])).toEqual({ mean: 2.5, variance: expect.closeTo(5 / 3, 12) });
    expect(meanAndVariance([7])).toEqual({ mean: 7, variance: 0 });
    expect(meanAndVariance([]).mean).toBeNaN();
  });

  it('normalQuantile matches known quantiles and is antisymmetric', () => {
    expect(zFor(0.95)).toBeCloseTo(1.959963985, 8);
    expect(normalQuantile(0.995)).toBeCloseTo(2.575829304, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306, 7);
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 0.5, noNaN: true }), (p) => {
        expect(normalQuantile(p) + normalQuantile(1 - p)).toBeCloseTo(0, 6);
      }),
    );
  });
});
