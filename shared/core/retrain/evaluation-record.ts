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

/**
 * How the run chose the Thompson scale the candidate is evaluated (and would serve) with: searched over a grid when
 * the decision point's settings leave `exploration.scale` out, else the settings' (see shared/app/retrain/evaluate.ts).
 */
export const scaleChoiceSchema = z.object({
  /**
   * `settings`: the decision point's settings give the scale, nothing was searched; `search`: they leave it out, so
   * the run chose it by the rule (from the grid, or the scale that serves now when the grid could not tell).
   */
  source: z.enum(['settings', 'search']),
  /** The scale the candidate was evaluated with, which promotion stores with the model when the run chose it. */
  scale: z.number(),
  /** The scale the current model serves with (the settings', else the active model's, else 1). */
  currentScale: z.number(),
  /** Error probability of each grid point's lower bound (the run's δ shared over the grid); null without a search. */
  delta: z.number().nullable(),
  /** Each grid point: the candidate model served with that scale, its estimate and lower bound. */
  grid: z.array(policySummarySchema.extend({ scale: z.number() })),
  /** Why this scale, in one sentence. */
  why: z.string(),
});
export type ScaleChoice = z.infer<typeof scaleChoiceSchema>;

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
  /** The Thompson scale's choice (absent in records of runs from before it existed). */
  exploration: scaleChoiceSchema.optional(),
  reportKey: z.string(),
  htmlKey: z.string(),
});
export type EvaluationRecord = z.infer<typeof evaluationRecordSchema>;
