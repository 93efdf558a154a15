/**
 * Importance-weighted sufficient statistics for offline retraining.
 *
 * **Why weight.** A logged decision was taken by the serving policy, which favours the actions it already believes in,
 * often on signals the model does not see (an older model's features, a business rule, a confounder). Fitting each
 * action's regression on the decisions where it happened to be chosen then learns "how good is a when the old policy
 * picked a", not "how good is a". Re-weighting every logged observation by π_target(a | x) / π_log(a | x) turns the
 * log into a sample of the target policy's data (Horvitz–Thompson), which removes that skew.
 *
 * **The rule** is the learning rule of core/importance.ts: the target is the uniform policy over the decision's
 * logged candidates, so a decision with K candidates whose slot-1 action was logged with propensity p weighs
 * w = min(clip, (1/K) / p), `clip` defaulting to its `DEFAULT_CLIP`. The data are thus re-weighted towards what
 * uniform exploration would have collected: every action gets an unbiased (up to clipping) picture of its reward over
 * the whole context distribution, and one decision never counts for more than `clip` decisions; the number of clipped
 * decisions is reported. The weight applies to every chosen slot of the decision (lower slots log their own
 * propensity given the slots above, `slotPropensities`, but slot-aware weighting is not built: using the decision's
 * weight keeps a decision's slots together). Decisions without a propensity
 * (imported history that never logged one) cannot be corrected and keep weight 1; they are counted so the report can
 * say so. `none` disables weighting.
 *
 * **Confidence is not inflated.** Σw would tell the posterior that a rarely chosen action was observed Σw times,
 * when its information is that of Kish's effective sample size n_eff = (Σw)² / Σw² (core/importance.ts).
 * {@link finalizeWeighted} therefore rescales each action's sums by n_eff / Σw = Σw / Σw²: the posterior mean (a
 * ratio of weighted sums) is unchanged, and the posterior variance reflects how much the weighted data really say.
 */
import {
  type ActionStats,
  addWeightedObservation,
  cloneStats,
  emptyStats,
  mergeStats,
  scaleStats,
} from '../bandit/stats.ts';
import { effectiveSampleSize, importanceWeight } from '../importance.ts';

export type WeightingRule = { kind: 'uniform'; clip: number } | { kind: 'none' };

export interface DecisionWeight {
  weight: number;
  /** The unclipped weight exceeded the clip. */
  clipped: boolean;
  /** No usable propensity: weight 1, uncorrected. */
  missingPropensity: boolean;
}

/** The importance weight of one logged decision under `rule` (see the module documentation). */
export function decisionWeight(
  rule: WeightingRule,
  propensity: number | undefined,
  candidates: number,
): DecisionWeight {
  if (rule.kind === 'none') return { weight: 1, clipped: false, missingPropensity: false };
  if (propensity === undefined || !(propensity > 0) || !(candidates >= 1)) {
    return { weight: 1, clipped: false, missingPropensity: true };
  }
  const target = 1 / candidates;
  const weight = importanceWeight(target, propensity, rule.clip);
  return { weight, clipped: weight < target / propensity, missingPropensity: false };
}

/** One action's importance-weighted statistics, with what the finalisation and the report need. Plain sums. */
export interface WeightedStats {
  stats: ActionStats;
  /** Σw over the decisions that showed the action. */
  sumW: number;
  /** Σw². */
  sumW2: number;
  /** Decisions that showed the action (unweighted count). */
  decisions: number;
  /** Decisions whose weight was clipped. */
  clipped: number;
  /** Decisions without a usable propensity (weight 1). */
  missingPropensity: number;
  /** Feedback events that became rewards. */
  rewardEvents: number;
}

export function emptyWeighted(d: number): WeightedStats {
  return { stats: emptyStats(d), sumW: 0, sumW2: 0, decisions: 0, clipped: 0, missingPropensity: 0, rewardEvents: 0 };
}

/**
 * Adds one observation (context x, total reward r of the decision for this action) with weight w
 * (`addWeightedObservation`: every sum gains w times one observation's). With w = 1 this is exactly
 * `addObservation` with the decision's total reward (the online path adds an impression with reward 0 and its
 * rewards later, which gives the same sums except Σr², which offline is the exact square of the decision's total).
 */
export function addWeighted(
  s: WeightedStats,
  x: Float64Array,
  r: number,
  w: DecisionWeight,
  rewardEvents: number,
): void {
  const wt = w.weight;
  addWeightedObservation(s.stats, x, r, wt);
  s.sumW += wt;
  s.sumW2 += wt * wt;
  s.decisions += 1;
  if (w.clipped) s.clipped += 1;
  if (w.missingPropensity) s.missingPropensity += 1;
  s.rewardEvents += rewardEvents;
}

/** into += from (all fields are sums, so partial aggregates merge in any order). */
export function mergeWeighted(into: WeightedStats, from: WeightedStats): void {
  mergeStats(into.stats, from.stats);
  into.sumW += from.sumW;
  into.sumW2 += from.sumW2;
  into.decisions += from.decisions;
  into.clipped += from.clipped;
  into.missingPropensity += from.missingPropensity;
  into.rewardEvents += from.rewardEvents;
}

/**
 * The statistics the posterior gets: the weighted sums rescaled so that their count equals the effective sample
 * size (see the module documentation). Unweighted statistics (all w = 1) come back unchanged.
 */
export function finalizeWeighted(s: WeightedStats): ActionStats {
  const out = cloneStats(s.stats);
  if (s.sumW2 > 0 && s.sumW > 0) {
    const scale = effectiveSampleSize(s) / s.sumW;
    if (Math.abs(scale - 1) > 1e-12) scaleStats(out, scale);
  }
  return out;
}
