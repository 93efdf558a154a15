/**
 * The serving policy's definition, checked from first principles: in weighted mode the slot-1 law of "draw every
 * objective's score independently, add them with the weights, each times its reach share clamp(p_k(x) / p̄_k, 0, 1)
 * computed by hand, take the argmax (ε: uniform)"; in intent mode the
 * objective with the largest clamp(xᵀβ_k, 0, 1) × value_k × w_k among those with enough outcomes, else `default`.
 */
import { describe, expect, it } from 'vitest';
import { buildPosterior, DEFAULT_PRIORS, type HybridPosterior } from '../../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../../shared/core/bandit/score.ts';
import { type ActionStats, addObservation, emptyStats } from '../../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE, INTENT_ACTION, intentObjective } from '../../../shared/core/domain.ts';
import {
  buildServingPolicyModel,
  type IntentModel,
  intentModel,
  type ServingPolicySettings,
  ServingScores,
  scoreServingPolicy,
  servingObjective,
} from '../../../shared/core/policy/serving-policy.ts';
import { createRng } from '../../../shared/core/random.ts';

const d = 3;
const x = Float64Array.from([1, 0.5, -1]);
const features = [Float64Array.from([1, 0]), Float64Array.from([1, 1]), Float64Array.from([1, -1])];

/** A posterior over three actions, each with `n` observations of reward means[i] at x (few: wide posteriors). */
function posterior(means: number[], n = 6): HybridPosterior {
  return buildPosterior(
    { d, m: 2 },
    DEFAULT_PRIORS,
    means.map((mu, i) => {
      const s = emptyStats(d);
      for (let k = 0; k < n; k++) addObservation(s, x, mu + (k % 2 === 0 ? 0.3 : -0.3));
      return { id: `a${i}`, features: features[i]!, stats: s };
    }),
  );
}

const all = Int32Array.from([0, 1, 2]);
const settings = (over: Partial<ServingPolicySettings>): ServingPolicySettings => ({
  objectives: [
    { name: 'p', weight: 1 },
    { name: 'q', weight: 2.5 },
  ],
  combine: { mode: 'weighted', minOutcomes: 10 },
  exploration: { epsilon: 0.1, scale: 1 },
  ...over,
});

function probabilities(model: Parameters<typeof scoreServingPolicy>[0], s: ServingPolicySettings, at = x) {
  const out = new ServingScores();
  const served = scoreServingPolicy(model, s, at, all, out);
  return { served, p: Array.from(out.probability.subarray(0, 3)) };
}

/** Slot-1 frequencies of the policy as defined, one objective draw at a time, over n rounds. */
function sampleDefinition(
  parts: { post: HybridPosterior; weight: number }[],
  epsilon: number,
  scale: number,
  n: number,
  seed: number,
): number[] {
  const rng = createRng(seed);
  const mean = parts.map(() => new Float64Array(3));
  const sd = parts.map(() => new Float64Array(3));
  parts.forEach((part, k) => {
    scoreInto(part.post, x, all, scale, mean[k]!, sd[k]!);
  });
  const counts = [0, 0, 0];
  for (let r = 0; r < n; r++) {
    if (rng.next() < epsilon) {
      counts[rng.int(3)]!++;
      continue;
    }
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let a = 0; a < 3; a++) {
      let score = 0;
      for (let k = 0; k < parts.length; k++) {
        score += parts[k]!.weight * (mean[k]![a]! + sd[k]![a]! * rng.normal());
      }
      if (score > bestScore) {
        bestScore = score;
        best = a;
      }
    }
    counts[best]!++;
  }
  return counts.map((c) => c / n);
}

const intent = (over: Partial<IntentModel>): IntentModel => ({
  weights: new Float64Array(d),
  outcomes: 100,
  decisions: 1000,
  valuePerOutcome: 1,
  ...over,
});

