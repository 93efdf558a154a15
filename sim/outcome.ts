/**
 * What an outcome is worth, for every path of the simulator (fast mode, `--through-stack`, warm start): one rule.
 *
 * An online round always gives `rewards` (the reward of each candidate) and may also give `events` (what each
 * candidate's user did); a history line always gives `reward` and may give `events`. When both are there:
 *
 * - **no reward mapping configured** (the settings' `rewards` is empty, the engine's default): the given reward is
 *   used and the events are ignored. Without a mapping the events' worth is unknown (the engine would count each as
 *   1), while the given reward is what the file says the outcome was worth.
 * - **a reward mapping configured**: the events are scored with it, the way the engine scores feedback (each type's
 *   count × its amount; a type the mapping does not list is worth nothing), and the given reward is ignored. This is
 *   what the deployed decision point would learn from the same events. Rounds without events use their reward.
 *
 * {@link rewardRuleNotice} words the rule for the CLI, which prints it once per run when the input has both.
 */
import { eventReward } from '../shared/core/feedback/reward.ts';

/** Whether events are scored (a reward mapping is configured), rather than the given reward used. */
export function scoresEvents(rewards: Readonly<Record<string, number>>): boolean {
  for (const _ in rewards) return true;
  return false;
}

/**
 * The reward of one outcome under the rule in the module documentation: `events` scored with `rewards` when a mapping
 * is configured and the outcome has events, else the given `reward`.
 */
export function outcomeReward(
  rewards: Readonly<Record<string, number>>,
  events: Readonly<Record<string, number>> | undefined,
  reward: number,
): number {
  if (events === undefined || !scoresEvents(rewards)) return reward;
  let total = 0;
  for (const type in events) {
    const count = events[type] as number;
    if (count === 0) continue;
    const amount = eventReward(rewards, { eventId: 'sim', userId: 'sim', type });
    if (amount !== undefined) total += count * amount;
  }
  return total;
}

/** One line saying which of reward and events counts, for input whose `what` (e.g. "online rounds") give both. */
export function rewardRuleNotice(rewards: Readonly<Record<string, number>>, what: string, rewardField: string): string {
  if (!scoresEvents(rewards)) {
    return (
      `${what} give both "${rewardField}" and "events" and no reward per event type is configured: ` +
      `"${rewardField}" is used and "events" are ignored (configure "rewards" in the decision point settings to score events)`
    );
  }
  const mapping = Object.entries(rewards)
    .map(([type, amount]) => `${type} ${amount}`)
    .join(', ');
  return (
    `${what} give both "${rewardField}" and "events": events are scored with the configured rewards (${mapping}) ` +
    `and "${rewardField}" counts only where a line has no "events"`
  );
}
