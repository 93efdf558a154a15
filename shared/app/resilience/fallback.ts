/**
 * The documented fallback answer when a container has no model for a decision point and the model store is
 * unavailable: a uniformly random choice among the candidates the request names explicitly (after `exclude`).
 * Every candidate has probability 1/K; the response says `fallback: true` with the reason.
 *
 * It is not logged to the learning stream: without the decision point's settings (context dimension, rewards) and
 * catalog there is nothing the updater could learn from it, and a record without them would be poison. Its id says
 * what it is (`fallback-…`), so feedback on it is dead-lettered at once (`fallback-decision`, docs/ARCHITECTURE.md
 * F2c) instead of waiting for a decision that never comes. Retired actions cannot be filtered out either (the catalog
 * is in the unavailable store): the caller's list is served as given.
 */
import type { Rng } from '../../core/random.ts';
import type { DecisionRequest, DecisionResponse } from '../../core/schemas.ts';

export type FallbackReason = 'model_store_unavailable' | 'model_store_timeout';

export interface ResilienceFlags {
  /** The answer is the uniform fallback, not the model's. */
  fallback?: true;
  fallbackReason?: FallbackReason;
  /** The decision's log entry had not reached the stream when the answer went out (it is retried). */
  decisionLog?: 'deferred';
}

export type ResilientDecisionResponse = DecisionResponse & ResilienceFlags;

/** The candidates a fallback may choose from, or undefined when the request names none (no fallback possible). */
export function fallbackCandidates(req: DecisionRequest): string[] | undefined {
  if (!req.candidates) return undefined;
  const excluded = new Set(req.exclude ?? []);
  const out = [...new Set(req.candidates)].filter((id) => !excluded.has(id));
  return out.length > 0 ? out : undefined;
}

export function uniformFallback(
  req: DecisionRequest,
  candidates: readonly string[],
  rng: Rng,
  decisionId: string,
  reason: FallbackReason,
): ResilientDecisionResponse {
  // Partial Fisher-Yates: the first `slots` positions are a uniform sample without replacement.
  const order = [...candidates];
  const slots = Math.min(req.slots, order.length);
  for (let i = 0; i < slots; i++) {
    const j = i + rng.int(order.length - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const p = 1 / order.length;
  const chosen = order.slice(0, slots);
  return {
    decisionId,
    chosen,
    // Without replacement: slot k (from 0) is uniform over the K − k candidates left.
    slots: chosen.map((actionId, k) => ({ actionId, propensity: 1 / (order.length - k) })),
    ranking: order.map((actionId) => ({ actionId, score: 0, probability: p })),
    modelVersion: 'fallback',
    objective: 'default',
    fallback: true,
    fallbackReason: reason,
  };
}
