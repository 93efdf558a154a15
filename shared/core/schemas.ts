/**
 * Every boundary of the engine (HTTP bodies, stream records, stored settings) is described here once, with zod.
 * TypeScript types are derived from these schemas, and the OpenAPI description is generated from them
 * (see `shared/adapters/http/openapi.ts`), so the three can never disagree.
 */
import { z } from 'zod';
import { declarationProblem, resolveCandidates } from './catalog/catalog-version.ts';
import { eligibilityRulesSchema } from './catalog/eligibility.ts';
import { instantMs, instantSchema } from './catalog/schedule.ts';
import { trafficCapSchema } from './catalog/traffic-cap.ts';

export const LIMITS = {
  maxCandidates: 1000,
  maxSlots: 10,
  maxFeatures: 512,
  maxFeatureKeyLength: 64,
  maxFeatureStringLength: 256,
  maxEventsPerRequest: 500,
  maxDecisionsPerRequest: 100,
  maxBodyBytes: 256 * 1024,
} as const;

export const decisionPointIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters from A-Z a-z 0-9 . _ -');
export const actionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 characters from A-Z a-z 0-9 . _ : -');
export const userIdSchema = z.string().min(1).max(256);
export const eventIdSchema = z.string().min(1).max(128);
export const eventTypeSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters from A-Z a-z 0-9 _ . : -');

/** A finite number: JSON cannot carry NaN/Infinity, but values like 1e400 parse to Infinity and are rejected here. */
export const finiteNumber = z.number().refine(Number.isFinite, 'must be a finite number');

export const featureValueSchema = z.union([finiteNumber, z.string().max(LIMITS.maxFeatureStringLength), z.boolean()]);
/** Named features: numbers as they are, strings as categories, booleans as 1/0 (hashed into slots). */
export const namedFeaturesSchema = z
  .record(z.string().min(1).max(LIMITS.maxFeatureKeyLength), featureValueSchema)
  .refine((o) => Object.keys(o).length <= LIMITS.maxFeatures, `at most ${LIMITS.maxFeatures} features`);
/**
 * Features, named or dense: an array of numbers is placed by position (element i in slot 1 + i), as the simulator,
 * `import` and `evaluate` read histories. Both encode by the one rule of `core/features/encode.ts`.
 */
export const featuresSchema = z.union([
  namedFeaturesSchema,
  z.array(finiteNumber).max(LIMITS.maxFeatures, `at most ${LIMITS.maxFeatures} dense features`),
]);
export type Features = z.infer<typeof featuresSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Decision point settings

/**
 * The model's hyper-parameters. Each one left out is learned from the data (empirical Bayes, per objective; see
 * core/bandit/hyperparameters.ts); give one only to pin it.
 */
export const priorsSchema = z.strictObject({
  /** λs: prior precision of the shared (action-feature) coefficients, in units of 1/σ². */
  lambdaShared: z.number().positive().max(1e6).optional(),
  /** λa: prior precision of each action's own coefficients around the shared prediction, in units of 1/σ². */
  lambdaAction: z.number().positive().max(1e6).optional(),
  /** s0²: prior guess of the reward noise variance (learned: the variance of the rewards seen). */
  noisePriorVariance: z.number().positive().max(1e6).optional(),
  /** ν0: how many observations' worth of weight s0² carries (default 10). */
  noisePriorWeight: z.number().min(0).max(1e6).optional(),
});

export const explorationSchema = z.strictObject({
  /**
   * Share of decisions taken uniformly at random: every live candidate keeps probability >= epsilon / K. Left out: a
   * schedule that starts at 0.05 and decays to 0.01 as the model learns (core/policy/serving-policy.ts).
   */
  epsilon: z.number().min(0).max(1).optional(),
  /**
   * Multiplies the posterior variance used by Thompson sampling (0 = greedy on the posterior mean). Left out: the
   * scale the last promoted retraining run chose by off-policy evaluation, 1 before any.
   */
  scale: z.number().min(0).max(100).optional(),
});

