/**
 * SDK clients, created once per Lambda container (or once per local process). Endpoints come from the standard
 * `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_KINESIS` variables, which the local mode points at the emulators.
 * Kinesis uses the HTTP/1.1 handler: the emulator does not speak HTTP/2, and PutRecords gains nothing from it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface ClientOptions {
  region?: string;
  dynamoEndpoint?: string;
  kinesisEndpoint?: string;
  s3Endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** SDK retry attempts; the decision path keeps this low to stay inside its latency budget. */
  maxAttempts?: number;
}

export function createDynamoClient(o: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(o.region ? { region: o.region } : {}),
    ...(o.dynamoEndpoint ? { endpoint: o.dynamoEndpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 5000 }),
  });
}

export function createKinesisClient(o: ClientOptions = {}): KinesisClient {
  return new KinesisClient({
    ...(o.region ? { region: o.region } : {}),
    ...(o.kinesisEndpoint ? { endpoint: o.kinesisEndpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 5000 }),
  });
}

/** Path-style addressing with an endpoint (the S3 emulator has no per-bucket host names). */
export function createS3Client(o: ClientOptions = {}): S3Client {
  return new S3Client({
    ...(o.region ? { region: o.region } : {}),
    ...(o.s3Endpoint ? { endpoint: o.s3Endpoint, forcePathStyle: true } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 5000 }),
  });
}
