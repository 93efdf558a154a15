/** The real AWS SDK clients of a Lambda container (traced by Lambda's active tracing, per invocation). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createDynamoClient, createKinesisClient, createS3Client } from '../../shared/adapters/aws-clients.ts';
import { SecretsManagerSecretSource } from '../../shared/adapters/secrets/secrets-manager.ts';
import { SfnExecutionStarter } from '../../shared/adapters/sfn/execution-starter.ts';
import { type AwsClients, lazyClients } from './runtime.ts';

export function awsClients(): AwsClients {
  return lazyClients({
    dynamo: () => createDynamoClient(),
    kinesis: () => createKinesisClient(),
    s3: () => createS3Client(),
    secrets: () => new SecretsManagerSecretSource(new SecretsManagerClient({})),
    executions: () => new SfnExecutionStarter(new SFNClient({})),
  });
}
