/** The Lambdas' configuration, validated once at cold start: a missing variable fails loudly, not per request. */
import { z } from 'zod';

const envSchema = z.object({
  STATE_TABLE: z.string().min(1),
  DECISIONS_TABLE: z.string().min(1),
  DEADLETTER_TABLE: z.string().min(1),
  STREAM_NAME: z.string().min(1),
  /** Bounded staleness of the decision container's model cache. */
  MODEL_REFRESH_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
  /** Writer partitions per action's statistics (see docs/ARCHITECTURE.md). Change only with the updater drained. */
  STATS_PARTITIONS: z.coerce.number().int().min(1).max(64).default(4),
  /** Latency budget of a decision for waiting on DynamoDB and Kinesis, after which it degrades (resilience/guard.ts). */
  DECISION_BUDGET_MS: z.coerce.number().int().min(20).max(9000).default(300),
  /** How long a decision waits for a model refresh when the last good model can answer instead. */
  MODEL_WAIT_MS: z.coerce.number().int().min(0).max(9000).default(100),
  /** Per-key request limit of one container (token bucket; see shared/app/rate-limit.ts for what it does not cover). */
  KEY_RATE_LIMIT_RPS: z.coerce.number().positive().max(100_000).default(1000),
  KEY_RATE_LIMIT_BURST: z.coerce.number().int().positive().max(200_000).default(2000),
});
export type Env = z.infer<typeof envSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    throw new Error(
      `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
