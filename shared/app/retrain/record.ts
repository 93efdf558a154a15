/**
 * The record step: the run's report (JSON with everything the steps found, and an HTML page with the chart) under
 * the run's prefix, and its summary in the state store for `GET …/evaluations`. Runs on every path: promoted,
 * rejected, and failed (a caught error), so every run leaves a trace an operator can read.
 */
import type { StateStore } from '../../core/ports.ts';
import type { EvaluationRecord } from '../../core/retrain/evaluation-record.ts';
import { reportHtmlKey, reportJsonKey } from './keys.ts';
import type { BlobStore } from './ports.ts';
import { reportHtml } from './report-html.ts';
import type { RunContext } from './run-context.ts';

export interface RecordDeps {
  blobs: BlobStore;
  state: StateStore;
  now?: () => number;
}

/** The message of a caught error: Lambda puts its own JSON (type, message, stack) in `Cause`; keep the message. */
export function errorMessage(error: { Error: string; Cause?: string | undefined }): string {
  let message = error.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // Not JSON: the cause is the message itself (local runs, Step Functions' own errors).
  }
  return `${error.Error}: ${message}`.slice(0, 2000);
}

export function outcomeOf(ctx: RunContext): EvaluationRecord['outcome'] {
  if (ctx.error) return 'failed';
  return ctx.promotion?.promoted ? 'promoted' : 'rejected';
}

export async function record(ctx: RunContext, deps: RecordDeps): Promise<RunContext> {
  const { run } = ctx;
  const now = deps.now ?? Date.now;
  const outcome = outcomeOf(ctx);
  const reasons = [...(ctx.evaluation?.reasons ?? [])];
  if (ctx.promotion?.reason) reasons.push(ctx.promotion.reason);
  if (ctx.error) reasons.push(`the run failed: ${errorMessage(ctx.error)}`);
  const jsonKey = reportJsonKey(run);
  const htmlKey = reportHtmlKey(run);
  const summary: EvaluationRecord = {
    decisionPoint: run.decisionPoint,
    runId: run.runId,
    version: run.version,
    startedAt: run.startedAt,
    finishedAt: now(),
    outcome,
    reasons,
    warnings: (ctx.evaluation?.warnings ?? []).slice(0, 20),
    cutoffBucket: run.cutoffBucket,
    holdoutFromBucket: run.holdoutFromBucket,
    rounds: ctx.evaluation?.rounds ?? null,
    policies: ctx.evaluation
      ? [ctx.evaluation.candidate, ctx.evaluation.current, ctx.evaluation.logging, ...(ctx.evaluation.pages ?? [])]
      : [],
    ...(ctx.evaluation?.exploration && { exploration: ctx.evaluation.exploration }),
    reportKey: jsonKey,
    htmlKey,
  };
  const report = {
    ...summary,
    startedAtIso: new Date(summary.startedAt).toISOString(),
    finishedAtIso: new Date(summary.finishedAt).toISOString(),
    weighting: run.weighting,
    gate: { tolerance: run.tolerance, delta: run.delta, minEvalRounds: run.minEvalRounds, force: run.force },
    plan: ctx.plan ?? null,
    reduce: ctx.reduce ?? null,
    fit: ctx.fit ?? null,
    evaluation: ctx.evaluation ?? null,
    promotion: ctx.promotion ?? null,
    error: ctx.error ? errorMessage(ctx.error) : null,
  };
  await deps.blobs.put(jsonKey, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
  await deps.blobs.put(htmlKey, reportHtml(summary), 'text/html; charset=utf-8');
  await deps.state.putEvaluation(summary);
  return { ...ctx, report: { jsonKey, htmlKey, outcome } };
}
