/**
 * Composition root of the retraining Lambdas: configuration validated once at cold start, SDK clients and adapters
 * created once per container, shared by every invocation.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createDynamoClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log.ts';
import { DynamoErasureLog } from '../../shared/adapters/dynamodb/erasure-log.ts';
import { DynamoPublishLease } from '../../shared/adapters/dynamodb/publish-lease.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { log } from '../../shared/adapters/log.ts';
import { S3BlobStore } from '../../shared/adapters/s3/blob-store.ts';
import { S3SnapshotStore } from '../../shared/adapters/s3/snapshot-store.ts';
import { AuditTrail } from '../../shared/app/audit/audit-trail.ts';
import { SnapshotPublisher } from '../../shared/app/decide/snapshot-publisher.ts';
import { createStepHandlers } from '../../shared/app/retrain/steps.ts';

const envSchema = z.object({
  STATE_TABLE: z.string().min(1),
  /** Bucket of the log lake and the retraining artifacts. */
  LAKE_BUCKET: z.string().min(1),
  /** The audit trail, where promotions are recorded (the steps function's; the map worker promotes nothing). */
  AUDIT_TABLE: z.string().min(1).optional(),
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  /** Where the promote step publishes the promoted model's snapshot. */
  SNAPSHOT_BUCKET: z.string().min(1).optional(),
  SNAPSHOT_REPLICAS: z.coerce.number().int().min(1).max(64).default(1),
});

const parsed = envSchema.safeParse(process.env);
if (!parsed.success) {
  throw new Error(
    `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
  );
}
const env = parsed.data;

const dynamo = createDynamoClient();
const s3 = new S3Client({});
const state = new DynamoStateStore(dynamo, env.STATE_TABLE);
const publisher =
  env.SNAPSHOT_BUCKET === undefined
    ? undefined
    : new SnapshotPublisher(
        state,
        new DynamoPublishLease(dynamo, env.STATE_TABLE),
        new S3SnapshotStore(s3, env.SNAPSHOT_BUCKET, env.SNAPSHOT_REPLICAS),
        // One promotion per run: publish at once.
        { minIntervalMs: 0 },
      );
export const retrainHandlers = createStepHandlers({
  blobs: new S3BlobStore(s3, env.LAKE_BUCKET),
  state,
  modelChanged: async (dp) => {
    await publisher?.publishAndWait(dp);
  },
  erasures: new DynamoErasureLog(dynamo, env.STATE_TABLE),
  audit:
    env.AUDIT_TABLE === undefined
      ? undefined
      : new AuditTrail(new DynamoAuditLog(dynamo, env.AUDIT_TABLE, env.AUDIT_RETENTION_DAYS), {
          log: (level, message, fields) => log[level](message, fields),
        }),
});
