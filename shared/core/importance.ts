/**
 * Importance weighting: the one rule by which a logged decision is re-weighted, and the one measure of what a
 * weighted log is worth. Retraining (core/retrain/weighting.ts), the simulator's warm start (sim/warm-start.ts) and
 * off-policy evaluation (core/evaluation) all weight through {@link importanceWeight} and count through
 * {@link effectiveSampleSize}.
 *
 * **The rule.** A decision whose chosen action a was logged with propensity p = π_log(a | x) carries the weight
 *
 *   w = min(clip, π_target(a | x) / p).
 *
 * - *Learning* (retraining, warm start): the target is the uniform policy over the decision's K logged candidates,
 *   π_target = 1/K, so the weighted log looks as if uniform exploration had collected it, and `clip` is
 *   {@link DEFAULT_CLIP} unless configured. Clipping trades a bias towards the logging policy for variance; the
 *   weighted statistics are then rescaled to their effective sample size (core/retrain/weighting.ts
 *   `finalizeWeighted`), so a large weight moves the posterior mean without claiming evidence that was not collected.
 * - *Evaluation*: the target is the policy evaluated and the weight is not clipped (`clip` = ∞): IPS and DR are
 *   unbiased only unclipped; DRos shrinks and HCOPE clips by rules of their own, chosen so that their intervals and
 *   bounds stay valid.
 */

/** Largest importance weight one logged decision may carry when the weights train a model, unless configured. */
export const DEFAULT_CLIP = 20;

/** The importance weight min(clip, targetProbability / propensity) of one logged decision; `propensity` > 0. */
export function importanceWeight(targetProbability: number, propensity: number, clip: number = DEFAULT_CLIP): number {
  return Math.min(targetProbability / propensity, clip);
}

/** The sums a set of weights is summarised by: Σw and Σw². */
export interface WeightSums {
  readonly sumW: number;
  readonly sumW2: number;
}

/** Σw and Σw² of `weights`. */
export function weightSums(weights: ArrayLike<number>): WeightSums {
  let sumW = 0;
  let sumW2 = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    sumW += w;
    sumW2 += w * w;
  }
  return { sumW, sumW2 };
}

/**
 * Kish's effective sample size (Σw)² / Σw²: how many equally weighted observations the weighted ones are worth;
 * 0 for no data. Summaries that are kept as sums (mergeable partial aggregates) pass them directly; a list of
 * weights goes through {@link weightSums}.
 */
export function effectiveSampleSize(s: WeightSums): number {
  return s.sumW2 > 0 ? (s.sumW * s.sumW) / s.sumW2 : 0;
}
