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
  reportKey: z.string(),
  htmlKey: z.string(),
});
export type EvaluationRecord = z.infer<typeof evaluationRecordSchema>;
