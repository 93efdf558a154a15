/**
 * The data that travels between the states of the retraining state machine, validated with zod at every step (each
 * step is a separate Lambda invocation, so its payload is a boundary). Kept small on purpose: Step Functions limits
 * a state's data to 256 KB, so everything bulky (partial statistics, models, evaluation rounds) lives in the object
 * store under the run's prefix and only keys and summaries travel here.
 */
import { z } from 'zod';
import { DEFAULT_CLIP } from '../../core/importance.ts';
import {
  type PolicySummary,
  policySummarySchema,
  type SettingsChoice,
  settingsChoiceSchema,
} from '../../core/retrain/evaluation-record.ts';
import { combineSchema, decisionPointIdSchema, priorsSchema } from '../../core/schemas.ts';

/** What starts a run: the EventBridge schedule sends `{ "decisionPoint": "…" }`; an operator may set the rest. */
/** Firehose buffers up to 15 minutes: how long a record may still be on its way into the lake, by default. */
export const DEFAULT_LAKE_DELAY_SECONDS = 900;

export const runInputSchema = z.strictObject({
  decisionPoint: decisionPointIdSchema,
  /** Train as of this instant (ISO-8601 with offset); default: when the execution started. */
  asOf: z.iso.datetime({ offset: true }).optional(),
  /** `uniform`: importance-weight towards uniform exploration (see core/importance.ts and core/retrain/weighting.ts); `none`: plain fit. */
  weighting: z.enum(['uniform', 'none']).default('uniform'),
  /** Largest importance weight of one decision. */
  clip: z.number().min(1).max(1e6).default(DEFAULT_CLIP),
  /** Most recent days before the cutoff held out to evaluate the candidate (then trained on before promotion). */
  holdoutDays: z.number().int().min(1).max(90).default(1),
  /**
   * Instead of days: hold out this share of the decisions before the cutoff, chosen by a hash of the decision id (for
   * a history shorter than `holdoutDays` + 1 days, e.g. an import or a new deployment's first days).
   */
  holdoutFraction: z.number().gt(0).lt(1).optional(),
  /** The candidate may be promoted if its lower bound is at least the current model's estimate minus this. */
  tolerance: z.number().min(0).max(1e9).default(0),
  /** Error probability of the candidate's high-confidence lower bound. */
  delta: z.number().gt(0).lt(1).default(0.05),
  /** Held-out rounds the evaluation uses at most (a uniform sample by hash of the decision id beyond that). */
  maxEvalRounds: z.number().int().min(10).max(1_000_000).default(20_000),
  /** Fewer held-out rounds than this: nothing can be certified, the candidate is rejected. */
  minEvalRounds: z.number().int().min(1).max(1_000_000).default(200),
  /** Compressed lake bytes one map worker reads at most (whole hours are never split). */
  targetItemBytes: z
    .number()
    .int()
    .min(1)
    .max(1e10)
    .default(32 * 1024 * 1024),
  /** How long after its time a record may still be on its way into the lake (Firehose buffers up to 15 min). */
  lakeDelaySeconds: z.number().int().min(0).max(86_400).default(DEFAULT_LAKE_DELAY_SECONDS),
  /** Online impressions of a day the lake may miss before promotion is refused (share, 0..1). */
  coverageTolerance: z.number().min(0).max(1).default(0.001),
  /** Promote even if the statistical gate says no (never with incomplete data); recorded in the report. */
  force: z.boolean().default(false),
});
export type RunInput = z.input<typeof runInputSchema>;

