/**
 * The summary of one retraining run as the state store keeps it and `GET …/evaluations` lists it: outcome, why, and
 * each policy's estimate with its interval and lower bound. The full report (JSON and an HTML page) lives in the
 * object store under `reportKey`/`htmlKey`. Validated when read back, so a malformed item never reaches a client.
 */
import { z } from 'zod';

export const policySummarySchema = z.object({
  name: z.string(),
  /** The estimator whose figures these are (the evaluation's recommended one: `dr` with propensities, else `dm`). */
  estimator: z.string(),
  estimate: z.object({ value: z.number(), lower: z.number().nullable(), upper: z.number().nullable() }).nullable(),
  /** High-confidence (HCOPE) lower bound on the policy's value. */
  lowerBound: z.number().nullable(),
  ess: z.number().nullable(),
});
export type PolicySummary = z.infer<typeof policySummarySchema>;

/** Multipliers on the learned λs (core/domain.ts `PriorScale`). */
export const priorScaleSchema = z.object({ shared: z.number(), action: z.number() });

/**
 * How the run chose the settings the candidate is evaluated (and would serve) with: the Thompson scale and the
 * multipliers on the learned λs, searched over a grid where the decision point's settings leave them out (see
 * shared/app/retrain/evaluate.ts).
 */
export const settingsChoiceSchema = z.object({
  /**
   * `settings`: the decision point's settings give the scale and both λs, nothing was searched; `search`: the run
   * chose by the rule (from the grid, or what serves now when the grid could not tell).
   */
  source: z.enum(['settings', 'search']),
  /** The scale the candidate was evaluated with, which promotion stores with the model when the run searched it. */
  scale: z.number(),
  /** The scale the current model serves with (the settings', else the active model's, else the default). */
  currentScale: z.number(),
  /**
   * The multipliers on the learned λs the candidate was evaluated with (absent in records from before they were
   * searched); promotion stores them with the model when the settings leave a λ out.
   */
  priorScale: priorScaleSchema.optional(),
  /** The multipliers the current model serves with. */
  currentPriorScale: priorScaleSchema.optional(),
  /** Error probability of the chosen point's lower bound (its share of the run's δ); null without a search. */
  delta: z.number().nullable(),
  /**
   * Each grid point: the candidate model served with that scale and those multipliers, its estimate and its lower
   * bound at its share `delta` of the run's δ.
   */
  grid: z.array(
    policySummarySchema.extend({
      scale: z.number(),
      priorScale: priorScaleSchema.optional(),
      delta: z.number().optional(),
    }),
  ),
  /** Why this point, in one sentence. */
  why: z.string(),
});
export type SettingsChoice = z.infer<typeof settingsChoiceSchema>;

export const evaluationRecordSchema = z.object({
  decisionPoint: z.string(),
  runId: z.string(),
  version: z.string(),
  startedAt: z.number(),
  finishedAt: z.number(),
  outcome: z.enum(['promoted', 'rejected', 'failed']),
  reasons: z.array(z.string()),
  warnings: z.array(z.string()),
  cutoffBucket: z.number().int(),
  holdoutFromBucket: z.number().int(),
  rounds: z.number().int().nullable(),
  policies: z.array(policySummarySchema),
  /**
   * The serving settings' choice: Thompson scale and multipliers on the learned λs (absent in records of runs from
   * before it existed).
   */
  exploration: settingsChoiceSchema.optional(),
  reportKey: z.string(),
  htmlKey: z.string(),
});
export type EvaluationRecord = z.infer<typeof evaluationRecordSchema>;
