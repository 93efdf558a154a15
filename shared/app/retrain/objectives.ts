/**
 * What the offline pass learns besides the `default` (global) policy, and where the objectives work extends it.
 *
 * The map worker mirrors the online learner's statistics exactly, from each decision's own objective snapshot and
 * the engine's reward rule (`rewardsForEvent`): every chosen slot is an impression of the `default` bandit and of
 * each objective's bandit; an event's global reward goes to `default`, its per-objective rewards to each objective;
 * and each objective's intent model (objective `intent:k`, action `*`) learns one observation per decision, 1 if the
 * decision reached k (earned a positive reward for it) and 0 otherwise.
 *
 * Not learned offline yet: **stage moves** (a `stage` event's reward is V(to) − V(from), which needs the user's
 * stage before the event, i.e. a per-user stage timeline across the whole lake). The map worker counts the stage
 * events it could not value (`stageMovesNotLearned`), and the gate refuses to promote while there are any, because
 * promotion would replace the online statistics that did learn them. A stage-timeline pass and the fitting of stage
 * values plug in here, as a {@link ModelExtension} (fitted from the reduced aggregate, stored in the model artifact).
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