export const runParamsSchema = z.object({
  decisionPoint: decisionPointIdSchema,
  runId: z.string().regex(/^[A-Za-z0-9._-]{1,80}$/),
  /** Version the promoted model gets (also the prefix of its artifacts). */
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  startedAt: z.number().int(),
  asOf: z.number().int(),
  /** First bucket NOT in the training data: the fit uses decisions with bucketOf(at) < cutoffBucket. */
  cutoffBucket: z.number().int(),
  /** Decisions in [holdoutFromBucket, cutoffBucket) are the evaluation slice (= cutoffBucket with a fraction). */
  holdoutFromBucket: z.number().int(),
  /** When set, the evaluation slice is this share of the decisions before the cutoff, by hash of the decision id. */
  holdoutFraction: z.number().gt(0).lt(1).optional(),
  weighting: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('uniform'), clip: z.number() }),
    z.object({ kind: z.literal('none') }),
  ]),
  contextDim: z.number().int().min(1),
  actionDim: z.number().int().min(1),
  priors: priorsSchema,
  /** ε left out: the serving policy's default schedule. */
  exploration: z.object({ epsilon: z.number().optional(), scale: z.number().optional() }),
  /** Posteriors whose rewards are non-negative event values (see compoundEventObjectives in core/feedback/reward.ts). */
  compoundEvents: z.array(z.string()).default([]),
  /**
   * The decision point's objectives (name and weight) and how they combine: with exploration, what the serving policy
   * needs (core/policy/serving-policy.ts), so the gate evaluates that policy. Defaults read a run planned before them.
   */
  objectives: z
    .array(
      z.object({
        name: z.string(),
        weight: z.number(),
        /** For the stage values the join step estimates: the ladder, the target events and the window. */
        stages: z.array(z.string()).optional(),
        events: z.record(z.string(), z.number()).optional(),
        windowSeconds: z.number().int().positive().optional(),
      }),
    )
    .default([]),
  combine: combineSchema.default(combineSchema.parse({})),
  /** Longest attribution window of the decision point and its objectives (seconds). */
  windowSeconds: z.number().int().positive(),
  /** User buckets the join step deals records into (one join worker each). */
  buckets: z.number().int().min(1).max(1000).default(1),
  lakeDelaySeconds: z.number().int().min(0),
  maxEvalRounds: z.number().int(),
  minEvalRounds: z.number().int(),
  tolerance: z.number(),
  delta: z.number(),
  coverageTolerance: z.number(),
  force: z.boolean(),
  /** Object-store prefix of this run's artifacts. */
  prefix: z.string(),
});
export type RunParams = z.infer<typeof runParamsSchema>;

const countersSchema = z.record(z.string(), z.number());

export const planSummarySchema = z.object({
  manifestKey: z.string(),
  /** Split items (the first map's items, in the manifest). */
  items: z.number().int(),
  /** User buckets, one join worker each (the second map's items, inline: at most MAX_BUCKETS). */
  buckets: z.array(z.number().int().nonnegative()),
  decisionObjects: z.number().int(),
  /** Compressed bytes of every lake object the run reads (decisions and events). */
  decisionBytes: z.number(),
  /** Users erased when the run was planned: the split drops their records up to their erasure. */
  erasures: z.number().int().default(0),
  /** First and last hour (ms) of training data found in the lake; null when it holds none. */
  firstHour: z.number().nullable(),
  lastHour: z.number().nullable(),
});

export const reduceSummarySchema = z.object({
  key: z.string(),
  /** Split items and user buckets planned. */
  itemsExpected: z.number().int(),
  itemsFound: z.number().int(),
  /**
   * Split items and buckets whose worker failed within the tolerated failure percentage: their data are missing
   * from the fit.
   */
  missingItems: z.array(z.string()),
  counters: countersSchema,
});

export const fitSummarySchema = z.object({
  key: z.string(),
  objectives: z.array(z.string()),
  actions: z.number().int(),
  trainDecisions: z.number(),
  holdoutDecisions: z.number(),
  /** Days with online statistics but no lake data: their online statistics are carried into the model. */
  carriedOverBuckets: z.array(z.number().int()),
  /** Days where the lake holds fewer impressions than the online learner counted: promotion would drop data. */
  incompleteBuckets: z.array(z.object({ bucket: z.number().int(), lake: z.number(), online: z.number() })),
  /**
   * Per objective with a stage ladder: each stage's value estimated from the users' histories (target value after
   * entering it, within the objective's window; `estimateStageValues`), with visits and standard error (null below two
   * visits). Reported, not applied: the decision point's `stageValues` stay what the operator set.
   */
  stageValues: z
    .record(
      z.string(),
      z.record(z.string(), z.object({ value: z.number(), visits: z.number(), standardError: z.number().nullable() })),
    )
    .default({}),
});

