/**
 * How a feedback event becomes a reward, and when it still counts.
 *
 * Semantics (in the spirit of Azure Personalizer's reward wait time and default reward):
 * - A decision is learned as an impression of each chosen action with the default reward 0 as soon as the updater
 *   reads it from the stream. Rewards that arrive later only ADD to that decision's reward (the regression's
 *   reward sums), never to its impression count. So an action that gets no reward has already learned "0", and a
 *   reward that arrives within the window moves it to r: after the window closes, the state is exactly that of one
 *   observation with the total reward, with no timer, sweeper or TTL involved.
 * - An event counts if it happened within the decision point's attribution window after the decision, the edge
 *   included, and not before it (beyond the clock-skew allowance S). Event time is the event's `timestamp`, capped at
 *   the time the API received it (a client cannot date an event in the future). Events outside the window are
 *   counted as late (visible per action) and not learned from.
 * - With no reward settings, any event is worth 1; with settings, an event type not listed is worth nothing and is
 *   ignored; an event's own `value` overrides the configured amount.
 */

import { DEFAULT_OBJECTIVE } from '../domain.ts';
import type { FeedbackEvent } from '../schemas.ts';

/** The reward an event is worth, or undefined when its type carries no reward for this decision point. */
export function eventReward(rewards: Readonly<Record<string, number>>, event: FeedbackEvent): number | undefined {
  const configured = Object.keys(rewards).length > 0;
  if (!configured) return event.value ?? 1;
  const amount = rewards[event.type];
  if (amount === undefined) return undefined;
  return event.value ?? amount;
}

/** When the event happened, in milliseconds since the epoch, never later than when it was received. */
export function eventTime(event: FeedbackEvent, receivedAt: number): number {
  if (event.timestamp === undefined) return receivedAt;
  return Math.min(Date.parse(event.timestamp), receivedAt);
}

/** Clock-skew allowance between the clocks that stamp decisions and events (F2b, F4). */
export const CLOCK_SKEW_MS = 5000;

export type Attribution = 'in-window' | 'late';

/** F4: an event at `at` is in a decision's window [decisionAt − S, decisionAt + window], both edges included. */
export function attribute(decisionAt: number, windowSeconds: number, at: number): Attribution {
  return at >= decisionAt - CLOCK_SKEW_MS && at <= decisionAt + windowSeconds * 1000 ? 'in-window' : 'late';
}

/** An objective as recorded with a decision (see DecisionRecord.objectives). */
export interface ObjectiveSnapshot {
  name: string;
  events: Readonly<Record<string, number>>;
  stages?: readonly string[] | undefined;
  stageValues?: Readonly<Record<string, number>> | undefined;
  attributionWindowSeconds: number;
  weight: number;
}

/** The value of being in `stage` under objective `o`: configured (or learned) value, else its ladder position. */
export function stageValue(o: ObjectiveSnapshot, stage: string): number | undefined {
  const i = o.stages?.indexOf(stage) ?? -1;
  if (i < 0) return undefined;
  return o.stageValues?.[stage] ?? i;
}

export interface StageMove {
  /** The stage before the move; undefined when the user's stage was not known (no reward: the delta is unknown). */
  from: string | undefined;
  to: string;
}

export interface EventRewards {
  /** True when the event fell outside every applicable attribution window and teaches nothing. */
  late: boolean;
  /** Reward per objective that the event is relevant to (may be 0 or negative: a stage move down). */
  perObjective: Map<string, number>;
  /** Reward of the global policy (`default` objective): legacy `rewards`, or Σ weight × objective reward. */
  global: number | undefined;
}

/**
 * The rewards one feedback event earns for the decision it answers, per objective and for the global policy.
 * Target events earn their configured value (an event's `value` overrides). A stage move earns, per objective with a
 * ladder, V(to) − V(from): potential-based shaping, so the bandit's one-step reward points toward the long-run goal
 * and out-of-order moves telescope to the same total. Each objective applies its own attribution window.
 */