export const stageNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be 1-32 characters from A-Z a-z 0-9 _ . -');
export const objectiveNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be 1-32 characters from a-z 0-9 _ -, starting with a letter or digit')
  .refine((n) => n !== 'default' && n !== 'weighted', 'default and weighted are reserved names');

/**
 * A business objective: target events with their values, and/or a lifecycle stage ladder (lowest first) whose moves
 * are rewarded as the change in stage value (potential-based shaping). Each objective has its own bandit.
 */
export const objectiveSchema = z
  .strictObject({
    name: objectiveNameSchema,
    /** Value of each target event type, e.g. `{ "purchase": 50, "add_to_cart": 5 }`; an event's `value` overrides. */
    events: z
      .record(eventTypeSchema, finiteNumber)
      .refine((o) => Object.keys(o).length <= 50, 'at most 50 event types')
      .default({}),
    /** Lifecycle stages from least to most preferred, e.g. `["prospect", "lead", "customer", "loyal"]`. */
    stages: z.array(stageNameSchema).min(2).max(20).optional(),
    /** Value of being in each stage. Default: the stage's position on the ladder (0, 1, 2, …) until learned offline. */
    stageValues: z.record(stageNameSchema, finiteNumber).optional(),
    /** Defaults to the decision point's attribution window. */
    attributionWindowSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86400)
      .optional(),
    /** Weight in `weighted` mode and in the global (fallback) policy's reward. */
    weight: z.number().min(0).max(1e6).default(1),
  })
  .superRefine((o, ctx) => {
    if (Object.keys(o.events).length === 0 && !o.stages) {
      ctx.addIssue({ code: 'custom', message: `objective ${o.name} needs target events or a stage ladder` });
    }
    if (o.stages && new Set(o.stages).size !== o.stages.length) {
      ctx.addIssue({ code: 'custom', path: ['stages'], message: 'stages must be distinct' });
    }
    for (const stage of Object.keys(o.stageValues ?? {})) {
      if (!o.stages?.includes(stage)) {
        ctx.addIssue({ code: 'custom', path: ['stageValues', stage], message: `${stage} is not on the stage ladder` });
      }
    }
    if ('stage' in o.events)
      ctx.addIssue({ code: 'custom', path: ['events', 'stage'], message: 'stage events are rewarded through stages' });
  });
export type Objective = z.output<typeof objectiveSchema>;

export const combineSchema = z.strictObject({
  /**
   * `weighted`: score = Σ weight_k × (objective k's sampled value). `intent`: per user, serve the policy of the
   * objective with the highest P(reach k) × value_k, falling back to the global policy without enough outcomes.
   */
  mode: z.enum(['weighted', 'intent']).default('weighted'),
  /** Intent mode: outcomes an objective needs before its intent model is trusted. */
  minOutcomes: z.number().int().min(1).max(1e9).default(30),
});

export const rewardBoundsSchema = z
  .strictObject({ min: finiteNumber, max: finiteNumber })
  .refine((b) => b.min < b.max, { path: ['max'], message: 'must be greater than min' });

export const decisionPointSettingsSchema = z
  .strictObject({
    description: z.string().max(1024).optional(),
    /**
     * Encoded context dimension d (bias included). Fixed once the decision point has learned. Each action's model sees
     * all d slots; the shared (action-feature) model sees a count sketch of them when d × actionDim > 256 (see
     * `sharedSketch`, core/bandit/posterior.ts). Costs grow with d²: an action's statistics take 8·d²/2 bytes (66 KB at
     * 128, 263 KB at 256; docs/ARCHITECTURE.md §6).
     */
    contextDim: z.number().int().min(2).max(256).default(16),
    /** Encoded action-feature dimension m (bias included). Fixed once the decision point has learned. */
    actionDim: z.number().int().min(1).max(32).default(8),
    /** How long after a decision its feedback still counts as a reward for it. */
    attributionWindowSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86400)
      .default(3600),
    exploration: explorationSchema.default(explorationSchema.parse({})),
    /** Reward per event type. Empty: any event joined to a decision is worth 1 (an event's `value` overrides). */
    rewards: z
      .record(eventTypeSchema, finiteNumber)
      .refine((o) => Object.keys(o).length <= 100, 'at most 100 event types')
      .default({}),
    priors: priorsSchema.default(priorsSchema.parse({})),
    /**
     * The range a client's event `value` must lie in (F9 of docs/ARCHITECTURE.md). Default: [min(0, smallest
     * configured reward), max(1, largest configured reward)] over `rewards` and every objective's events.
     */
    rewardBounds: rewardBoundsSchema.optional(),
    /** Whether events may carry their own `value` (overriding the configured reward) at all. */
    acceptEventValues: z.boolean().default(true),
    /** Business objectives, each with its own bandit. Without any, `rewards` defines the one objective. */
    objectives: z.array(objectiveSchema).max(10).default([]),
    combine: combineSchema.default(combineSchema.parse({})),
  })
  .superRefine((s, ctx) => {
    const names = s.objectives.map((o) => o.name);
    if (new Set(names).size !== names.length) {
      ctx.addIssue({ code: 'custom', path: ['objectives'], message: 'objective names must be distinct' });
    }
    if (s.objectives.length > 0 && Object.keys(s.rewards).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['rewards'], message: 'use either rewards or objectives, not both' });
    }
  });
