/**
 * How a feedback event becomes a reward, and when it still counts.
 *
 * Semantics (in the spirit of Azure Personalizer's reward wait time and default reward):
 * - A decision is learned as an impression of each chosen action with the default reward 0 as soon as the updater
 *   reads it from the stream. Rewards that arrive later only ADD to that decision's reward (the regression's
 *   reward sums), never to its impression count. So an action that gets no reward has already learned "0", and a
 *   reward that arrives within the window moves it to r: after the window closes, the state is exactly that of one
 *   observation with the total reward, with no timer, sweeper or TTL involved.
 * - An event counts if it happened within the decision point's attribution window after the decision. Event time is
 *   the event's `timestamp`, capped at the time the API received it (a client cannot date an event in the future).
 *   Later events are counted as late (visible per action) and not learned from.
 * - With no reward settings, any event is worth 1; with settings, an event type not listed is worth nothing and is
 *   ignored; an event's own `value` overrides the configured amount.
 */
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

export type Attribution = 'in-window' | 'late';

export function attribute(decisionAt: number, windowSeconds: number, at: number): Attribution {
  return at <= decisionAt + windowSeconds * 1000 ? 'in-window' : 'late';
}