export function rewardsForEvent(
  decision: {
    at: number;
    attributionWindowSeconds: number;
    rewards: Readonly<Record<string, number>>;
    objectives: readonly ObjectiveSnapshot[];
  },
  event: FeedbackEvent,
  at: number,
  move?: StageMove,
): EventRewards {
  const perObjective = new Map<string, number>();
  if (decision.objectives.length === 0) {
    if (attribute(decision.at, decision.attributionWindowSeconds, at) === 'late')
      return { late: true, perObjective, global: undefined };
    return {
      late: false,
      perObjective,
      global: event.type === 'stage' ? undefined : eventReward(decision.rewards, event),
    };
  }
  let anyInWindow = false;
  let global: number | undefined;
  for (const o of decision.objectives) {
    if (attribute(decision.at, o.attributionWindowSeconds, at) === 'late') continue;
    anyInWindow = true;
    let r: number | undefined;
    if (event.type === 'stage') {
      if (move?.from !== undefined) {
        const to = stageValue(o, move.to);
        const from = stageValue(o, move.from);
        if (to !== undefined && from !== undefined) r = to - from;
      }
    } else {
      const amount = o.events[event.type];
      if (amount !== undefined) r = event.value ?? amount;
    }
    if (r === undefined) continue;
    perObjective.set(o.name, r);
    global = (global ?? 0) + o.weight * r;
  }
  return { late: !anyInWindow, perObjective, global };
}

/** The range a client's `value` must lie in when the settings declare none (F9). */
export function defaultRewardBounds(decision: {
  rewards: Readonly<Record<string, number>>;
  objectives: readonly { events: Readonly<Record<string, number>> }[];
}): { min: number; max: number } {
  const configured = [
    ...Object.values(decision.rewards),
    ...decision.objectives.flatMap((o) => Object.values(o.events)),
  ];
  return { min: Math.min(0, ...configured), max: Math.max(1, ...configured) };
}

/**
 * The posteriors whose rewards are non-negative event values (`default` for the global one): no stage ladder (a stage
 * move can be worth a negative amount), every configured event value ≥ 0, and any client `value` bounded below by 0.
 * Those use the compound-event noise model (see `BuildOptions.compoundEvents` in core/bandit/posterior.ts).
 */
export function compoundEventObjectives(settings: {
  rewards: Readonly<Record<string, number>>;
  objectives: readonly {
    name: string;
    events: Readonly<Record<string, number>>;
    stages?: readonly string[] | undefined;
    weight: number;
  }[];
  rewardBounds?: { min: number; max: number } | undefined;
  acceptEventValues?: boolean | undefined;
}): string[] {
  const valuesOk =
    settings.acceptEventValues === false || (settings.rewardBounds ?? defaultRewardBounds(settings)).min >= 0;
  const nonNegative = (values: Readonly<Record<string, number>>) => Object.values(values).every((v) => v >= 0);
  const names = settings.objectives
    .filter((o) => valuesOk && o.stages === undefined && nonNegative(o.events))
    .map((o) => o.name);
  const global =
    settings.objectives.length === 0
      ? valuesOk && nonNegative(settings.rewards)
      : names.length === settings.objectives.length && settings.objectives.every((o) => o.weight >= 0);
  return global ? [DEFAULT_OBJECTIVE, ...names] : names;
}

/** F9: why a client's `value` is refused for this decision (its settings when decided), or undefined if accepted. */
export function refuseValue(
  decision: {
    rewards: Readonly<Record<string, number>>;
    objectives: readonly { events: Readonly<Record<string, number>> }[];
    rewardBounds?: { min: number; max: number } | undefined;
    acceptEventValues?: boolean | undefined;
  },
  value: number | undefined,
): { code: 'value-not-accepted' | 'value-out-of-range'; message: string } | undefined {
  if (value === undefined) return undefined;
  if (decision.acceptEventValues === false) {
    return { code: 'value-not-accepted', message: 'this decision point does not accept event values' };
  }
  const b = decision.rewardBounds ?? defaultRewardBounds(decision);
  if (value < b.min || value > b.max) {
    return { code: 'value-out-of-range', message: `value ${value} is outside the reward range [${b.min}, ${b.max}]` };
  }
  return undefined;
}
