/**
 * The one composition root of the engine's functions (decisions, events, admin, updater): `createEngine(config,
 * clients)` turns a validated configuration and the container's SDK clients into the adapters and services the
 * handlers use. Each function module calls it from its `createHandler` (see runtime.ts); nothing here runs per request.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log.ts';
import { DynamoDeadLetterStore } from '../../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../../shared/adapters/dynamodb/decision-store.ts';
import { DynamoErasureLog } from '../../shared/adapters/dynamodb/erasure-log.ts';
import { DynamoPublishLease } from '../../shared/adapters/dynamodb/publish-lease.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { KinesisEventStream, KinesisStreamRangeReader } from '../../shared/adapters/kinesis/event-stream.ts';
import { log } from '../../shared/adapters/log.ts';
import { METRIC, metrics } from '../../shared/adapters/observability.ts';
import { S3BlobStore } from '../../shared/adapters/s3/blob-store.ts';
import { S3JobInputs } from '../../shared/adapters/s3/job-inputs.ts';
import { S3SnapshotStore } from '../../shared/adapters/s3/snapshot-store.ts';
import { AuditTrail } from '../../shared/app/audit/audit-trail.ts';
import { ApiKeyAuthenticator } from '../../shared/app/auth.ts';
import { ModelCache, type ModelSource } from '../../shared/app/decide/model-cache.ts';
import { DEFAULT_PUBLISH_INTERVAL_MS, SnapshotPublisher } from '../../shared/app/decide/snapshot-publisher.ts';
import { SnapshotSource } from '../../shared/app/decide/snapshot-source.ts';
import { JobDecisionLookup } from '../../shared/app/decision-jobs/job-decisions.ts';
import { DecisionJobs } from '../../shared/app/decision-jobs/steps.ts';
import { Pseudonymiser } from '../../shared/app/privacy/pseudonyms.ts';
import type { DecisionResilience } from '../../shared/app/resilience/guard.ts';
import type { DecisionStore } from '../../shared/core/ports.ts';
import { createDecisionObservability, type DecisionObservability } from './observability.ts';
import type { AwsClients } from './runtime.ts';

/** The functions' configuration, validated once at cold start: a missing variable fails loudly, not per request. */
export const engineConfigSchema = z.object({
  STATE_TABLE: z.string().min(1),
  DECISIONS_TABLE: z.string().min(1),
  DEADLETTER_TABLE: z.string().min(1),
  STREAM_NAME: z.string().min(1),
  /** The audit trail's table (the admin function's; see shared/core/audit.ts). */
  AUDIT_TABLE: z.string().min(1).optional(),
  /** How long audit entries are kept (the table's TTL). */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  /** Bounded staleness of the decision container's model cache. */
  MODEL_REFRESH_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
  /**
   * The bucket of model snapshots (docs/ARCHITECTURE.md §5): the updater and the admin function publish there, the
   * decisions function serves from there. Without it every container builds its model from the state table.
   */
  SNAPSHOT_BUCKET: z.string().min(1).optional(),
  /** Copies of each snapshot and pointer under separate key prefixes (S3 serves ~5,500 GET/s per prefix). */
  SNAPSHOT_REPLICAS: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * Least time between two publishes' reads of a decision point (snapshot-publisher.ts, rule 4): bounds the state
   * table's reads under continuous feedback. The admin function, whose writes are few and whose caller waits, sets 0.
   */
  PUBLISH_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_PUBLISH_INTERVAL_MS),
  /**
   * The bucket of decision jobs (the lake bucket): their status, pinned models, outputs, and their decisions' lake
   * objects, which the updater reads when feedback names a job decision (shared/app/decision-jobs/).
   */
  JOBS_BUCKET: z.string().min(1).optional(),
  /** Other buckets a decision job's input may be in (comma-separated names). */
  DECISION_JOB_INPUT_BUCKETS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((b) => b.trim())
            .filter(Boolean)
        : [],
    ),
  /** The state machine that runs decision jobs (the function that starts them). */
  DECISION_JOBS_STATE_MACHINE: z.string().min(1).optional(),
  /** Writer partitions per action's statistics (see docs/ARCHITECTURE.md). Change only with the updater drained. */
  STATS_PARTITIONS: z.coerce.number().int().min(1).max(64).default(4),
  /** Latency budget of a decision for waiting on DynamoDB and Kinesis, after which it degrades (resilience/guard.ts). */
  DECISION_BUDGET_MS: z.coerce.number().int().min(20).max(9000).default(300),
  /** How long a decision waits for a model refresh when the last good model can answer instead. */
  MODEL_WAIT_MS: z.coerce.number().int().min(0).max(9000).default(100),
  /** The secret holding the key of user pseudonyms (its ARN); only the API functions, which see user ids, have it. */
  USER_PSEUDONYM_SECRET: z.string().min(1).optional(),
  /** Days user items and event claims are kept after their last write (decisions: after their window); DynamoDB TTL. */
  JOIN_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /** Days dead letters are kept after they are written (DynamoDB TTL). */
  DEADLETTER_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Days an erasure is kept (as long as the lake may hold the erased user's records). */
  ERASURE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3700).default(372),
  /**
   * Per-key request limit of one container for keys without their own `rateLimit` (token bucket; see
   * shared/app/rate-limit.ts for what it does not cover): a tenth of the stage throttle (1,000/s), so one key's loop
   * cannot take a container from everyone else.
   */
  KEY_RATE_LIMIT_RPS: z.coerce.number().positive().max(100_000).default(100),
  KEY_RATE_LIMIT_BURST: z.coerce.number().int().positive().max(200_000).default(200),
});
export type EngineConfig = z.infer<typeof engineConfigSchema>;

