/**
 * The bodies the HTTP API answers with, as zod schemas: the OpenAPI description is generated from them
 * (openapi.ts), and each route's body is checked against its schema's type where the route builds it (`satisfies`),
 * so the code, the document and the clients that validate against it agree. Output schemas: an object lists every
 * field it may carry and nothing else (`additionalProperties: false` in the document).
 */
import { z } from 'zod';
import { JOB_STATUSES } from '../../app/decision-jobs/job.ts';
import { API_KEY_SCOPES } from '../../app/keys/keys.ts';
import { eligibilityRulesSchema } from '../../core/catalog/eligibility.ts';
import { LIFECYCLE_STATUSES } from '../../core/catalog/schedule.ts';
import { trafficCapSchema } from '../../core/catalog/traffic-cap.ts';
import { policySummarySchema, settingsChoiceSchema } from '../../core/retrain/evaluation-record.ts';
import { decisionPointSettingsSchema, decisionResponseSchema, featuresSchema } from '../../core/schemas.ts';

const count = z.number().int().min(0);
// Documented by their JSON Schema format (validators check it) rather than zod's long equivalent regular expressions.
/** An instant as `Date.toISOString()` writes it (UTC). */
const isoTime = z.string().meta({ format: 'date-time' });
/** A UTC day, `YYYY-MM-DD`. */
const isoDay = z.string().meta({ format: 'date' });

/** `POST /v1/decisions`: the decision, and when the engine absorbed a fault, how. */
export const decisionAnswerSchema = decisionResponseSchema.extend({
  /** The uniform fallback over the request's candidates answered, not the model (docs: "Under faults"). */
  fallback: z.literal(true).optional(),
  fallbackReason: z.enum(['model_store_unavailable', 'model_store_timeout']).optional(),
  /** The decision's log entry had not reached the stream when the answer went out; it is retried. */
  decisionLog: z.literal('deferred').optional(),
});

const decisionBatchResultSchema = z.discriminatedUnion('status', [
  decisionAnswerSchema.extend({
    index: count,
    status: z.literal('decided'),
    /** The probability that the slot-1 action was chosen (its logged propensity). */
    propensity: z.number(),
    /** With `"ranking": true` in the request. */
    ranking: decisionAnswerSchema.shape.ranking.optional(),
  }),
  z.object({
    index: count,
    status: z.literal('rejected'),
    code: z.enum(['invalid', 'forbidden', 'not-found', 'unprocessable']),
    error: z.string(),
  }),
  z.object({ index: count, status: z.literal('failed'), error: z.string() }),
]);
/** `POST /v1/decisions:batch` (200, or 503 when nothing was decided and some request failed on a dependency). */
export const decisionBatchAnswerSchema = z.object({
  decided: count,
  rejected: count,
  failed: count,
  results: z.array(decisionBatchResultSchema),
});

/** A decision job (`POST` 202 and `GET …/decision-jobs/{jobId}` 200): shared/app/decision-jobs/job.ts. */
export const decisionJobSchema = z.object({
  jobId: z.string(),
  decisionPoint: z.string(),
  status: z.enum(JOB_STATUSES),
  input: z.string(),
  /** The folder of the output parts: one JSON line per decided input line. */
  output: z.string(),
  /** The folder of the error parts: one JSON line per refused input line, with its number and reason. */
  errors: z.string(),
  createdAt: isoTime,
  updatedAt: isoTime,
  lines: count.optional(),
  chunks: count.optional(),
  decided: count.optional(),
  rejected: count.optional(),
  modelVersion: z.string().optional(),
  error: z.string().optional(),
});

const eventResultSchema = z.discriminatedUnion('status', [
  z.object({ index: count, eventId: z.string(), status: z.literal('accepted') }),
  z.object({
    index: count,
    eventId: z.string().optional(),
    status: z.literal('rejected'),
    error: z.string(),
    code: z.enum(['invalid', 'forbidden']),
  }),
  z.object({ index: count, eventId: z.string(), status: z.literal('failed'), error: z.string() }),
]);
/** `POST /v1/events` (202, or 503 when every valid event failed to reach the stream). */
export const eventsAnswerSchema = z.object({
  accepted: count,
  rejected: count,
  failed: count,
  results: z.array(eventResultSchema),
  /** With any accepted event: the checks the updater makes later, and where a refused event shows. */
  later: z.string().optional(),
});