export const evaluationSummarySchema = z.object({
  key: z.string(),
  rounds: z.number().int(),
  promote: z.boolean(),
  forced: z.boolean(),
  reasons: z.array(z.string()),
  warnings: z.array(z.string()),
  candidate: policySummarySchema,
  current: policySummarySchema,
  logging: policySummarySchema,
  /** How the candidate's serving settings were chosen (absent in contexts of runs planned before it existed). */
  exploration: settingsChoiceSchema.optional(),
  /** Per objective, the λs learned on the candidate's final statistics and their impressions (promoted with it). */
  fits: z
    .record(z.string(), z.object({ lambdaShared: z.number(), lambdaAction: z.number(), n: z.number() }))
    .optional(),
  /**
   * Several slots: the candidate's and the current model's whole-page estimates (RIPS), the candidate's with its
   * lower bound, which the gate also requires (absent when no held-out decision had several slots).
   */
  pages: z.array(policySummarySchema).optional(),
  /** The active model's item version when evaluated: promotion is refused if it changed meanwhile. */
  activeItemVersion: z.number().int().nullable(),
  activeVersion: z.string().nullable(),
});
export type EvaluationSummary = z.infer<typeof evaluationSummarySchema>;
export type { PolicySummary, SettingsChoice };

export const promotionSummarySchema = z.object({
  promoted: z.boolean(),
  version: z.string(),
  previousVersion: z.string().nullable(),
  reason: z.string().optional(),
  baseItems: z.number().int(),
});

export const reportSummarySchema = z.object({
  jsonKey: z.string(),
  htmlKey: z.string(),
  outcome: z.enum(['promoted', 'rejected', 'failed']),
});

/** Step Functions' error output of a caught failure (`Catch` with `ResultPath: $.error`). */
export const caughtErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

export const runContextSchema = z.object({
  run: runParamsSchema,
  plan: planSummarySchema.optional(),
  reduce: reduceSummarySchema.optional(),
  fit: fitSummarySchema.optional(),
  evaluation: evaluationSummarySchema.optional(),
  promotion: promotionSummarySchema.optional(),
  report: reportSummarySchema.optional(),
  error: caughtErrorSchema.optional(),
});
export type RunContext = z.infer<typeof runContextSchema>;

/**
 * One unit of the split map: lake objects (both kinds, whole hours) whose records the worker deals out to user
 * buckets. Every object the run reads is in exactly one item.
 */
export const partitionItemSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  keys: z.array(z.string()),
  bytes: z.number(),
});
export type PartitionItem = z.infer<typeof partitionItemSchema>;

/** What a split worker receives: the run and its item (`ItemSelector` of the first Distributed Map). */
export const splitInputSchema = z.object({ run: runParamsSchema, item: partitionItemSchema });
export type SplitInput = z.infer<typeof splitInputSchema>;

/** What a join worker receives: the run and its user bucket (`ItemSelector` of the second map). */
export const joinInputSchema = z.object({ run: runParamsSchema, bucket: z.number().int().nonnegative() });
export type JoinInput = z.infer<typeof joinInputSchema>;

export const workerInputSchema = z.union([splitInputSchema, joinInputSchema]);

/** Payload of the step function (one Lambda serves every step but the map worker). */
export const stepPayloadSchema = z.discriminatedUnion('step', [
  z.object({
    step: z.literal('plan'),
    input: z.unknown(),
    executionId: z.string().min(1),
    startTime: z.string().min(1),
  }),
  z.object({ step: z.literal('reduce'), ctx: z.unknown() }),
  z.object({ step: z.literal('fit'), ctx: z.unknown() }),
  z.object({ step: z.literal('evaluate'), ctx: z.unknown() }),
  z.object({ step: z.literal('promote'), ctx: z.unknown() }),
  z.object({ step: z.literal('record'), ctx: z.unknown() }),
]);
export type StepPayload = z.infer<typeof stepPayloadSchema>;
