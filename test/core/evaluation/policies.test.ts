import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crossFitRewardModel,
  EmptyLogError,
  evaluatePolicy,
  fitRewardModel,
  InvalidRoundError,
  InvalidTargetPolicyError,
  InvalidTargetSpecError,
  loggingPolicy,
  parseTargetSpec,
  policyFromProbabilities,
  RewardOutOfRangeError,
  type Round,
  resolveTarget,
  TargetUnavailableError,
  uniformPolicy,
} from '../../../shared/core/evaluation/index.ts';

const cands = (k: number) => Array.from({ length: k }, (_, i) => ({ id: `i${i}` }));

describe('target specs', () => {
  it('parses uniform, logging and model:VERSION', () => {
    expect(parseTargetSpec('uniform')).toEqual({ kind: 'uniform' });
    expect(parseTargetSpec('logging')).toEqual({ kind: 'logging' });
    expect(parseTargetSpec('model:2024-06-01.3')).toEqual({ kind: 'model', version: '2024-06-01.3' });
  });

  it.each(['greedy', 'model:', 'model:a b', 'Uniform'])('rejects %j', (spec) => {
    expect(() => parseTargetSpec(spec)).toThrow(InvalidTargetSpecError);
  });

  it('model targets fail clearly without an engine, and resolve through one when given', () => {
    expect(() => resolveTarget({ kind: 'model', version: 'v3' })).toThrow(
      new TargetUnavailableError('model targets need a running engine state; not available in this build'),
    );
    const engine = { name: 'model:v3', distribution: uniformPolicy.distribution };
    expect(resolveTarget({ kind: 'model', version: 'v3' }, (v) => ({ ...engine, name: `model:${v}` })).name).toBe(
      'model:v3',
    );
  });
});

describe('built-in policies', () => {
  it('uniform gives every candidate 1/k; logging gives the chosen action its propensity; both sum to 1', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 40 })
          .chain((k) =>
            fc.tuple(
              fc.constant(k),
              fc.integer({ min: 0, max: k - 1 }),
              fc.double({ min: 0.001, max: 1, noNaN: true }),
            ),
          ),
        ([k, chosen, p]) => {
          const round: Round = { context: {}, candidates: cands(k), chosenIndex: chosen, propensity: p, reward: 0 };
          const out = new Float64Array(k + 3).fill(-1);
          uniformPolicy.distribution(round, out);
          for (let i = 0; i < k; i++) expect(out[i]).toBeCloseTo(1 / k, 12);
          expect(out[k]).toBe(-1);
          loggingPolicy.distribution(round, out);
          expect(out[chosen]).toBeCloseTo(k === 1 ? 1 : p, 12);
          expect(Array.from(out.subarray(0, k)).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 9);
        },
      ),
    );
  });

  it('policies built from a map give absent candidates 0, and a policy that is not a distribution is rejected', () => {
    const rounds: Round[] = [0, 1].map((i) => ({
      context: {},
      candidates: cands(3),
      chosenIndex: i,
      propensity: 0.5,
      reward: 1,
    }));
    const good = policyFromProbabilities('map', () => new Map([['i0', 1]]));
    expect(evaluatePolicy({ rounds, rewardRange: { min: 0, max: 1 } }, good).estimates.ips!.value).toBeCloseTo(1, 12);
    const bad = policyFromProbabilities('half', () => new Map([['i0', 0.5]]));
    expect(() => evaluatePolicy({ rounds }, bad)).toThrow(InvalidTargetPolicyError);
    expect(() => evaluatePolicy({ rounds }, bad)).toThrow(
      'target policy "half", round 1: probabilities sum to 0.5, not 1',
    );
  });
});

describe('evaluatePolicy input checks', () => {
  const round: Round = { context: {}, candidates: cands(2), chosenIndex: 0, propensity: 0.5, reward: 3 };

  it('rejects an empty log', () => {
    expect(() => evaluatePolicy({ rounds: [] }, uniformPolicy)).toThrow(EmptyLogError);
  });

  it('rejects a reward outside the declared range, naming the round', () => {
    expect(() => evaluatePolicy({ rounds: [round], rewardRange: { min: 0, max: 1 } }, uniformPolicy)).toThrow(
      new RewardOutOfRangeError(0, 3, 0, 1),
    );
  });

  it('rejects a chosen index outside the candidates and a propensity above 1', () => {
    expect(() => evaluatePolicy({ rounds: [{ ...round, chosenIndex: 2 }] }, uniformPolicy)).toThrow(InvalidRoundError);
    expect(() => evaluatePolicy({ rounds: [{ ...round, propensity: 1.2 }] }, uniformPolicy)).toThrow(InvalidRoundError);
  });

  it('falls back to the observed reward range, and says so', () => {
    const rounds = [round, { ...round, reward: 7, chosenIndex: 1 }];
    const r = evaluatePolicy({ rounds }, uniformPolicy);
    expect(r.details.rewardRange).toEqual({ min: 3, max: 7 });
    expect(r.details.rewardRangeSource).toBe('observed');
    expect(r.warnings.some((w) => w.startsWith('reward range [3, 7] taken from the observed rewards'))).toBe(true);
  });
});

