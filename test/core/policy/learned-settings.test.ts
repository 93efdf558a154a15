/**
 * The serving policy under learned settings (issue 13): priors learned from the data, the compound-event noise, the
 * coverage rule (covered actions served on their mean) and the ε schedule. Two rules are checked against what they
 * say, independently of how they are computed:
 * - coverage: an action whose data span the contexts keeps a quarter of its Thompson variance; a cold action, or one only ever shown to a
 *   slice of the users, keeps its Thompson noise;
 * - exactness: the probabilities the policy logs are the frequencies with which `selectThompson` picks, drawn from the
 *   same scores and ε (Monte Carlo, 200,000 draws).
 */
import { describe, expect, it } from 'vitest';
import { summarizeModel } from '../../../shared/app/catalog/model-summary.ts';
import { COVERED_VARIANCE_SHARE } from '../../../shared/core/bandit/posterior.ts';
import { type ActionStats, addObservation, emptyStats } from '../../../shared/core/bandit/stats.ts';
import { selectThompson } from '../../../shared/core/bandit/thompson.ts';
import { DEFAULT_OBJECTIVE } from '../../../shared/core/domain.ts';
import {
  buildServingPolicyModel,
  ServingScores,
  scoreServingPolicy,
} from '../../../shared/core/policy/serving-policy.ts';
import { createRng } from '../../../shared/core/random.ts';
import { decisionPointSettingsSchema } from '../../../shared/core/schemas.ts';

const d = 4;
const m = 2;

/** Actions a0…a3 shown to everyone; `narrow` only to users with x[1] > 1 (a sixth of them, one corner of the context space); `cold` never. */
function fixture(seed: number) {
  const rng = createRng(seed);
  const ids = ['a0', 'a1', 'a2', 'a3', 'narrow', 'cold'];
  const actions = ids.map((id, i) => ({ id, features: Float64Array.from([1, i / 5]) }));
  const stats = new Map<string, ActionStats>();
  for (const id of ids.slice(0, 5)) stats.set(id, emptyStats(d));
  for (let t = 0; t < 6000; t++) {
    const x = Float64Array.from([1, rng.normal(), rng.normal(), rng.normal()]);
    const a = rng.int(5);
    if (ids[a] === 'narrow' && x[1]! <= 1) continue;
    const p = 0.1 + 0.05 * a + 0.05 * x[2]!;
    addObservation(stats.get(ids[a]!)!, x, rng.next() < p ? 1 : 0);
  }
  const model = buildServingPolicyModel({ d, m }, {}, actions, [], new Map([[DEFAULT_OBJECTIVE, stats]]), {
    compoundEvents: [DEFAULT_OBJECTIVE],
    coverage: true,
  });
  return { ids, model };
}

describe('the coverage rule', () => {
  it('keeps a quarter of the noise of actions whose data span the contexts, and all of it for the narrow and the cold one', () => {
    const { ids, model } = fixture(1);
    const post = model.posteriors.get(DEFAULT_OBJECTIVE)!;
    const explore = Object.fromEntries(ids.map((id) => [id, post.explore[post.index.get(id)!]]));
    const c = COVERED_VARIANCE_SHARE;
    expect(explore).toEqual({ a0: c, a1: c, a2: c, a3: c, narrow: 1, cold: 1 });
  });

  it('is what GET …/model reports per action as `covered`', () => {
    const { ids, model } = fixture(1);
    const post = model.posteriors.get(DEFAULT_OBJECTIVE)!;
    const summary = summarizeModel({
      ...model,
      decisionPoint: {
        decisionPoint: 'dp',
        settings: decisionPointSettingsSchema.parse({ contextDim: d, actionDim: m }),
        createdAt: 0,
        updatedAt: 0,
        version: 1,
      },
      posterior: post,
      catalog: new Map(
        ids.map((actionId) => [
          actionId,
          { decisionPoint: 'dp', actionId, features: {}, status: 'live', createdAt: 0, updatedAt: 0, version: 1 },
        ]),
      ),
      stats: new Map(),
      version: 'v',
      builtAt: 0,
    });
    const covered = Object.fromEntries(summary.actions.map((a) => [a.actionId, a.objectives.default!.covered]));
    expect(covered).toEqual({ a0: true, a1: true, a2: true, a3: true, narrow: false, cold: false });
  });

  it('is off when the settings give the scale: every action keeps its noise', () => {
    const { model } = fixture(1);
    const { ids } = fixture(1);
    const rebuilt = buildServingPolicyModel(
      { d, m },
      {},
      ids.map((id, i) => ({ id, features: Float64Array.from([1, i / 5]) })),
      [],
      new Map([[DEFAULT_OBJECTIVE, new Map()]]),
      { coverage: false },
    );
    expect([...rebuilt.posteriors.get(DEFAULT_OBJECTIVE)!.explore]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(model.decisions).toBeGreaterThan(0);
  });
});

describe('exact propensities under learned settings', () => {
  it('logs the probabilities with which the policy picks (Monte Carlo)', () => {
    const { model } = fixture(2);
    const settings = { objectives: [], combine: { mode: 'weighted' as const, minOutcomes: 30 }, exploration: {} };
    const candidates = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const rng = createRng(3);
    for (const x of [Float64Array.from([1, 0.5, 1, -0.3]), Float64Array.from([1, -1.2, 0.2, 0.8])]) {
      const scores = new ServingScores();
      scoreServingPolicy(model, settings, x, candidates, scores);
      const p = Array.from(scores.probability.subarray(0, 6));
      expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
      const counts = new Array(6).fill(0);
      const N = 200_000;
      const chosen = new Int32Array(1);
      for (let i = 0; i < N; i++) {
        selectThompson(scores.mean, scores.sd, 6, rng, scores.epsilon, 1, chosen);
        counts[chosen[0]!]++;
      }
      for (let i = 0; i < 6; i++) {
        const sd = Math.sqrt((p[i]! * (1 - p[i]!)) / N);
        expect(Math.abs(counts[i] / N - p[i]!)).toBeLessThan(5 * sd + 1e-9);
      }
    }
  });
});
