/**
 * The new-action traffic cap: while an action is new (fewer impressions than `untilImpressions`), it is a candidate in
 * at most a `maxShare` fraction of decisions, so a fresh campaign cannot take over the traffic before the model knows
 * it, however promising its features look.
 *
 * How the logged propensity stays correct: the cap is not a change to the policy's probabilities but a filter on the
 * candidate set, applied before scoring and decided by a hash of the decision id and the action id. For one decision
 * the action is either a candidate (hash below `maxShare`) or not; the policy then picks among the candidates exactly
 * as without a cap, the decision record lists the candidates it chose among, and the logged propensity is the exact
 * probability of the chosen action given those candidates. The hash is independent of the context and of the policy's
 * own random draws, so dropping the action from some decisions does not bias what is learned from the others. Being a
 * hash, the filter is reproducible: replaying a logged decision id gives the same candidate set.
 */
import { z } from 'zod';
import { murmur3_32 } from '../features/encode.ts';

export const trafficCapSchema = z.strictObject({
  /** Largest share of decisions (0-1] in which a new action may be a candidate. */
  maxShare: z.number().gt(0).max(1),
  /** The action stops being new once it has this many impressions. */
  untilImpressions: z.number().int().min(1).max(1e9).default(1000),
});
export type TrafficCap = z.output<typeof trafficCapSchema>;

/** Seed of the cap hash, distinct from the feature-hashing seeds so the two cannot correlate. */
export const CAP_HASH_SEED = 0x5bd1e995;
const TWO_POW_32 = 4294967296;

/** True when the capped action may be a candidate in the decision identified by `key` (e.g. the decision id). */
export function capAdmits(key: string, actionId: string, maxShare: number): boolean {
  if (maxShare >= 1) return true;
  return murmur3_32(`${key}\u0000${actionId}`, CAP_HASH_SEED) / TWO_POW_32 < maxShare;
}

/** True while the cap applies: the action has fewer impressions than the cap's threshold. */
export const isNew = (cap: TrafficCap, impressions: number): boolean => impressions < cap.untilImpressions;