describe('reward models', () => {
  it('the linear model recovers per-action linear rewards', () => {
    // r = 0.2 + 0.1·x0 − 0.05·x1 for action i0, 0.6 − 0.1·x0 for i1; plenty of data, so shrinkage is negligible.
    const rounds: Round[] = [];
    for (let i = 0; i < 2000; i++) {
      const x = Float64Array.of((i % 7) - 3, (i % 5) - 2);
      const a = i % 2;
      const reward = a === 0 ? 0.2 + 0.1 * x[0]! - 0.05 * x[1]! : 0.6 - 0.1 * x[0]!;
      rounds.push({ context: x, candidates: cands(2), chosenIndex: a, reward });
    }
    const idx = rounds.map((_, i) => i);
    const model = fitRewardModel(rounds, idx, { kind: 'linear', range: { min: -10, max: 10 } });
    const probe: Round = { context: Float64Array.of(2, -1), candidates: cands(2), chosenIndex: 0, reward: 0 };
    expect(model.predict(probe, 'i0')).toBeCloseTo(0.2 + 0.2 + 0.05, 2);
    expect(model.predict(probe, 'i1')).toBeCloseTo(0.6 - 0.2, 2);
    // Unseen actions fall back to the pooled regression: between the two.
    const unseen = model.predict(probe, 'never');
    expect(unseen).toBeGreaterThan(0.3);
    expect(unseen).toBeLessThan(0.5);
  });

  it('the cell-mean model separates clearly different cells and pools indistinguishable ones', () => {
    const mk = (a: number, reward: number, position: number): Round => ({
      context: {},
      candidates: cands(2),
      chosenIndex: a,
      reward,
      position,
    });
    const separated = Array.from({ length: 400 }, (_, i) => mk(i % 2, i % 2 === 0 ? 0.9 : 0.1, 1));
    const m1 = fitRewardModel(
      separated,
      separated.map((_, i) => i),
      { kind: 'cell-mean', range: { min: 0, max: 1 } },
    );
    expect(m1.predict(separated[0]!, 'i0')).toBeCloseTo(0.9, 2);
    expect(m1.predict(separated[0]!, 'i1')).toBeCloseTo(0.1, 2);
    // Identical reward distributions per action: the between-cell variance estimate is ≤ 0, so both get the mean.
    const same = Array.from({ length: 400 }, (_, i) => mk(i % 2, Math.floor(i / 2) % 2, 1));
    const m2 = fitRewardModel(
      same,
      same.map((_, i) => i),
      { kind: 'cell-mean', range: { min: 0, max: 1 } },
    );
    expect(m2.predict(same[0]!, 'i0')).toBeCloseTo(0.5, 9);
    expect(m2.predict(same[0]!, 'i1')).toBeCloseTo(0.5, 9);
  });

  it('cross-fitting: a round’s prediction comes from a model that never saw its reward', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 40 }),
        fc.nat(),
        fc.integer({ min: 0, max: 1000 }),
        (rewards, pick, seed) => {
          const rounds: Round[] = rewards.map((r, i) => ({
            context: Float64Array.of(i % 3),
            candidates: cands(2),
            chosenIndex: i % 2,
            reward: r,
          }));
          const i = pick % rounds.length;
          const changed = rounds.map((r, j) => (j === i ? { ...r, reward: 1 - r.reward } : r));
          const a = crossFitRewardModel(rounds, { range: { min: 0, max: 1 }, seed });
          const b = crossFitRewardModel(changed, { range: { min: 0, max: 1 }, seed });
          expect(Array.from(b.foldOf)).toEqual(Array.from(a.foldOf));
          const k = a.foldOf[i]!;
          for (const id of ['i0', 'i1']) {
            expect(b.models[k]!.predict(rounds[i]!, id)).toBe(a.models[k]!.predict(rounds[i]!, id));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
