/**
 * The twin's Lambda functions: each function of the template is started from its source entry's `createHandler`
 * (functions/commons/runtime.ts) with the environment the template gives it and SDK clients of its own that point at
 * the emulators and enforce its role (iam-enforcement.ts). Like Lambda, an invocation that runs past the function's
 * timeout fails with a timeout error (the work it started goes on, as in a container that is about to be frozen).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { CreateHandler, FunctionInstance, LambdaHandler } from '../../functions/commons/runtime.ts';
import { lazyClients } from '../../functions/commons/runtime.ts';
import { createDynamoClient, createKinesisClient } from '../../shared/adapters/aws-clients.ts';
import type { ExecutionStarter, SecretSource } from '../../shared/core/ports.ts';
import { createEmulatorS3Client } from '../emulators.ts';
import { PROJECT_ROOT } from './assembly.ts';
import {
  enforceOnDynamo,
  enforceOnExecutions,
  enforceOnKinesis,
  enforceOnS3,
  enforceOnSecrets,
  type IamLedger,
  type Principal,
} from './iam-enforcement.ts';
import { type FunctionSpec, type TableSpec, TWIN_REGION, TwinTemplateError } from './template.ts';

export const TWIN_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface Endpoints {
  dynamoEndpoint: string;
  kinesisEndpoint: string;
  s3Endpoint: string;
  /** The local secret store standing in for Secrets Manager (local/twin/resources.ts creates the template's secrets). */
  secrets?: SecretSource;
  /** The local runner of the template's state machines standing in for Step Functions (local/stack.ts). */
  executions?: ExecutionStarter;
}

export function principalOf(spec: FunctionSpec, suffix = ''): Principal {
  return {
    name: `${spec.name}${suffix}`,
    roleName: spec.role.name,
    policies: spec.role.policies.map((p) => p.document),
  };
}

/** SDK clients for `principal` against the emulators, each call judged under its policies. */
export function twinClients(
  endpoints: Endpoints,
  principal: Principal,
  ledger: IamLedger,
  tables: ReadonlyMap<string, TableSpec>,
) {
  const common = { region: TWIN_REGION, credentials: TWIN_CREDENTIALS };
  return lazyClients({
    dynamo: () =>
      enforceOnDynamo(
        createDynamoClient({ ...common, dynamoEndpoint: endpoints.dynamoEndpoint }),
        principal,
        ledger,
        tables,
      ),
    kinesis: () =>
      enforceOnKinesis(
        createKinesisClient({ ...common, kinesisEndpoint: endpoints.kinesisEndpoint }),
        principal,
        ledger,
      ),
    s3: () => enforceOnS3(createEmulatorS3Client(endpoints.s3Endpoint, TWIN_REGION), principal, ledger),
    secrets: () => {
      if (!endpoints.secrets) throw new TwinTemplateError(`${principal.name} asked for secrets: none were created`);
      return enforceOnSecrets(endpoints.secrets, principal, ledger);
    },
    executions: () => {
      if (!endpoints.executions) throw new TwinTemplateError(`${principal.name} asked for Step Functions: none runs`);
      return enforceOnExecutions(endpoints.executions, principal, ledger);
    },
  });
}

export interface TwinFunction {
  spec: FunctionSpec;
  instance: FunctionInstance;
  /** Invokes the handler as Lambda would: a context with the function's name, memory and remaining time. */
  invoke: LambdaHandler;
  destroy(): void;
}

export async function startFunction(
  spec: FunctionSpec,
  endpoints: Endpoints,
  ledger: IamLedger,
  tables: ReadonlyMap<string, TableSpec>,
  local: { samplerSeed?: number | undefined } = {},
): Promise<TwinFunction> {
  if (!spec.entry) {
    throw new TwinTemplateError(
      `function ${spec.name} has no nba:entry metadata: create it with engineFunction() (cdk/constructs/engine-function.ts)`,
    );
  }
  const module = (await import(pathToFileURL(join(PROJECT_ROOT, spec.entry)).href)) as {
    createHandler?: CreateHandler;
  };
  if (typeof module.createHandler !== 'function') {
    throw new TwinTemplateError(`${spec.entry} exports no createHandler(runtime) (see functions/commons/runtime.ts)`);
  }
  const clients = twinClients(endpoints, principalOf(spec), ledger, tables);
  const instance = module.createHandler({
    environment: { ...spec.environment },
    clients,
    samplerSeed: local.samplerSeed,
  });
  const timeoutMs = spec.timeoutSeconds * 1000;
  const invoke: LambdaHandler = async (event, context) => {
    const started = Date.now();
    const lambdaContext: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: spec.physicalName,
      functionVersion: '$LATEST',
      invokedFunctionArn: spec.arn,
      memoryLimitInMB: String(spec.memoryMB),
      awsRequestId: context?.awsRequestId ?? randomUUID(),
      logGroupName: `/aws/lambda/${spec.physicalName}`,
      logStreamName: 'twin',
      getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Task timed out after ${spec.timeoutSeconds.toFixed(2)} seconds`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([instance.handler(event, lambdaContext), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    spec,
    instance,
    invoke,
    destroy: () => clients.destroy(),
  };
}
