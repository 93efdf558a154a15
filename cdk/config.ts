import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';

/** The retention periods CloudWatch Logs accepts, in days (`RetentionDays`, "never expire" excluded). */
const LOG_RETENTION_DAYS = Object.values(RetentionDays).filter(
  (v): v is number => typeof v === 'number' && v !== RetentionDays.INFINITE,
);
/** A list of names: an array in cdk.json, or comma-separated with `-c`. */
const names = z.union([
  z.array(z.string()),
  z.string().transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  ),
]);
const days = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * CDK context a deployment may override (`cdk.json` "context" or `cdk synth -c key=value`). Values given with `-c`
 * arrive as strings, so numbers and booleans are coerced; anything out of range fails the synth instead of
 * producing a stack that deploys and then misbehaves.
 */
export const StackConfigSchema = z
  .object({
    /** Provisioned Kinesis shards; each shard is one in-order updater consumer, so this is the updater's parallelism. */
    shardCount: z.coerce.number().int().min(1).max(500).default(2),
    /** API Gateway stage name; it is the first path segment of the API URL. */
    stageName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/)
      .default('prod'),
    /** How often a decisions container polls its model snapshot's pointer (staleness of serving, docs §5). */
    modelRefreshMs: z.coerce.number().int().min(0).default(1000),
    /**
     * Copies of each model snapshot under separate S3 key prefixes: S3 serves about 5,500 GETs per second per prefix,
     * and each decisions container polls once per `modelRefreshMs`. One replica serves ≈ 5,000 containers
     * (`npm run capacity` says how many a load needs).
     */
    snapshotReplicas: z.coerce.number().int().min(1).max(64).default(1),
    /**
     * API Gateway needs one account-wide CloudWatch Logs role per Region before a stage may write access logs. Set
     * false when another stack in the account already manages it.
     */
    manageApiGatewayCloudWatchRole: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])
      .default(true),
    /**
     * The web ACL's rate rules (cdk/constructs/api-protection.ts): requests one API key, and one source address, may
     * send in any 5 minutes. Per key, 60,000 is 200/s on average, a fifth of the stage throttle (1,000/s).
     */
    wafRateLimitPerKey: z.coerce.number().int().min(10).max(2_000_000_000).default(60_000),
    wafRateLimitPerIp: z.coerce.number().int().min(10).max(2_000_000_000).default(120_000),
    /** Days audit entries are kept (the audit table's TTL). */
    auditRetentionDays: z.coerce.number().int().min(1).max(3650).default(365),
    /**
     * Buckets besides the lake bucket that decision jobs may read their input from (comma-separated with `-c`); the
     * decision jobs' functions get read access to them.
     */
    decisionJobInputBuckets: names.pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/))).default([]),
    /** Chunks of one decision job decided at once (the Distributed Map's concurrency). */
    decisionJobConcurrency: z.coerce.number().int().min(1).max(10_000).default(50),
    /** EventBridge schedule expression of the offline retraining runs; default `rate(1 day)`. */
    retrainSchedule: z.string().min(1).optional(),
    /** Decision points retrained on that schedule (comma-separated with `-c`); any other retrains on demand only. */
    retrainDecisionPoints: names.pipe(z.array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/))).optional(),
    // Retention (docs/ARCHITECTURE.md §8, "What is kept, where, for how long"). Finite by default everywhere.
    /** Days the log lake keeps decision and event records (S3 lifecycle on `lake/`); retraining sees this history. */
    lakeRetentionDays: days(1, 3650).default(365),
    /** Days a run's artifacts (`retrain/`: its copies of lake records dealt out by user, partials, reports) are kept. */
    retrainArtifactRetentionDays: days(1, 3650).default(30),
    /** Days dead letters are kept before DynamoDB's TTL may delete them (replay them before). */
    deadLetterRetentionDays: days(1, 3650).default(30),
    /**
     * Days the join index keeps user items and event claims after their last write, and decisions after their
     * attribution window (DynamoDB TTL): an event id counts once per user within this period (F3).
     */
    joinRetentionDays: days(8, 3650).default(90),
    /** Days every log group keeps its lines; one of CloudWatch Logs' periods. */
    logRetentionDays: z.coerce
      .number()
      .int()
      .refine((v) => LOG_RETENTION_DAYS.includes(v), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(30),
  })
  .refine((c) => c.joinRetentionDays > c.deadLetterRetentionDays, {
    path: ['joinRetentionDays'],
    message:
      'must exceed deadLetterRetentionDays: a dead letter replayed after its event claim expired could count twice',
  });

export type StackConfig = z.infer<typeof StackConfigSchema>;

/** The context keys above, read through `lookup` (normally `app.node.tryGetContext`). */
export function parseStackConfig(lookup: (key: string) => unknown): StackConfig {
  const raw = Object.fromEntries(
    Object.keys(StackConfigSchema.shape)
      .map((key) => [key, lookup(key)] as const)
      .filter(([, value]) => value !== undefined),
  );
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Invalid CDK context: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
