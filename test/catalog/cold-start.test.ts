/**
 * Cold start through the model: a new action has no statistics, so the hybrid posterior scores it from its features
 * with the shared part, with its own (larger) uncertainty. Trained on actions where one feature predicts the reward,
 * the policy must explore a new action that has that feature more than one that lacks it, and neither never.
 */
import { describe, expect, it } from 'vitest';
import { buildPosterior, DEFAULT_PRIORS } from '../../shared/core/bandit/posterior.ts';
import { scoreInto } from '../../shared/core/bandit/score.ts';
import { type ActionStats, addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { argmaxProbabilities } from '../../shared/core/bandit/thompson.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';

const d = 4;
const m = 8;

function trainedCatalog(seed: number, lambdaAction = DEFAULT_PRIORS.lambdaAction) {
  const rng = createRng(seed);
  const actions: { id: string; features: Record<string, string | boolean>; stats: ActionStats | undefined }[] = [];
  // Ten known actions: the premium ones convert at 30 %, the others at 5 %, whatever their colour.
  for (let a = 0; a < 10; a++) {
    const premium = a % 2 === 0;
    const features = { premium, colour: `c${a}` };
    const stats = emptyStats(d);
    for (let t = 0; t < 300; t++) {
      const x = encodeFeatures({ device: rng.next() < 0.5 ? 'mobile' : 'desktop' }, d);
      addObservation(stats, x, rng.next() < (premium ? 0.3 : 0.05) ? 1 : 0);
    }
    actions.push({ id: `known-${a}`, features, stats });
  }
  actions.push({ id: 'new-premium', features: { premium: true, colour: 'teal' }, stats: undefined });
  actions.push({ id: 'new-basic', features: { premium: false, colour: 'olive' }, stats: undefined });
  return buildPosterior(
    { d, m },
    { ...DEFAULT_PRIORS, lambdaAction },
    actions.map((a) => ({ id: a.id, features: encodeFeatures(a.features, m), stats: a.stats })),
  );
}

/** Slot-1 probabilities of [new-premium, new-basic, known-premium, known-basic] for a mobile user, and their scores. */
function explore(seed: number, lambdaAction?: number) {
  const post = trainedCatalog(seed, lambdaAction);
  const x = encodeFeatures({ device: 'mobile' }, d);
  const candidates = Int32Array.from(['new-premium', 'new-basic', 'known-0', 'known-1'], (id) => post.index.get(id)!);
  const mean = new Float64Array(4);
  const sd = new Float64Array(4);
  scoreInto(post, x, candidates, 1, mean, sd);
  const p = new Float64Array(4);
  argmaxProbabilities(mean, sd, 4, 0, p);
  return { mean, sd, p: Array.from(p) as [number, number, number, number] };
}

describe('cold start', () => {
  it('explores a new action with promising features more than one with poor features, and neither never', () => {
    for (const seed of [1, 2, 3]) {
      const { mean, sd, p } = explore(seed);
      const [newPremium, newBasic, knownPremium, knownBasic] = p;
      // The shared part predicts the new actions from their features alone.
      expect(mean[0]!).toBeGreaterThan(mean[1]! + 0.2);
      // Each new action carries more uncertainty than the known action with the same features.
      expect(sd[0]!).toBeGreaterThan(5 * sd[2]!);
      expect(sd[1]!).toBeGreaterThan(5 * sd[3]!);
      // Explored in proportion to promise, not uniformly: the promising newcomer about twice as often as the weak one,
      // and more than the known action it resembles (its upside is still open)...
      expect(newPremium).toBeGreaterThan(1.5 * newBasic);
      expect(newPremium).toBeGreaterThan(knownPremium);
      // ...and the weak newcomer still gets real exploration, while the known weak action is all but ruled out.
      expect(newBasic).toBeGreaterThan(0.05);
      expect(knownBasic).toBeLessThan(1e-3);
    }
  });

  it('explores more selectively when the prior trusts the shared part more (larger lambdaAction)', () => {
    for (const seed of [1, 2, 3]) {
      const wide = explore(seed, 1).p;
      const tight = explore(seed, 20).p;
      expect(tight[0] / tight[1]).toBeGreaterThan(2 * (wide[0] / wide[1]));
      expect(tight[1]).toBeGreaterThan(0);
    }
  });
});
