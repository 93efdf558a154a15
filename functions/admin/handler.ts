/** Decision points, their catalog and model summary: thin routes over CatalogService. */
import { z } from 'zod';
import { createApiHandler, parseWith, type Route } from '../../shared/adapters/http/api.ts';
import { auditRoutes } from '../../shared/adapters/http/audit-routes.ts';
import { keyRoutes } from '../../shared/adapters/http/key-routes.ts';
import type {
  actionDetailSchema,
  actionListSchema,
  actionViewSchema,
  Body,
  deadLetterListSchema,
  decisionJobSchema,
  decisionPointListSchema,
  decisionPointViewSchema,
  importAnswerSchema,
  learningSeriesSchema,
  modelSummarySchema,
  replayAnswerSchema,
} from '../../shared/adapters/http/responses.ts';
import { retrainRoutes } from '../../shared/adapters/http/retrain-routes.ts';
import { CatalogService, MAX_IMPORT_ITEMS } from '../../shared/app/catalog/catalog.ts';
import { recentImpressions, summarizeModel } from '../../shared/app/catalog/model-summary.ts';
import type { DecisionJob } from '../../shared/app/decision-jobs/job.ts';
import { ApiKeyService } from '../../shared/app/keys/keys.ts';
import {
  countDeadLetters,
  listDeadLetters,
  replayDeadLetters,
  replayStreamRange,
} from '../../shared/app/learn/dead-letters.ts';
import { LEARNING_RESOLUTIONS, MAX_SERIES_HOURS, readLearningSeries } from '../../shared/app/learn/learning-series.ts';
import { eraseUser } from '../../shared/app/privacy/erase-user.ts';
import { LIFECYCLE_STATUSES } from '../../shared/core/catalog/schedule.ts';
import type { CatalogAction, DecisionPoint } from '../../shared/core/domain.ts';
import { ValidationError } from '../../shared/core/errors.ts';
import { actionInputSchema, deadLetterFilterSchema, streamRangeSchema } from '../../shared/core/schemas.ts';
import {
  createDecisionJobs,
  createEngine,
  type Engine,
  readEngineConfig,
  requirePseudonyms,
} from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

const anyObject = z.record(z.string(), z.unknown());
const listQuery = z.strictObject({
  status: z.enum(LIFECYCLE_STATUSES).optional(),
  q: z.string().min(1).max(128).optional(),
});
const decisionJobBody = z.strictObject({
  /** `s3://bucket/key` of the JSON lines to decide: the lake bucket, or a bucket of `decisionJobInputBuckets`. */
  input: z.string().min(1).max(1024),
});
const jobView = (j: DecisionJob): Body<typeof decisionJobSchema> => ({
  ...j,
  createdAt: new Date(j.createdAt).toISOString(),
  updatedAt: new Date(j.updatedAt).toISOString(),
});
const learningQuery = z.strictObject({
  hours: z.coerce.number().int().min(1).max(MAX_SERIES_HOURS).default(48),
  resolution: z.enum(LEARNING_RESOLUTIONS).optional(),
});
const importBody = z.strictObject({ actions: z.array(z.unknown()).min(1).max(MAX_IMPORT_ITEMS) });

const dpView = (d: DecisionPoint): Body<typeof decisionPointViewSchema> => ({
  decisionPoint: d.decisionPoint,
  settings: d.settings,
  version: d.version,
  createdAt: new Date(d.createdAt).toISOString(),
  updatedAt: new Date(d.updatedAt).toISOString(),
});
const iso = (ms: number) => new Date(ms).toISOString();
/** `status` is the lifecycle status now: live, scheduled (before startsAt), expired (from endsAt on) or retired. */
const actionView = (catalog: CatalogService, a: CatalogAction): Body<typeof actionViewSchema> => ({
  actionId: a.actionId,
  status: catalog.statusOf(a),
  features: a.features,
  ...(a.startsAt !== undefined ? { startsAt: iso(a.startsAt) } : {}),
  ...(a.endsAt !== undefined ? { endsAt: iso(a.endsAt) } : {}),
  ...(a.eligibility ? { eligibility: a.eligibility } : {}),
  ...(a.trafficCapWhileNew ? { trafficCapWhileNew: a.trafficCapWhileNew } : {}),
  ...(a.metadata ? { metadata: a.metadata } : {}),
  version: a.version,
  createdAt: new Date(a.createdAt).toISOString(),
  updatedAt: new Date(a.updatedAt).toISOString(),
});

