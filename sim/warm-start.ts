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
 *
 * 1/(K·p) is the ratio of the uniform policy's probability of that choice to the logger's: reweighted, the sample
 * looks as if a uniform logger had collected it, so (i) the shared model is not fitted mostly to the logger's
 * favourite actions, and (ii) when the logger's choice depended on the context, each action's regression sees the
 * contexts in their natural proportions instead of the ones the logger steered to it. The rescaling keeps it honest:
 * weights move each action's posterior mean, but its count is the effective sample size, never more than the
 * observations collected, so rarely logged actions are still explored. A uniform logger gets w = 1 everywhere,
 * i.e. plain statistics.
 *
 * A line's reward follows the simulator's one rule (`sim/outcome.ts`): its `events` scored with
 * the reward mapping when one is configured, else its `reward`. Pure: no I/O, deterministic; lines are added one at a
 * time ({@link WarmStartBuilder}), so a history of any size is read as a stream.
 */
import type { ActionStats } from '../shared/core/bandit/index.ts';
import { encodeFeatures, FeatureEncodingError } from '../shared/core/features/encode.ts';
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
import { outcomeReward, rewardRuleNotice } from './outcome.ts';

export interface WarmStartSettings {
  readonly contextDim: number;
  readonly actionDim: number;
  /** Reward per event type (the decision point's `rewards`): when not empty, a line's `events` are scored with it. */
  readonly rewards: Readonly<Record<string, number>>;
}

export interface WarmStartOptions {
  /** Largest weight of one observation (default 1: discount over-represented actions, never inflate rare ones). */
  readonly maxWeight?: number;
  /** Names the file in error messages. */
  readonly source?: string;
  /** Called once, at the first line with both `reward` and `events`, with the rule that decides which counts. */
  readonly onNotice?: (message: string) => void;
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
  /** Σ w: the log's worth in observations after weighting. */
  readonly totalWeight: number;
}

/** The importance weight of one logged line (see the module documentation). */
export function warmStartWeight(candidates: number, propensity: number, maxWeight = DEFAULT_CLIP): number {
  return decisionWeight({ kind: 'uniform', clip: maxWeight }, propensity, candidates).weight;
}

/** Builds importance-weighted per-action statistics from history lines added one by one (see the module documentation). */
export class WarmStartBuilder {
  private readonly maxWeight: number;
  private readonly source: string;
  // Map iteration follows insertion: the order of first appearance.
  private readonly byId = new Map<string, { id: string; features: FeatureInput; weighted: WeightedStats }>();
  private readonly x: Float64Array;
  private count = 0;
  private onNotice: ((message: string) => void) | undefined;

  constructor(
    private readonly settings: WarmStartSettings,
    options: WarmStartOptions = {},
  ) {
    this.maxWeight = options.maxWeight ?? DEFAULT_CLIP;
    if (!(this.maxWeight > 0) || !Number.isFinite(this.maxWeight))
      throw new SimOptionError(`maxWeight must be > 0, got ${this.maxWeight}`);
    this.source = options.source ?? 'history';
    this.onNotice = options.onNotice;
    this.x = new Float64Array(settings.contextDim);
  }

  /** Adds one logged line (`line` names it in error messages). */
  add(rec: HistoryLine, line: number): void {
    const { settings, x } = this;
    try {
      encodeFeatures(rec.context, settings.contextDim, x);
      for (const a of rec.actions) {
        if (this.byId.has(a.id)) continue;
        // Encoding here only validates that the features fit; the simulator encodes them once for good.
        encodeFeatures(a.features, settings.actionDim);
        this.byId.set(a.id, { id: a.id, features: a.features, weighted: emptyWeighted(settings.contextDim) });
      }
    } catch (cause) {
      if (cause instanceof FeatureEncodingError) throw new SimFormatError(this.source, line, cause.message, { cause });
      throw cause;
    }
    if (rec.events !== undefined && this.onNotice !== undefined) {
      this.onNotice(rewardRuleNotice(settings.rewards, 'history lines', 'reward'));
      this.onNotice = undefined;
    }
    const r = outcomeReward(settings.rewards, rec.events, rec.reward);
    const w = decisionWeight({ kind: 'uniform', clip: this.maxWeight }, rec.propensity, rec.actions.length);
    addWeighted(this.byId.get(rec.chosen)!.weighted, x, r, w, 0);
    this.count++;
  }

  result(): WarmStart {
    const actions = [...this.byId.values()].map(({ id, features, weighted }) => ({
      id,
      features,
      stats: finalizeWeighted(weighted),
    }));
    let totalWeight = 0;
    for (const a of actions) totalWeight += a.stats.n;
    return { actions, lines: this.count, totalWeight };
  }
}

/** Builds importance-weighted per-action statistics from history lines held in memory. */
export function warmStart(
  lines: Iterable<Numbered<HistoryLine>>,
  settings: WarmStartSettings,
  options: WarmStartOptions = {},
): WarmStart {
  const builder = new WarmStartBuilder(settings, options);
  for (const { value, line } of lines) builder.add(value, line);
  return builder.result();
}

/** The same from a stream of history lines (see `readJsonLines`): only the per-action statistics are kept. */
export async function warmStartStream(
  lines: AsyncIterable<Numbered<HistoryLine>>,
  settings: WarmStartSettings,
  options: WarmStartOptions = {},
): Promise<WarmStart> {
  const builder = new WarmStartBuilder(settings, options);
  for await (const { value, line } of lines) builder.add(value, line);
  return builder.result();
}
