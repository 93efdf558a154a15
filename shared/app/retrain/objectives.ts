/**
 * Extension points of the offline pass, where the objectives work plugs in.
 *
 * - {@link OfflineObjective}: which statistics a logged decision and its feedback produce. Each objective gets its
 *   own per-action statistics (stored as base statistics under its name), fitted with the same importance weights.
 *   An intent model ("does this user reach objective k?") is an objective whose `actionsOf` is `['*']` and whose
 *   reward is 1 for the events that reach k; an objective with target events rewards their values.
 * - {@link ModelExtension}: anything fitted from the reduced aggregate that is not per-action statistics, e.g. the
 *   stage values of a lifecycle ladder. Its output is stored in the model artifact under its name.
 *
 * Without configuration the pipeline fits the `default` objective exactly as the online learner does: rewards from
 * the decision's own `rewards` settings snapshot, every chosen slot an impression.
 */
import { DEFAULT_OBJECTIVE } from '../../core/domain.ts';
import { eventReward } from '../../core/feedback/reward.ts';
import type { Aggregate } from './aggregate.ts';
import type { LakeDecision, LakeEvent } from './lake.ts';
import type { RunParams } from './run-context.ts';

export interface OfflineObjective {
  /** Objective name the statistics are stored under. */
  readonly name: string;
  /** The reward an in-window event earns the decision under this objective; undefined: irrelevant to it. */
  reward(decision: LakeDecision, event: LakeEvent['event']): number | undefined;
  /** The actions whose statistics a decision updates (default: every chosen slot). */
  actionsOf?(decision: LakeDecision): readonly string[];
}

export const defaultObjective: OfflineObjective = {
  name: DEFAULT_OBJECTIVE,
  reward: (decision, event) => eventReward(decision.rewards, event),
};

export interface ModelExtension {
  readonly name: string;
  fit(input: { run: RunParams; reduced: Aggregate }): unknown;
}

export interface OfflineModelConfig {
  objectives: readonly OfflineObjective[];
  extensions: readonly ModelExtension[];
}

export const DEFAULT_MODEL_CONFIG: OfflineModelConfig = { objectives: [defaultObjective], extensions: [] };