export const decisionPointViewSchema = z.object({
  decisionPoint: z.string(),
  settings: decisionPointSettingsSchema,
  version: count,
  createdAt: isoTime,
  updatedAt: isoTime,
});
export const decisionPointListSchema = z.object({ decisionPoints: z.array(decisionPointViewSchema) });

/** `status` is the lifecycle status now: live, scheduled (before startsAt), expired (from endsAt on) or retired. */
export const actionViewSchema = z.object({
  actionId: z.string(),
  status: z.enum(LIFECYCLE_STATUSES),
  features: featuresSchema,
  startsAt: isoTime.optional(),
  endsAt: isoTime.optional(),
  eligibility: eligibilityRulesSchema.optional(),
  trafficCapWhileNew: trafficCapSchema.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  version: count,
  createdAt: isoTime,
  updatedAt: isoTime,
});
export const actionListSchema = z.object({ actions: z.array(actionViewSchema) });

/** What one objective's model says about one action; `mean`/`sd` are null where that model does not know it yet. */
const objectiveEstimateSchema = z.object({
  mean: z.number().nullable(),
  sd: z.number().nullable(),
  /** The coverage rule serves it with a quarter of its Thompson variance (its data cover the contexts). */
  covered: z.boolean(),
  impressions: count,
  rewardEvents: count,
  lateEvents: count,
  rewardSum: z.number(),
  meanReward: z.number().nullable(),
  lastLearnedAt: isoTime.nullable(),
});
export const actionSummarySchema = z.object({
  actionId: z.string(),
  status: z.enum(LIFECYCLE_STATUSES),
  impressions: count,
  rewardEvents: count,
  lateEvents: count,
  rewardSum: z.number(),
  meanReward: z.number().nullable(),
  estimate: z.object({ mean: z.number().nullable(), sd: z.number().nullable() }),
  lastLearnedAt: isoTime.nullable(),
  objectives: z.record(z.string(), objectiveEstimateSchema),
});
/** `GET …/actions/{actionId}`: the action, and what the serving model learned about it once it knows it. */
export const actionDetailSchema = actionViewSchema.extend({ learned: actionSummarySchema.optional() });

export const modelSummarySchema = z.object({
  decisionPoint: z.string(),
  modelVersion: z.string(),
  builtAt: isoTime,
  noiseVariance: z.number(),
  /** The settings the model learned (those the decision point's settings leave out) and its noise, per objective. */
  learned: z.object({
    exploration: z.object({ epsilon: z.number(), scale: z.number() }),
    /**
     * Each slot's examination ratio, slot 1 first (1): the share of slot 1's attention the model learned a lower slot
     * gets, by which its observations count (a position-based click model); [1] until lower slots have data.
     */
    examination: z.array(z.number()),
    /**
     * The multipliers on the learned λs a promoted retraining run chose (1 where none was, or the settings give the
     * λ); each objective's λs are the learned ones times these.
     */
    priorScale: z.object({ shared: z.number(), action: z.number() }),
    objectives: z.record(
      z.string(),
      z.object({
        lambdaShared: z.number(),
        lambdaAction: z.number(),
        noisePriorVariance: z.number(),
        noisePriorWeight: z.number(),
        noiseVariance: z.number(),
        eventValue: z.number().nullable(),
      }),
    ),
  }),
  actions: z.array(actionSummarySchema),
  /** Recent traffic: impressions per action from decisions since `since` (yesterday's start, UTC), and their total. */
  recent: z.object({ since: isoTime, total: count, byAction: z.record(z.string(), count) }),
  /** Dead letters attributed to this decision point: refused records by rule, held events, whether all were seen. */
  deadLetters: z.object({
    dead: z.record(z.string(), count),
    held: count,
    complete: z.boolean(),
  }),
});

