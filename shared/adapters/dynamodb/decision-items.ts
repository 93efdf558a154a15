/**
 * The decisions table's item layout, shared by the DynamoDB and in-memory adapters: decision items keyed by id, user
 * items under `USER#{userId}` (latest decision, lifecycle stage), and the reader from a stored item to a decision.
 */
import type { StoredDecision } from '../../core/domain.ts';

export const userKey = (userId: string) => `USER#${userId}`;
/** Marks "no stage before this move" (DynamoDB cannot store undefined). */
export const NO_STAGE = '\u0000none';
/** Claims per UpdateItem: ~50 characters of expression each keeps well inside DynamoDB's 4 KB expression limit. */
export const CLAIMS_PER_UPDATE = 40;

export function toDecision(item: Record<string, unknown>): StoredDecision {
  return {
    decisionId: String(item.decisionId),
    decisionPoint: String(item.decisionPoint),
    userId: String(item.userId),
    at: Number(item.at),
    chosen: item.chosen as string[],
    chosenFeatures: item.chosenFeatures as number[][],
    x: item.x as number[],
    propensity: Number(item.propensity),
    modelVersion: String(item.modelVersion),
    attributionWindowSeconds: Number(item.attributionWindowSeconds),
    rewards: (item.rewards ?? {}) as Record<string, number>,
    objectives: (item.objectives ?? []) as StoredDecision['objectives'],
    claim: String(item.claim),
  };
}