/** The admin API's routes over an engine (the `/v1/keys` and `/v1/audit` routes included). */
export function adminRoutes(engine: Engine): Route[] {
  const { stateStore, modelCache, deadLetterStore, decisionStore, eventStream, streamRangeReader, authenticator } =
    engine;
  const pseudonyms = requirePseudonyms(engine);
  const audit = requireAudit(engine);
  const catalog = new CatalogService(stateStore, modelCache, Date.now, engine.modelChanged);
  const view = (a: CatalogAction) => actionView(catalog, a);
  const decisionJobs = engine.config.JOBS_BUCKET === undefined ? undefined : createDecisionJobs(engine);
  const jobs = () => {
    if (!decisionJobs) throw new Error('this deployment has no decision jobs (JOBS_BUCKET is not set)');
    return decisionJobs;
  };
  return [
    {
      method: 'POST',
      path: '/v1/decision-points/{decisionPoint}/decision-jobs',
      scope: 'decide',
      audit: { action: 'decision-job.create' },
      handle: async ({ params, body }) => {
        const { input } = parseWith(decisionJobBody, body);
        const job = await jobs().create(params.decisionPoint!, input);
        return { status: 202, body: jobView(job), audit: { target: job.jobId } };
      },
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}/decision-jobs/{jobId}',
      scope: 'decide',
      handle: async ({ params }) => ({
        status: 200,
        body: jobView(await jobs().get(params.decisionPoint!, params.jobId!)),
      }),
    },
    {
      method: 'GET',
      path: '/v1/decision-points',
      scope: 'admin',
      handle: async () => ({
        status: 200,
        body: {
          decisionPoints: (await catalog.listDecisionPoints()).map(dpView),
        } satisfies Body<typeof decisionPointListSchema>,
      }),
    },
    {
      method: 'PUT',
      path: '/v1/decision-points/{decisionPoint}',
      scope: 'admin',
      audit: { action: 'decision-point.put' },
      handle: async ({ params, body }) => {
        const r = await catalog.putDecisionPoint(params.decisionPoint!, parseWith(anyObject, body));
        return {
          status: r.created ? 201 : 200,
          body: dpView(r.decisionPoint),
          audit: { detail: { version: r.decisionPoint.version } },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}',
      scope: 'admin',
      handle: async ({ params }) => ({
        status: 200,
        body: dpView(await catalog.getDecisionPoint(params.decisionPoint!)),
      }),
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}/actions',
      scope: 'admin',
      handle: async ({ params, query }) => {
        const actions = await catalog.listActions(params.decisionPoint!, parseWith(listQuery, query, 'query'));
        return { status: 200, body: { actions: actions.map(view) } satisfies Body<typeof actionListSchema> };
      },
    },
    {
      // Google-style custom method: the colon is a literal in the path (API Gateway passes it through {proxy+}).
      method: 'POST',
      path: '/v1/decision-points/{decisionPoint}/actions:batch',
      scope: 'admin',
      audit: { action: 'actions.import' },
      handle: async ({ params, body }) => {
        const { actions } = parseWith(importBody, body);
        const r = await catalog.importActions(params.decisionPoint!, actions);
        if (r.rejected === actions.length) {
          const reasons = r.results.map((x) => `actions[${x.index}]: ${x.error}`).slice(0, 10);
          throw new ValidationError(`no valid action: ${reasons.join('; ')}`);
        }
        const applied = r.created + r.updated + r.unchanged;
        const { created, updated, unchanged, rejected, failed } = r;
        return {
          status: r.failed > 0 && applied === 0 ? 503 : 200,
          body: r satisfies Body<typeof importAnswerSchema>,
          audit: { detail: { created, updated, unchanged, rejected, failed } },
        };
      },
    },
    {
      method: 'PUT',
      path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
      scope: 'admin',
      audit: { action: 'action.put', target: (p) => p.actionId },
      handle: async ({ params, body }) => {
        const r = await catalog.putAction(params.decisionPoint!, params.actionId!, parseWith(actionInputSchema, body));
        return {
          status: r.created ? 201 : 200,
          body: view(r.action),
          audit: { detail: { version: r.action.version } },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
      scope: 'admin',
      handle: async ({ params }) => {
        const { action, learned } = await catalog.explainAction(params.decisionPoint!, params.actionId!);
        return { status: 200, body: { ...view(action), learned } satisfies Body<typeof actionDetailSchema> };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
      scope: 'admin',
      audit: { action: 'action.retire', target: (p) => p.actionId },
      handle: async ({ params }) => ({
        status: 200,
        body: view(await catalog.retireAction(params.decisionPoint!, params.actionId!)),
      }),
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}/model',
      scope: 'admin',
      handle: async ({ params }) => {
        const dp = params.decisionPoint!;
        const summary = summarizeModel(await modelCache.get(dp));
        // What this decision point's model did not learn, and why: dead letters attributed to it, by rule.
        return {
          status: 200,
          body: {
            ...summary,
            recent: recentImpressions(modelCache.statsItems(dp), Date.now()),
            deadLetters: await countDeadLetters(deadLetterStore, dp),
          } satisfies Body<typeof modelSummarySchema>,
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/decision-points/{decisionPoint}/learning',
      scope: 'admin',
      handle: async ({ params, query }) => {
        const dp = params.decisionPoint!;
        const period = parseWith(learningQuery, query, 'query');
        await catalog.getDecisionPoint(dp);
        const [series, deadLetters] = await Promise.all([
          readLearningSeries(stateStore, dp, period, Date.now()),
          countDeadLetters(deadLetterStore, dp),
        ]);
        return {
          status: 200,
          body: {
            decisionPoint: dp,
            ...series,
            deadLetters,
          } satisfies Body<typeof learningSeriesSchema>,
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/dead-letters',
      scope: 'admin',
      handle: async ({ query }) => ({
        status: 200,
        body: {
          deadLetters: await listDeadLetters(deadLetterStore, parseWith(deadLetterFilterSchema, query, 'query')),
        } satisfies Body<typeof deadLetterListSchema>,
      }),
    },
    {
      method: 'POST',
      path: '/v1/dead-letters/replay-range',
      scope: 'admin',
      audit: { action: 'dead-letters.replay-range' },
      handle: async ({ body }) => {
        const range = parseWith(streamRangeSchema, body);
        const r = await replayStreamRange({ reader: streamRangeReader, stream: eventStream }, range);
        return {
          status: 200,
          body: r satisfies Body<typeof replayAnswerSchema>,
          audit: {
            target: `${range.shardId}/${range.from}-${range.to}`,
            detail: { replayed: r.replayed, skipped: r.skipped.length },
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/v1/dead-letters/replay',
      scope: 'admin',
      audit: { action: 'dead-letters.replay' },
      handle: async ({ body }) => {
        const filter = parseWith(deadLetterFilterSchema, body ?? {});
        const r = await replayDeadLetters({ deadLetters: deadLetterStore, stream: eventStream }, filter);
        const detail: Record<string, string | number> = { replayed: r.replayed, skipped: r.skipped.length };
        if (filter.decisionPoint !== undefined) detail.decisionPoint = filter.decisionPoint;
        if (filter.code !== undefined) detail.code = filter.code;
        return { status: 200, body: r satisfies Body<typeof replayAnswerSchema>, audit: { detail } };
      },
    },
    {
      // Erases what the engine keeps about a user and has retraining ignore their history (shared/app/privacy/).
      method: 'DELETE',
      path: '/v1/users/{userId}',
      scope: 'admin',
      // The entry names the user by pseudonym only: the audit trail must not keep what the erasure removes.
      audit: { action: 'user.erase' },
      handle: async ({ params }) => {
        const userId = await pseudonyms.of(params.userId!);
        return {
          status: 200,
          body: await eraseUser(userId, { erasures: engine.erasures, stores: [decisionStore, deadLetterStore] }),
          audit: { target: userId },
        };
      },
    },
    ...retrainRoutes({ state: stateStore, changed: engine.modelChanged }),
    ...keyRoutes(new ApiKeyService(stateStore), authenticator),
    ...auditRoutes(audit),
  ];
}

/** Every change the admin API makes is audited, so it does not start without its audit trail. */
function requireAudit(engine: Engine) {
  if (!engine.audit) throw new Error('invalid environment: AUDIT_TABLE: the admin function records every change there');
  return engine.audit;
}

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const handler = createApiHandler(adminRoutes(engine), engine.authenticator, { audit: requireAudit(engine) });
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