const nullableNumber = z.number().nullable();
/** GET /v1/decision-points/{dp}/learning: the learning series (docs/ARCHITECTURE.md §10.1). */
export const learningSeriesSchema = z.object({
  decisionPoint: z.string(),
  resolution: z.enum(['minute', 'hour', 'day']),
  windowSeconds: z.number().int().positive(),
  from: isoTime,
  to: isoTime,
  windows: z.array(
    z.object({
      start: isoTime,
      end: isoTime,
      decisions: count,
      rewardEvents: count,
      lateEvents: count,
      meanReward: nullableNumber,
      uniformEstimate: nullableNumber,
      explorationShare: nullableNumber,
      meanDelaySeconds: nullableNumber,
      sums: z.object({
        decisions: count,
        randomness: z.number(),
        weighted: count,
        weightSum: z.number(),
        reward: z.number(),
        weightedReward: z.number(),
        rewardEvents: count,
        delayMs: z.number(),
        lateEvents: count,
      }),
    }),
  ),
  /** Dead letters attributed to this decision point, as in the model summary. */
  deadLetters: z.object({
    dead: z.record(z.string(), count),
    held: count,
    complete: z.boolean(),
  }),
});

export const importAnswerSchema = z.object({
  created: count,
  updated: count,
  unchanged: count,
  rejected: count,
  failed: count,
  results: z.array(
    z.object({
      index: count,
      actionId: z.string().optional(),
      status: z.enum(['created', 'updated', 'unchanged', 'rejected', 'failed']),
      version: count.optional(),
      error: z.string().optional(),
    }),
  ),
});

export const rollbackAnswerSchema = z.object({
  decisionPoint: z.string(),
  version: z.string(),
  trainedBefore: isoDay,
  cutoffBucket: z.number().int(),
  rolledBack: z.string(),
  remainingHistory: z.array(z.string()),
});

export const evaluationViewSchema = z.object({
  runId: z.string(),
  version: z.string(),
  outcome: z.enum(['promoted', 'rejected', 'failed']),
  reasons: z.array(z.string()),
  warnings: z.array(z.string()),
  startedAt: isoTime,
  finishedAt: isoTime,
  trainedBefore: isoDay,
  heldOutFrom: isoDay,
  cutoffBucket: z.number().int(),
  rounds: count.nullable(),
  policies: z.array(policySummarySchema),
  /**
   * The serving settings the run evaluated the candidate with (Thompson scale, multipliers on the learned λs): searched
   * over a grid where the decision point's settings leave them out, with every point's figures and why.
   */
  exploration: settingsChoiceSchema.optional(),
  report: z.object({ json: z.string(), html: z.string() }),
});
export const evaluationListSchema = z.object({
  activeVersion: z.string().nullable(),
  evaluations: z.array(evaluationViewSchema),
});

export const apiKeyViewSchema = z.object({
  keyId: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  decisionPoints: z.array(z.string()).optional(),
  createdAt: isoTime,
  revokedAt: isoTime.optional(),
  expiresAt: isoTime.optional(),
  rateLimit: z.object({ ratePerSecond: z.number(), burst: z.number() }).optional(),
  /** At the time of the answer: revoked wins over expired. */
  status: z.enum(['active', 'revoked', 'expired']),
});
/** The only answer that shows a key's secret. */
export const createdApiKeySchema = apiKeyViewSchema.extend({ secret: z.string() });
export const apiKeyListSchema = z.object({ keys: z.array(apiKeyViewSchema) });

export const deadLetterListSchema = z.object({
  deadLetters: z.array(
    z.object({
      id: z.string(),
      status: z.enum(['dead', 'held', 'applied', 'replayed']),
      code: z.string(),
      reason: z.string(),
      /** The stream record as it was refused (JSON text). */
      data: z.string(),
      /** Milliseconds since the epoch. */
      at: z.number(),
      replayedAt: z.number().optional(),
      /** The decision point whose learning the record would have changed, when the updater knew it. */
      decisionPoint: z.string().optional(),
    }),
  ),
});
export const replayAnswerSchema = z.object({
  replayed: count,
  skipped: z.array(z.object({ id: z.string(), why: z.string() })),
});

/** `GET /v1/health`: whether the engine can serve, and the check that says so. */
export const healthAnswerSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ stateTable: z.string() }),
  ms: count,
});

/** What a route may put in a body of that kind (routes check theirs with `satisfies`). */
export type Body<S extends z.ZodType> = z.input<S>;