export type DecisionPointSettings = z.output<typeof decisionPointSettingsSchema>;
export type DecisionPointSettingsInput = z.input<typeof decisionPointSettingsSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Catalog

/** Free-form data returned to the caller with the action; capped so a catalog item stays far below 400 KB. */
export const MAX_METADATA_BYTES = 8192;

export const actionInputSchema = z
  .strictObject({
    features: featuresSchema.default({}),
    /** Serves from this instant on (ISO-8601 with offset); absent: at once. */
    startsAt: instantSchema.optional(),
    /** Stops serving at this instant (exclusive; ISO-8601 with offset); absent: until retired. */
    endsAt: instantSchema.optional(),
    /** All rules must hold for the action to be a candidate (see `core/catalog/eligibility.ts`). */
    eligibility: eligibilityRulesSchema.optional(),
    /** Caps the share of decisions the action is a candidate in while it is new (see `core/catalog/traffic-cap.ts`). */
    trafficCapWhileNew: trafficCapSchema.optional(),
    metadata: z
      .record(z.string().max(64), z.unknown())
      .refine(
        (o) => Buffer.byteLength(JSON.stringify(o), 'utf8') <= MAX_METADATA_BYTES,
        `at most ${MAX_METADATA_BYTES} bytes of JSON`,
      )
      .optional(),
  })
  .superRefine((a, ctx) => {
    if (a.startsAt !== undefined && a.endsAt !== undefined && instantMs(a.endsAt) <= instantMs(a.startsAt)) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: `must be after startsAt (${a.startsAt})` });
    }
  });
export type ActionInput = z.output<typeof actionInputSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Decisions

export const decisionRequestSchema = z.strictObject({
  decisionPoint: decisionPointIdSchema,
  userId: userIdSchema,
  context: featuresSchema.default({}),
  candidates: z.array(actionIdSchema).min(1).max(LIMITS.maxCandidates).optional(),
  exclude: z.array(actionIdSchema).max(LIMITS.maxCandidates).optional(),
  slots: z.number().int().min(1).max(LIMITS.maxSlots).default(1),
});
export type DecisionRequest = z.output<typeof decisionRequestSchema>;

/** `POST /v1/decisions:batch`: up to 100 decision requests, each validated on its own (a bad one is answered alone). */
export const decisionBatchRequestSchema = z.strictObject({
  requests: z.array(z.unknown()).min(1).max(LIMITS.maxDecisionsPerRequest),
  /** Answer every decision's full ranking too (default: its chosen actions and propensity). */
  ranking: z.boolean().default(false),
});

export const rankingEntrySchema = z.object({
  actionId: z.string(),
  score: z.number(),
  probability: z.number(),
});
export const decisionResponseSchema = z.object({
  decisionId: z.string(),
  chosen: z.array(z.string()),
  /**
   * One entry per slot, in order: the action and the probability that the policy put it in this slot given the
   * actions in the slots above (slot 1: its plain probability, the logged propensity). A slate's probability is
   * their product.
   */
  slots: z.array(z.object({ actionId: z.string(), propensity: z.number() })),
  ranking: z.array(rankingEntrySchema),
  modelVersion: z.string(),
  /** The policy that drove the decision: `default`, `weighted`, or the objective chosen by the intent model. */
  objective: z.string(),
});
export type DecisionResponse = z.infer<typeof decisionResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Feedback events

