/**
 * Warm start from logged decisions: per-action sufficient statistics in which each logged observation carries an
 * importance weight, so that a skewed logging policy's favourite actions do not dominate what is learned.
 *
 * The rule is retraining's (core/importance.ts, core/retrain/weighting.ts), so a warm start learns from a history
 * exactly what the offline retraining pipeline would: a logged line with K candidates and propensity p (the
 * logger's probability of the chosen action) adds the chosen action's observation (x, r) with weight
 *
 *   w = min(maxWeight, 1 / (K · p)),   maxWeight = DEFAULT_CLIP by default,
 *
 * and each action's weighted sums are then rescaled to their effective sample size (`finalizeWeighted`).
 * 1/(K·p) is the ratio of the uniform policy's probability of that choice to the logger's: reweighted, the sample
 * looks as if a uniform logger had collected it, so (i) the shared model is not fitted mostly to the logger's
 * favourite actions, and (ii) when the logger's choice depended on the context, each action's regression sees the
 * contexts in their natural proportions instead of the ones the logger steered to it. The rescaling keeps it honest:
 * weights move each action's posterior mean, but its count is the effective sample size, never more than the
 * observations collected, so rarely logged actions are still explored. A uniform logger gets w = 1 everywhere,
 * i.e. plain statistics. Pure: no I/O, deterministic.
 */
import type { ActionStats } from '../shared/core/bandit/index.ts';
import { encodeFeatures, FeatureEncodingError } from '../shared/core/features/encode.ts';
import { eventReward } from '../shared/core/feedback/reward.ts';
import { DEFAULT_CLIP } from '../shared/core/importance.ts';
import {
  addWeighted,
  decisionWeight,
  emptyWeighted,
  finalizeWeighted,
  type WeightedStats,
} from '../shared/core/retrain/weighting.ts';
import { SimFormatError, SimOptionError } from './errors.ts';
import type { FeatureInput, HistoryLine, Numbered } from './formats.ts';

export interface WarmStartSettings {
  readonly contextDim: number;
  readonly actionDim: number;
  /** Reward per event type (the decision point's `rewards`): a line's `events`, when present, are scored with it. */
  readonly rewards: Readonly<Record<string, number>>;
}

export interface WarmStartOptions {
  /** Largest weight of one observation (the clip; default retraining's `DEFAULT_CLIP`). */
  readonly maxWeight?: number;
  /** Names the file in error messages. */
  readonly source?: string;
}

export interface WarmStartAction {
  readonly id: string;
  /** Features of the action at its first appearance in the log. */
  readonly features: FeatureInput;
  readonly stats: ActionStats;
}

export interface WarmStart {
  /** Every action that appears in the log (as a candidate or chosen), in order of first appearance. */
  readonly actions: readonly WarmStartAction[];
  readonly lines: number;
  /** Σ over actions of the effective sample size: the log's worth in observations after weighting. */
  readonly totalWeight: number;
}

/**
 * The reward of a logged or simulated outcome under the decision point's reward settings: events are scored with
 * the engine's `eventReward` semantics (each type's count × its configured amount; with no settings, any event is
 * worth 1; an unlisted type is worth nothing); without events, the recorded reward stands.
 */
export function outcomeReward(
  rewards: Readonly<Record<string, number>>,
  events: Readonly<Record<string, number>> | undefined,
  reward: number,
): number {
  if (events === undefined) return reward;
  let total = 0;
  for (const type in events) {
    const count = events[type] as number;
    if (count === 0) continue;
    const amount = eventReward(rewards, { eventId: 'sim', userId: 'sim', type });
    if (amount !== undefined) total += count * amount;
  }
  return total;
}

/** The importance weight of one logged line (see the module documentation). */
export function warmStartWeight(candidates: number, propensity: number, maxWeight = DEFAULT_CLIP): number {
  return decisionWeight({ kind: 'uniform', clip: maxWeight }, propensity, candidates).weight;
}

/** Builds importance-weighted per-action statistics from history lines (see the module documentation). */
export function warmStart(
  lines: Iterable<Numbered<HistoryLine>>,
  settings: WarmStartSettings,
  options: WarmStartOptions = {},
): WarmStart {
  const maxWeight = options.maxWeight ?? DEFAULT_CLIP;
  if (!(maxWeight > 0) || !Number.isFinite(maxWeight))
    throw new SimOptionError(`maxWeight must be > 0, got ${maxWeight}`);
  const source = options.source ?? 'history';
  const d = settings.contextDim;
  const rule = { kind: 'uniform', clip: maxWeight } as const;
  const byId = new Map<string, { id: string; features: FeatureInput; weighted: WeightedStats }>();
  const x = new Float64Array(d);
  let count = 0;
  for (const { value: rec, line } of lines) {
    try {
      encodeFeatures(rec.context, d, x);
      for (const a of rec.actions) {
        if (byId.has(a.id)) continue;
        // Encoding here only validates that the features fit; the simulator encodes them once for good.
        encodeFeatures(a.features, settings.actionDim);
        byId.set(a.id, { id: a.id, features: a.features, weighted: emptyWeighted(d) });
      }
    } catch (cause) {
      if (cause instanceof FeatureEncodingError) throw new SimFormatError(source, line, cause.message, { cause });
      throw cause;
    }
    const r = outcomeReward(settings.rewards, rec.events, rec.reward);
    const w = decisionWeight(rule, rec.propensity, rec.actions.length);
    addWeighted(byId.get(rec.chosen)!.weighted, x, r, w, 0);
    count++;
  }
  // Map iteration follows insertion: the order of first appearance.
  const actions = [...byId.values()].map(({ id, features, weighted }) => ({
    id,
    features,
    stats: finalizeWeighted(weighted),
  }));
  let totalWeight = 0;
  for (const a of actions) totalWeight += a.stats.n;
  return { actions, lines: count, totalWeight };
}