describe('scoreServingPolicy', () => {
  const posteriors = new Map([
    [DEFAULT_OBJECTIVE, posterior([0.9, 0.1, 0.2])],
    ['p', posterior([0.2, 0.6, 0.4])],
    ['q', posterior([0.3, 0.1, 0.25])],
  ]);

  it('weighted mode: the slot-1 law of adding independent draws of every objective’s score, with the ε floor', () => {
    const s = settings({});
    const { served, p } = probabilities({ posteriors, intent: new Map(), decisions: 0 }, s);
    expect(served).toBe('weighted');
    const n = 200_000;
    const sampled = sampleDefinition(
      s.objectives.map((o) => ({ post: posteriors.get(o.name)!, weight: o.weight })),
      0.1,
      1,
      n,
      5,
    );
    p.forEach((pi, i) => {
      expect(Math.abs(sampled[i]! - pi), `action ${i}`).toBeLessThan(4.5 * Math.sqrt((pi * (1 - pi)) / n));
      expect(pi).toBeGreaterThanOrEqual(0.1 / 3);
    });
    // Not the global posterior's law (it prefers action 0).
    const global = sampleDefinition([{ post: posteriors.get(DEFAULT_OBJECTIVE)!, weight: 1 }], 0.1, 1, n, 6);
    expect(Math.abs(global[0]! - p[0]!)).toBeGreaterThan(0.2);
  });

  it('weighted mode: each objective’s draw counts by its reach share clamp(p_k(x) / p̄_k, 0, 1)', () => {
    // p: a user like x reaches it at 0.05 (x·β = 0.05), half the rate over all decisions (100 / 1,000): share 0.5.
    // q: at 0.1 + 0.5 × 0.4 = 0.3, three times the average: share 1 (counts in full).
    const model = {
      posteriors,
      intent: new Map([
        ['p', intent({ weights: Float64Array.from([0.05, 0, 0]) })],
        ['q', intent({ weights: Float64Array.from([0.1, 0.4, 0]) })],
      ]),
      decisions: 0,
    };
    const s = settings({});
    const { served, p } = probabilities(model, s);
    expect(served).toBe('weighted');
    const n = 200_000;
    const sampled = sampleDefinition(
      [
        { post: posteriors.get('p')!, weight: 1 * 0.5 },
        { post: posteriors.get('q')!, weight: 2.5 * 1 },
      ],
      0.1,
      1,
      n,
      8,
    );
    p.forEach((pi, i) => {
      expect(Math.abs(sampled[i]! - pi), `action ${i}`).toBeLessThan(4.5 * Math.sqrt((pi * (1 - pi)) / n));
    });
    // Not the law with both objectives in full.
    const full = probabilities({ posteriors, intent: new Map(), decisions: 0 }, s).p;
    expect(Math.max(...p.map((pi, i) => Math.abs(pi - full[i]!)))).toBeGreaterThan(0.02);
  });

  it('weighted mode: a goal users like x never reach adds neither value nor exploration to their scores', () => {
    // The purchase-like objective q: its intent model puts users like x at or below 0 (they never reach it).
    const never = {
      posteriors,
      intent: new Map([
        ['p', intent({ weights: Float64Array.from([0.3, 0, 0]) })],
        ['q', intent({ weights: Float64Array.from([0.2, 0, 0.25]) })], // 0.2 − 0.25 < 0
      ]),
      decisions: 0,
    };
    const both = probabilities(never, settings({})).p;
    const pAlone = probabilities(
      { posteriors, intent: new Map(), decisions: 0 },
      settings({ objectives: [{ name: 'p', weight: 1 }] }),
    ).p;
    both.forEach((pi, i) => {
      expect(pi).toBeCloseTo(pAlone[i]!, 12);
    });
    // An intent model with fewer than minOutcomes outcomes cannot tell yet: the objective counts in full.
    const young = {
      posteriors,
      intent: new Map([['q', intent({ weights: Float64Array.from([0.2, 0, 0.25]), outcomes: 9 })]]),
      decisions: 0,
    };
    const full = probabilities({ posteriors, intent: new Map(), decisions: 0 }, settings({})).p;
    probabilities(young, settings({})).p.forEach((pi, i) => {
      expect(pi).toBeCloseTo(full[i]!, 12);
    });
  });

  it('intent mode: Thompson sampling over the selected objective’s posterior alone', () => {
    const model = {
      posteriors,
      intent: new Map([
        ['p', intent({ weights: Float64Array.from([0.1, 0, 0]) })],
        ['q', intent({ weights: Float64Array.from([0.3, 0, 0]) })],
      ]),
      decisions: 0,
    };
    const { served, p } = probabilities(model, settings({ combine: { mode: 'intent', minOutcomes: 10 } }));
    expect(served).toBe('q'); // 0.3 × 1 × 2.5 > 0.1 × 1 × 1
    const sampled = sampleDefinition([{ post: posteriors.get('q')!, weight: 1 }], 0.1, 1, 200_000, 7);
    p.forEach((pi, i) => {
      expect(Math.abs(sampled[i]! - pi), `action ${i}`).toBeLessThan(4.5 * Math.sqrt((pi * (1 - pi)) / 200_000));
    });
  });

  it('with ε = 1 every candidate is equally likely whatever the scores', () => {
    const { p } = probabilities(
      { posteriors, intent: new Map(), decisions: 0 },
      settings({ exploration: { epsilon: 1, scale: 1 } }),
    );
    for (const pi of p) expect(pi).toBeCloseTo(1 / 3, 12);
  });
});