export const feedbackEventSchema = z
  .strictObject({
    eventId: eventIdSchema,
    userId: userIdSchema,
    decisionId: z.string().min(1).max(64).optional(),
    /**
     * The decision point the event is about: without `decisionId` it answers the user's latest decision there; with
     * it, the decision must belong to it.
     */
    decisionPoint: decisionPointIdSchema.optional(),
    /** Which of the decision's chosen actions the event is about; defaults to the slot-1 action. */
    actionId: actionIdSchema.optional(),
    type: eventTypeSchema,
    value: finiteNumber.refine((v) => Math.abs(v) <= 1e9, 'must be within ±1e9').optional(),
    /** ISO-8601 time the event happened; defaults to the time it was received. */
    timestamp: z.iso.datetime({ offset: true }).optional(),
    /** With `type: "stage"`: the lifecycle stage the user is now in. */
    stage: stageNameSchema.optional(),
  })
  .superRefine((e, ctx) => {
    if (e.type === 'stage' && e.stage === undefined)
      ctx.addIssue({ code: 'custom', path: ['stage'], message: 'required when type is "stage"' });
    if (e.type !== 'stage' && e.stage !== undefined)
      ctx.addIssue({ code: 'custom', path: ['stage'], message: 'only allowed when type is "stage"' });
  });
export type FeedbackEvent = z.infer<typeof feedbackEventSchema>;

export const feedbackRequestSchema = z.strictObject({
  events: z.array(z.unknown()).min(1).max(LIMITS.maxEventsPerRequest),
});

// ---------------------------------------------------------------------------------------------------------------
// Stream records (what travels on Kinesis). Versioned so old records stay readable after an upgrade.

export const decisionRecordSchema = z
  .strictObject({
    kind: z.literal('decision'),
    v: z.literal(1),
    decisionId: z.string(),
    decisionPoint: decisionPointIdSchema,
    userId: userIdSchema,
    /** Milliseconds since the epoch when the decision was made. */
    at: z.number().int().nonnegative(),
    context: featuresSchema,
    /** The encoded context vector x the decision was scored with. */
    x: z.array(finiteNumber),
    /** The candidates the decision chose among; or, instead, `catalog` and `candidateCount` (catalog-version.ts, C2). */
    candidates: z.array(actionIdSchema).optional(),
    /** The candidates as a catalog version less the omitted ids, declaring the version's ids where it must (C2, C3). */
    catalog: z
      .strictObject({
        version: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'must be a catalog version (22 base64url characters)'),
        ids: z.array(actionIdSchema).min(1).optional(),
        omitted: z.array(actionIdSchema).min(1).optional(),
      })
      .optional(),
    /** How many candidates `catalog` names. */
    candidateCount: z.number().int().positive().optional(),
    chosen: z.array(actionIdSchema).min(1),
    /** Encoded features c of each chosen action, aligned with `chosen`. */
    chosenFeatures: z.array(z.array(finiteNumber)),
    /** Probability that the serving policy picks chosen[0] for slot 1. */
    propensity: z.number().min(0).max(1),
    /**
     * With several slots: each chosen action's probability of its slot given the slots above (aligned with `chosen`;
     * the first is `propensity`). Absent with one slot.
     */
    slotPropensities: z.array(z.number().min(0).max(1)).optional(),
    modelVersion: z.string(),
    attributionWindowSeconds: z.number().int().positive(),
    rewards: z.record(z.string(), finiteNumber),
    /** The decision point's objectives when the decision was made: rewards are computed with these. */
    objectives: z
      .array(
        z.strictObject({
          name: z.string(),
          events: z.record(z.string(), finiteNumber),
          stages: z.array(z.string()).optional(),
          stageValues: z.record(z.string(), finiteNumber).optional(),
          attributionWindowSeconds: z.number().int().positive(),
          weight: z.number(),
        }),
      )
      .default([]),
    /** The decision point's reward range and value policy when decided (F9); absent in older records: defaults. */
    rewardBounds: z.strictObject({ min: z.number(), max: z.number() }).optional(),
    acceptEventValues: z.boolean().optional(),
    /** Which policy served: `default`, `weighted` or an objective name (intent mode). */
    servedBy: z.string().default('default'),
    /** The user's lifecycle stage when decided, if known. */
    stage: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.candidates === undefined) === (r.catalog === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['candidates'],
        message: 'exactly one of candidates and catalog is required',
      });
    } else if (r.catalog !== undefined) {
      if (r.candidateCount === undefined) {
        ctx.addIssue({ code: 'custom', path: ['candidateCount'], message: 'required with catalog' });
        return;
      }
      const problem = declarationProblem(r.catalog, r.candidateCount);
      if (problem) ctx.addIssue({ code: 'custom', path: ['catalog'], message: problem });
    } else if (r.candidateCount !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['candidateCount'], message: 'only allowed with catalog' });
    }
  });