/** Parses a function's environment into its configuration, naming every missing or invalid variable. */
export function readEngineConfig(environment: Readonly<Record<string, string | undefined>>): EngineConfig {
  const parsed = engineConfigSchema.safeParse(environment);
  if (!parsed.success) {
    throw new Error(
      `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export interface Engine {
  config: EngineConfig;
  /** The clients the adapters use (harnesses add fault-injecting middleware to them). */
  clients: Pick<AwsClients, 'dynamo' | 'kinesis' | 'secrets' | 's3' | 'executions'>;
  stateStore: DynamoStateStore;
  decisionStore: DynamoDecisionStore;
  deadLetterStore: DynamoDeadLetterStore;
  eventStream: KinesisEventStream;
  /** Reads a range of the stream back (replaying a batch the event source mapping gave up on). */
  streamRangeReader: KinesisStreamRangeReader;
  authenticator: ApiKeyAuthenticator;
  /** The audit trail of changes, where the function has one (AUDIT_TABLE). */
  audit: AuditTrail | undefined;
  /** The state table's model builder: summaries, and the decisions' fallback before a snapshot exists. */
  modelCache: ModelCache;
  /** Where decisions get their models: snapshots when the function has a snapshot bucket, else `modelCache`. */
  models: ModelSource;
  /** Publishes decision points' snapshots (functions that write what models are built from). */
  publisher: SnapshotPublisher | undefined;
  /** Call after a committed change of a decision point's model: invalidates this container's cache, publishes. */
  modelChanged: (decisionPoint: string) => Promise<void>;
  /** The decision path's latency budget and fallbacks (see shared/app/resilience/guard.ts). */
  decisionResilience: DecisionResilience;
  /** What this container absorbed (metrics, logs and counters). */
  observability: DecisionObservability;
  /** User id → pseudonym, for the functions configured with the key's secret (the API functions). */
  pseudonyms: Pseudonymiser | undefined;
  /** Where erasures are recorded (the state table). */
  erasures: DynamoErasureLog;
}

/**
 * Publishes a decision point's snapshot after a committed write; with `wait` (an admin request, whose caller waits),
 * until a snapshot with the write is published. A failure is logged and counted, not thrown: the write stands, and
 * the next publish (any writer's) covers it; until then containers serve the previous snapshot.
 */
export async function publishQuietly(
  publisher: SnapshotPublisher | undefined,
  decisionPoint: string,
  wait = false,
): Promise<void> {
  if (!publisher) return;
  try {
    if (!wait) await publisher.afterWrites(decisionPoint);
    else if (!(await publisher.publishAndWait(decisionPoint))) {
      log.warn('snapshot not published in time; the next publish covers the change', { decisionPoint });
    }
  } catch (err) {
    metrics.addMetric(METRIC.snapshotPublishFailed, MetricUnit.Count, 1);
    log.warn('snapshot publish failed; containers keep the previous snapshot', { decisionPoint, error: String(err) });
  }
}

/**
 * Decision jobs' steps over the engine (the admin function starts jobs and reads their status; the decision jobs
 * function runs their steps): built by the functions that use them, not by every one.
 */
export function createDecisionJobs(engine: Engine): DecisionJobs {
  const { config, clients } = engine;
  const bucket = config.JOBS_BUCKET;
  if (bucket === undefined) throw new Error('invalid environment: JOBS_BUCKET: required for decision jobs');
  const pseudonyms = requirePseudonyms(engine);
  const stateMachineArn = config.DECISION_JOBS_STATE_MACHINE;
  return new DecisionJobs({
    blobs: new S3BlobStore(clients.s3, bucket),
    bucket,
    inputs: new S3JobInputs(clients.s3, [bucket, ...config.DECISION_JOB_INPUT_BUCKETS]),
    models: engine.models,
    state: engine.stateStore,
    users: engine.decisionStore,
    pseudonymise: () => pseudonyms.mapper(),
    statsPartitions: config.STATS_PARTITIONS,
    ...(stateMachineArn === undefined ? {} : { executions: { starter: clients.executions, stateMachineArn } }),
  });
}

/** The decision store the updater's join reads: decision jobs' decisions resolved from their lake objects (F2d). */
export function createJoinDecisions(engine: Engine): DecisionStore {
  const bucket = engine.config.JOBS_BUCKET;
  if (bucket === undefined) return engine.decisionStore;
  return new JobDecisionLookup(engine.decisionStore, new S3BlobStore(engine.clients.s3, bucket)).decisions;
}

/**
 * The engine's pseudonymiser, its key read at cold start so the first request need not wait for it. An API function
 * without the key's secret fails at cold start, not per request.
 */
export function requirePseudonyms(engine: Engine): Pseudonymiser {
  if (!engine.pseudonyms) throw new Error('invalid environment: USER_PSEUDONYM_SECRET: required by this function');
  engine.pseudonyms.prefetch();
  return engine.pseudonyms;
}

export function createEngine(
  config: EngineConfig,
  clients: Pick<AwsClients, 'dynamo' | 'kinesis' | 'secrets' | 's3' | 'executions'>,
): Engine {
  const observability = createDecisionObservability();
  const stateStore = new DynamoStateStore(clients.dynamo, config.STATE_TABLE);
  const day = 86_400;
  const modelCache = new ModelCache(stateStore, {
    refreshMs: config.MODEL_REFRESH_MS,
    onRefreshError: (err, decisionPoint) =>
      log.warn('model refresh failed; serving the last good model', { decisionPoint, error: String(err) }),
  });
  const snapshots =
    config.SNAPSHOT_BUCKET === undefined
      ? undefined
      : new S3SnapshotStore(clients.s3, config.SNAPSHOT_BUCKET, config.SNAPSHOT_REPLICAS);
  const publisher =
    snapshots &&
    new SnapshotPublisher(stateStore, new DynamoPublishLease(clients.dynamo, config.STATE_TABLE), snapshots, {
      minIntervalMs: config.PUBLISH_MIN_INTERVAL_MS,
      onPublished: (pointer, buildMs) => {
        metrics.addMetric(METRIC.snapshotPublished, MetricUnit.Count, 1);
        log.info('snapshot published', { ...pointer, buildMs });
      },
    });
  const decisionStore = new DynamoDecisionStore(
    clients.dynamo,
    config.DECISIONS_TABLE,
    config.JOIN_RETENTION_DAYS * day,
  );
  const pseudonyms = config.USER_PSEUDONYM_SECRET
    ? new Pseudonymiser(clients.secrets, config.USER_PSEUDONYM_SECRET)
    : undefined;
  const models =
    snapshots === undefined
      ? modelCache
      : new SnapshotSource(snapshots, {
          pollMs: config.MODEL_REFRESH_MS,
          fallback: modelCache,
          onRefreshError: (err, decisionPoint) =>
            log.warn('snapshot poll failed; serving the last good model', { decisionPoint, error: String(err) }),
        });
  return {
    config,
    clients,
    stateStore,
    decisionStore,
    deadLetterStore: new DynamoDeadLetterStore(
      clients.dynamo,
      config.DEADLETTER_TABLE,
      config.DEADLETTER_RETENTION_DAYS * day,
    ),
    pseudonyms,
    erasures: new DynamoErasureLog(clients.dynamo, config.STATE_TABLE, config.ERASURE_RETENTION_DAYS * day),
    eventStream: new KinesisEventStream(clients.kinesis, config.STREAM_NAME),
    streamRangeReader: new KinesisStreamRangeReader(clients.kinesis, config.STREAM_NAME),
    authenticator: new ApiKeyAuthenticator(stateStore, Date.now, {
      limits: { ratePerSecond: config.KEY_RATE_LIMIT_RPS, burst: config.KEY_RATE_LIMIT_BURST },
      onThrottled: observability.onThrottled,
    }),
    audit:
      config.AUDIT_TABLE === undefined
        ? undefined
        : new AuditTrail(new DynamoAuditLog(clients.dynamo, config.AUDIT_TABLE, config.AUDIT_RETENTION_DAYS), {
            log: (level, message, fields) => log[level](message, fields),
            onIncomplete: () => metrics.addMetric(METRIC.auditIncomplete, MetricUnit.Count, 1),
          }),
    decisionResilience: {
      budgetMs: config.DECISION_BUDGET_MS,
      modelWaitMs: config.MODEL_WAIT_MS,
      deferredLog: observability.deferredDecisionLog,
      observer: observability.decisionObserver,
    },
    modelCache,
    models,
    publisher,
    modelChanged: async (decisionPoint) => {
      modelCache.invalidate(decisionPoint);
      // The caller (an admin request) waits for its change to be in a published snapshot, as it used to wait for
      // the state table's write: the change serves within one poll of the answer.
      await publishQuietly(publisher, decisionPoint, true);
    },
    observability,
  };
}