describe('servingObjective (intent mode)', () => {
  const s = settings({ combine: { mode: 'intent', minOutcomes: 10 } });
  const model = (p: Partial<IntentModel>, q: Partial<IntentModel>) => ({
    posteriors: new Map(),
    intent: new Map([
      ['p', intent(p)],
      ['q', intent(q)],
    ]),
    decisions: 0,
  });
  // At x = (1, 0.5, −1): xᵀβ for β = (b0, b1, b2) is b0 + 0.5 b1 − b2.
  it('serves the objective with the largest P(reach | x) × value per outcome × weight', () => {
    // p: 0.4 × 5 × 1 = 2; q: 0.5 × 1 × 2.5 = 1.25.
    expect(
      servingObjective(
        model(
          { weights: Float64Array.from([0.2, 0.4, 0]), valuePerOutcome: 5 },
          { weights: Float64Array.from([0, 0, -0.5]) },
        ),
        s,
        x,
      ),
    ).toBe('p');
    // p: 0.4 × 1 × 1 = 0.4; q: 0.5 × 1 × 2.5 = 1.25.
    expect(
      servingObjective(
        model({ weights: Float64Array.from([0.2, 0.4, 0]) }, { weights: Float64Array.from([0, 0, -0.5]) }),
        s,
        x,
      ),
    ).toBe('q');
  });

  it('clamps the linear probability to [0, 1] before weighing it', () => {
    // p: raw 3 → 1, × 1 × 1 = 1; q: raw 0.45 × 1 × 2.5 = 1.125. Unclamped, p would win (3 > 1.125).
    expect(
      servingObjective(
        model({ weights: Float64Array.from([3, 0, 0]) }, { weights: Float64Array.from([0.45, 0, 0]) }),
        s,
        x,
      ),
    ).toBe('q');
  });

  it('skips objectives with fewer than minOutcomes outcomes, and falls back to the global policy when none has enough', () => {
    const strongP = { weights: Float64Array.from([1, 0, 0]), outcomes: 9 };
    expect(servingObjective(model(strongP, { weights: Float64Array.from([0.01, 0, 0]) }), s, x)).toBe('q');
    expect(servingObjective(model(strongP, { outcomes: 0 }), s, x)).toBe(DEFAULT_OBJECTIVE);
  });

  it('gives a tie to the objective configured first, and names the mode or the global policy outside intent mode', () => {
    const same = { weights: Float64Array.from([0.5, 0, 0]) };
    const tie = settings({
      objectives: [
        { name: 'q', weight: 1 },
        { name: 'p', weight: 1 },
      ],
      combine: { mode: 'intent', minOutcomes: 1 },
    });
    expect(servingObjective(model(same, same), tie, x)).toBe('q');
    expect(servingObjective(model(same, same), settings({}), x)).toBe('weighted');
    expect(servingObjective(model(same, same), settings({ objectives: [] }), x)).toBe(DEFAULT_OBJECTIVE);
  });
});

/** Three actions, each with `n` rewards of mean(a) + N(0, 0.3²) at random contexts (1, z1, z2), from `seed`. */
function noisyStats(seed: number, n: number, mean: (a: number) => number): Map<string, ActionStats> {
  const rng = createRng(seed);
  const stats = new Map<string, ActionStats>();
  for (let a = 0; a < 3; a++) {
    const s = emptyStats(d);
    for (let i = 0; i < n; i++) {
      addObservation(s, Float64Array.from([1, rng.normal(), rng.normal()]), mean(a) + 0.3 * rng.normal());
    }
    stats.set(`a${a}`, s);
  }
  return stats;
}

