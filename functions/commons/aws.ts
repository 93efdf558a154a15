/** The real AWS SDK clients of a Lambda container, each a subsegment of the invocation's X-Ray trace. */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDynamoClient, createKinesisClient } from '../../shared/adapters/aws-clients.ts';
import { tracer } from '../../shared/adapters/observability.ts';
import { SecretsManagerSecretSource } from '../../shared/adapters/secrets/secrets-manager.ts';
import { type AwsClients, lazyClients } from './runtime.ts';

export function awsClients(): AwsClients {
  return lazyClients({
    dynamo: () => tracer.captureAWSv3Client(createDynamoClient()),
    kinesis: () => tracer.captureAWSv3Client(createKinesisClient()),
    s3: () => tracer.captureAWSv3Client(new S3Client({})),
    secrets: () => new SecretsManagerSecretSource(tracer.captureAWSv3Client(new SecretsManagerClient({}))),
  });
}
