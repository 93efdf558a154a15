/**
 * The retraining routes of the admin API:
 * - `POST /v1/decision-points/{dp}/model:rollback` restores the previous active offline model (see rollbackModel).
 *   Body `{}`, or `{ "from": "<version>" }` to roll back only if that version is still the active one, so a retried or
 *   doubled request cannot roll back twice;
 * - `GET /v1/decision-points/{dp}/evaluations[?limit=N]` lists the retraining runs' summaries, newest first, with
 *   where their full reports (JSON and HTML) are stored.
 */
import { z } from 'zod';
import { NothingToRollBackError } from '../../app/retrain/errors.ts';
import { rollbackModel } from '../../app/retrain/promote.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { StateStore } from '../../core/ports.ts';
import type { EvaluationRecord } from '../../core/retrain/evaluation-record.ts';
import { parseWith, type Route } from './api.ts';
import type { Body, evaluationListSchema, evaluationViewSchema, rollbackAnswerSchema } from './responses.ts';

const listQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });
const rollbackBody = z.strictObject({ from: z.string().min(1).max(128).optional() });
const day = (bucket: number) => new Date(bucket * 86_400_000).toISOString().slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString();

const evaluationView = (e: EvaluationRecord): Body<typeof evaluationViewSchema> => ({
  runId: e.runId,
  version: e.version,
  outcome: e.outcome,
  reasons: e.reasons,
  warnings: e.warnings,
  startedAt: iso(e.startedAt),
  finishedAt: iso(e.finishedAt),
  trainedBefore: day(e.cutoffBucket),
  heldOutFrom: day(e.holdoutFromBucket),
  cutoffBucket: e.cutoffBucket,
  rounds: e.rounds,
  policies: e.policies,
  ...(e.exploration && { exploration: e.exploration }),
  report: { json: e.reportKey, html: e.htmlKey },
});

export interface RetrainRouteDeps {
  state: StateStore;
  /** Called after a rollback: this container serves the restored model at once, and its snapshot is published. */
  changed?: (decisionPoint: string) => Promise<void>;
}

export function retrainRoutes(deps: RetrainRouteDeps): Route[] {
  const requireDecisionPoint = async (dp: string) => {
    if (!(await deps.state.getDecisionPoint(dp))) throw new NotFoundError(`decision point ${dp} does not exist`);
  };
  return [
    {
      method: 'POST',
      path: '/v1/decision-points/{decisionPoint}/model:rollback',
      scope: 'admin',
      optionalBody: true,
      audit: { action: 'model.rollback' },
      handle: async ({ params, body }) => {
        const dp = params.decisionPoint!;
        const { from } = parseWith(rollbackBody, body ?? {});
        await requireDecisionPoint(dp);
        if (from !== undefined) {
          const current = await deps.state.getActiveModel(dp);
          if (current?.version !== from) {
            throw new ConflictError(
              `the active model is ${current?.version ?? 'none'}, not ${from}: nothing rolled back`,
            );
          }
        }
        try {
          const { active, rolledBack } = await rollbackModel(deps.state, dp);
          await deps.changed?.(dp);
          return {
            status: 200,
            body: {
              decisionPoint: dp,
              version: active.version,
              trainedBefore: day(active.cutoffBucket),
              cutoffBucket: active.cutoffBucket,
              rolledBack,
              remainingHistory: active.history.map((h) => h.version),
            } satisfies Body<typeof rollbackAnswerSchema>,
            audit: { target: active.version, detail: { rolledBack } },
          };
        } catch (err) {
          if (err instanceof NothingToRollBackError) throw new ConflictError(err.message, undefined, { cause: err });
          throw err;
        }
      },
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}/evaluations',
      scope: 'admin',
      handle: async ({ params, query }) => {
        const dp = params.decisionPoint!;
        const { limit } = parseWith(listQuery, query, 'query');
        await requireDecisionPoint(dp);
        const [active, evaluations] = await Promise.all([
          deps.state.getActiveModel(dp),
          deps.state.listEvaluations(dp, limit),
        ]);
        return {
          status: 200,
          body: {
            activeVersion: active?.version ?? null,
            evaluations: evaluations.map(evaluationView),
          } satisfies Body<typeof evaluationListSchema>,
        };
      },
    },
  ];
}