export type DecisionRecord = z.infer<typeof decisionRecordSchema>;

/** How many candidates a decision record's decision chose among, whichever way it names them. */
export const candidateCountOf = (r: Pick<DecisionRecord, 'candidates' | 'candidateCount'>): number =>
  r.candidates?.length ?? r.candidateCount ?? 0;

/**
 * The candidates a decision record names (catalog-version.ts, C5): its list, or its catalog reference resolved by its
 * own declaration or by `stored` (decision point, version → ids); undefined when the version is unknown.
 */
export function candidatesOf(
  r: Pick<DecisionRecord, 'decisionPoint' | 'candidates' | 'catalog'>,
  stored: (decisionPoint: string, version: string) => readonly string[] | undefined,
): string[] | undefined {
  if (r.candidates) return r.candidates;
  if (!r.catalog) return undefined;
  const ids = r.catalog.ids ?? stored(r.decisionPoint, r.catalog.version);
  return ids && resolveCandidates(r.catalog, ids);
}

export const eventRecordSchema = z.strictObject({
  kind: z.literal('event'),
  v: z.literal(1),
  event: feedbackEventSchema,
  /** Milliseconds since the epoch when the API accepted the event. */
  receivedAt: z.number().int().nonnegative(),
  /** The decision points the sender's API key may use (F8); absent: all. */
  scope: z.array(decisionPointIdSchema).max(1000).optional(),
});
export type EventRecord = z.infer<typeof eventRecordSchema>;

export const streamRecordSchema = z.discriminatedUnion('kind', [decisionRecordSchema, eventRecordSchema]);
export type StreamRecord = z.infer<typeof streamRecordSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Dead letters

/** Which dead letters to list or replay (`GET /v1/dead-letters` query, `POST /v1/dead-letters/replay` body). */
export const deadLetterFilterSchema = z.strictObject({
  /** Records that name this decision point (a decision's own, or an event's `decisionPoint`). */
  decisionPoint: decisionPointIdSchema.optional(),
  /** The rule that refused them (`no-decision`, `action-not-chosen`, …, `malformed`, or `held`). */
  code: z
    .string()
    .regex(/^[a-z-]{1,32}$/, 'must be a rule code such as no-decision')
    .optional(),
  status: z.enum(['dead', 'held', 'applied', 'replayed']).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** A range of one shard the updater gave up on, as its on-failure destination names it (`KinesisBatchInfo`). */
export const streamRangeSchema = z
  .strictObject({
    shardId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be a shard id such as shardId-000000000000'),
    /** `startSequenceNumber` of the failed batch. */
    from: z.string().regex(/^\d{1,128}$/, 'must be a sequence number (digits)'),
    /** `endSequenceNumber` of the failed batch. */
    to: z.string().regex(/^\d{1,128}$/, 'must be a sequence number (digits)'),
  })
  .refine((r) => BigInt(r.from) <= BigInt(r.to), { path: ['to'], message: 'must not be before from' });

/** Renders a zod error as one line a client can act on: `context.age: must be a finite number; slots: ...`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}
