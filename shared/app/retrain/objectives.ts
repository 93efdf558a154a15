/**
 * What the offline pass learns besides the `default` (global) policy, and where the objectives work extends it.
 *
 * The join step mirrors the online learner's statistics exactly (`join-bucket.ts`: the updater's own join over each
 * user's whole history, then the engine's reward rule `rewardsForEvent`): every chosen slot is an impression of the
 * `default` bandit and of each objective's bandit; an event's global reward goes to `default`, its per-objective
 * rewards to each objective, stage moves included (V(to) − V(from), from the stage the user was in); and each
 * objective's intent model (objective `intent:k`, action `*`) learns one observation per decision, 1 if the decision
 * reached k (earned a positive reward for it) and 0 otherwise. More offline models plug in here, as a
 * {@link ModelExtension} (fitted from the reduced aggregate, stored in the model artifact).
 */
import type { Aggregate } from './aggregate.ts';
import type { RunParams } from './run-context.ts';

export interface ModelExtension {
  readonly name: string;
  fit(input: { run: RunParams; reduced: Aggregate }): unknown;
}

export interface OfflineModelConfig {
  extensions: readonly ModelExtension[];
}

export const DEFAULT_MODEL_CONFIG: OfflineModelConfig = { extensions: [] };
