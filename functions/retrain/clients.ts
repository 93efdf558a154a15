/**
 * Composition root of the retraining Lambdas: configuration validated once at cold start, SDK clients and adapters
 * created once per container, shared by every invocation.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createDynamoClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoErasureLog } from '../../shared/adapters/dynamodb/erasure-log.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { S3BlobStore } from '../../shared/adapters/s3/blob-store.ts';
import { createStepHandlers } from '../../shared/app/retrain/steps.ts';

const envSchema = z.object({
  STATE_TABLE: z.string().min(1),
  /** Bucket of the log lake and the retraining artifacts. */
  LAKE_BUCKET: z.string().min(1),
});

const parsed = envSchema.safeParse(process.env);
if (!parsed.success) {
  throw new Error(
    `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
  );
}
const env = parsed.data;

const dynamo = createDynamoClient();
export const retrainHandlers = createStepHandlers({
  blobs: new S3BlobStore(new S3Client({}), env.LAKE_BUCKET),
  state: new DynamoStateStore(dynamo, env.STATE_TABLE),
  erasures: new DynamoErasureLog(dynamo, env.STATE_TABLE),
});