describe('buildServingPolicyModel', () => {
  it('fits each intent model by ridge regression under the shared prior, its value per outcome from the objective’s total reward', () => {
    // With x = (1, 0, 0) only: weight_0 = Σr / (n + λs), the others 0.
    const e0 = Float64Array.from([1, 0, 0]);
    const reached = emptyStats(d);
    for (let i = 0; i < 40; i++) addObservation(reached, e0, i < 10 ? 1 : 0);
    const purchases = emptyStats(d);
    for (let i = 0; i < 10; i++) addObservation(purchases, e0, 7);
    const stats = new Map<string, Map<string, ActionStats>>([
      ['p', new Map([['a0', purchases]])],
      [intentObjective('p'), new Map([[INTENT_ACTION, reached]])],
    ]);
    const actions = features.map((f, i) => ({ id: `a${i}`, features: f }));
    const m = buildServingPolicyModel(
      { d, m: 2 },
      { ...DEFAULT_PRIORS, lambdaShared: 2 },
      actions,
      [{ name: 'p' }],
      stats,
    );
    const model = m.intent.get('p')!;
    expect(model.weights[0]).toBeCloseTo(10 / (40 + 2), 12);
    expect(model.weights[1]).toBeCloseTo(0, 12);
    expect(model).toMatchObject({ outcomes: 10, decisions: 40, valuePerOutcome: 70 / 10 });
    expect([...m.posteriors.keys()]).toEqual([DEFAULT_OBJECTIVE, 'p']);
    expect(m.posteriors.get('p')!.ids).toEqual(['a0', 'a1', 'a2']);
    // No intent data: never selected (0 outcomes), value 0.
    expect(intentModel(undefined, 5, 1, d)).toMatchObject({ outcomes: 0, decisions: 0, valuePerOutcome: 0 });
  });

  it('learns the same priors whether or not the model it replaces was built on no data (that is no fit to refine)', () => {
    // Rewards that are noise around one mean: the evidence wants strong shrinkage, far above the start value 1.
    const stats = noisyStats(12, 200, () => 0.5);
    const actions = features.map((f, i) => ({ id: `a${i}`, features: f }));
    const empty = buildServingPolicyModel({ d, m: 2 }, {}, actions, [], new Map());
    const fresh = buildServingPolicyModel({ d, m: 2 }, {}, actions, [], new Map([[DEFAULT_OBJECTIVE, stats]]));
    const after = buildServingPolicyModel({ d, m: 2 }, {}, actions, [], new Map([[DEFAULT_OBJECTIVE, stats]]), {
      previous: empty,
    });
    const learned = fresh.fits!.get(DEFAULT_OBJECTIVE)!;
    expect(Math.max(learned.lambdaShared, learned.lambdaAction)).toBeGreaterThan(10);
    expect(after.fits!.get(DEFAULT_OBJECTIVE)).toEqual(learned);
  });

  it('serves a promoted multiplier as the learned λ times it, only where the settings leave that λ out', () => {
    const stats = noisyStats(5, 50, (a) => 0.2 * a);
    const actions = features.map((f, i) => ({ id: `a${i}`, features: f }));
    const byObjective = new Map([[DEFAULT_OBJECTIVE, stats]]);
    const plain = buildServingPolicyModel({ d, m: 2 }, {}, actions, [], byObjective);
    const fit = plain.fits!.get(DEFAULT_OBJECTIVE)!;
    const priorScale = { shared: 0.1, action: 10 };
    const scaled = buildServingPolicyModel({ d, m: 2 }, {}, actions, [], byObjective, { priorScale });
    // The posterior is the one the multiplied λs give as settings would; the fit (where refits start) is unchanged.
    const asSettings = buildServingPolicyModel(
      { d, m: 2 },
      { lambdaShared: fit.lambdaShared * 0.1, lambdaAction: fit.lambdaAction * 10 },
      actions,
      [],
      byObjective,
    );
    const served = scaled.posteriors.get(DEFAULT_OBJECTIVE)!;
    expect(served.priors).toEqual(asSettings.posteriors.get(DEFAULT_OBJECTIVE)!.priors);
    expect(Array.from(served.w)).toEqual(Array.from(asSettings.posteriors.get(DEFAULT_OBJECTIVE)!.w));
    expect(scaled.fits!.get(DEFAULT_OBJECTIVE)).toEqual(fit);
    // A λ the settings give is used as given: its multiplier does not apply.
    const given = buildServingPolicyModel({ d, m: 2 }, { lambdaAction: 3 }, actions, [], byObjective, { priorScale });
    expect(given.posteriors.get(DEFAULT_OBJECTIVE)!.priors.lambdaAction).toBe(3);
    expect(given.posteriors.get(DEFAULT_OBJECTIVE)!.priors.lambdaShared).toBe(
      given.fits!.get(DEFAULT_OBJECTIVE)!.lambdaShared * 0.1,
    );
  });
});
