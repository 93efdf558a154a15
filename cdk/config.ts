import { z } from 'zod';

/**
 * CDK context a deployment may override (`cdk.json` "context" or `cdk synth -c key=value`). Values given with `-c`
 * arrive as strings, so numbers and booleans are coerced; anything out of range fails the synth instead of
 * producing a stack that deploys and then misbehaves.
 */
export const StackConfigSchema = z.object({
  /** Provisioned Kinesis shards; each shard is one in-order updater consumer, so this is the updater's parallelism. */
  shardCount: z.coerce.number().int().min(1).max(500).default(2),
  /** API Gateway stage name; it is the first path segment of the API URL. */
  stageName: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/)
    .default('prod'),
  /** How long the decisions function may serve a cached model before re-reading the state table. */
  modelRefreshMs: z.coerce.number().int().min(0).default(1000),
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
  /** EventBridge schedule expression of the offline retraining runs; default `rate(1 day)`. */
  retrainSchedule: z.string().min(1).optional(),
  /** Decision points retrained on that schedule (comma-separated with `-c`); any other retrains on demand only. */
  retrainDecisionPoints: z
    .union([
      z.array(z.string()),
      z.string().transform((s) =>
        s
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/)))
    .optional(),
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
