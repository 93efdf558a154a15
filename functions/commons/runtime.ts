/**
 * How a function is started. Every function module exports `createHandler(runtime)`: given the function's environment
 * (its `Environment.Variables` in the template) and its SDK clients, it assembles what the function needs and returns
 * the handler. Nothing is read from `process.env` at import time, so the local twin (local/twin/) can start each
 * function of the synthesised stack with its own environment and clients, and several stacks can run in one process.
 *
 * In Lambda, the module's `handler` export is `lambdaHandler(createHandler)`: the first invocation builds the instance
 * from `process.env` and the AWS SDK clients (traced), and every later invocation of the container reuses it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import type { ExecutionStarter, SecretSource } from '../../shared/core/ports.ts';
import { awsClients } from './aws.ts';

/** The SDK clients a function may use, created once per container. Created on first use: most functions need one. */
export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  /** Secrets Manager in AWS; the twin's local secrets (generated in the data folder) locally. */
  readonly secrets: SecretSource;
  /** Step Functions' StartExecution in AWS; the twin's local state machines locally. */
  readonly executions: ExecutionStarter;
}

export interface FunctionRuntime {
  /** The function's environment variables, exactly as configured on the function. */
  environment: Readonly<Record<string, string | undefined>>;
  clients: AwsClients;
  /**
   * Local runs only (never set in AWS): seeds the decisions' sampler so a learning failure reproduces. Absent, the
   * sampler is seeded from the OS, so exploration cannot be steered by a client.
   */
  samplerSeed?: number | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: a handler's event and result types belong to its trigger
export type LambdaHandler = (event: any, context: Context) => Promise<any>;

export interface FunctionInstance {
  handler: LambdaHandler;
  /** What the instance was assembled from, for harnesses that observe a running function (fault tests, twin). */
  engine?: unknown;
}

export type CreateHandler = (runtime: FunctionRuntime) => FunctionInstance;

/** Clients built lazily by `create`, each once; `destroy` closes those that were built. */
export function lazyClients(
  create: { [K in keyof AwsClients]: () => AwsClients[K] },
): AwsClients & { destroy(): void } {
  const made: Partial<AwsClients> = {};
  const get = <K extends keyof AwsClients>(k: K): AwsClients[K] => {
    made[k] ??= create[k]();
    return made[k] as AwsClients[K];
  };
  return {
    get dynamo() {
      return get('dynamo');
    },
    get kinesis() {
      return get('kinesis');
    },
    get s3() {
      return get('s3');
    },
    get secrets() {
      return get('secrets');
    },
    get executions() {
      return get('executions');
    },
    destroy() {
      for (const client of Object.values(made) as { destroy?: () => void }[]) client.destroy?.();
    },
  };
}

/** The Lambda entry point of a function module (see the module documentation). */
export function lambdaHandler(create: CreateHandler): LambdaHandler {
  let instance: FunctionInstance | undefined;
  return (event, context) => {
    instance ??= create({ environment: process.env, clients: awsClients() });
    return instance.handler(event, context);
  };
}
