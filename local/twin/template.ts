/**
 * Reads a synthesised CloudFormation template into the plan of the local twin: every fact about the infrastructure
 * (tables, keys and indexes, streams and shard counts, queues, functions with their environment, memory, timeout and
 * role policies, API Gateway routes, Kinesis event source mappings, state machines, schedules) comes from here, so the
 * twin runs what `cdk deploy` would create and a change to the stack reaches local mode without a change under local/.
 *
 * Physical names follow CloudFormation's pattern without its random suffix: `{stack}-{logicalId}` (lower case for S3
 * buckets), in Region us-east-1 of account 000000000000. Intrinsic functions are resolved to these names and ARNs.
 * What the twin cannot run faithfully is refused with an error naming the resource (an on-demand stream, a
 * non-proxy API integration), never approximated silently.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { ENTRY_METADATA_KEY } from '../../cdk/constructs/engine-function.ts';

export const TWIN_REGION = 'us-east-1';
export const TWIN_ACCOUNT = '000000000000';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface TemplateResource {
  Type: string;
  Properties?: Record<string, Json>;
  Metadata?: Record<string, Json>;
}
export interface Template {
  Resources: Record<string, TemplateResource>;
}

export interface TableSpec {
  logicalId: string;
  /** The construct id (`StateTable`), stable across template changes. */
  constructName: string;
  name: string;
  arn: string;
  partitionKey: string;
  /** Partition key of each index, by index name. */
  indexPartitionKeys: Record<string, string>;
  create: CreateTableCommandInput;
}

export interface StreamSpec {
  logicalId: string;
  constructName: string;
  name: string;
  arn: string;
  shardCount: number;
}

export interface QueueSpec {
  logicalId: string;
  constructName: string;
  name: string;
  arn: string;
}

/** An IAM policy document as the template states it, intrinsics resolved. */
export interface PolicyDocument {
  Statement: PolicyStatement[];
}
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

export interface RoleSpec {
  logicalId: string;
  name: string;
  arn: string;
  /** Inline and attached customer policies, by policy logical id. */
  policies: { id: string; document: PolicyDocument }[];
  /** AWS-managed policies attached by ARN: their content is not in the template, so the twin grants nothing from them. */
  managedPolicyArns: string[];
}

export interface FunctionSpec {
  logicalId: string;
  /** The construct id, e.g. `DecisionsFunction` or `Retraining/RetrainStepsFunction`. */
  name: string;
  physicalName: string;
  arn: string;
  /** Source module, relative to the project root (see cdk/constructs/engine-function.ts). */
  entry: string | undefined;
  environment: Record<string, string>;
  memoryMB: number;
  timeoutSeconds: number;
  role: RoleSpec;
}

export interface RouteSpec {
  /** `GET`, `POST`, …, or `ANY`. */
  method: string;
  /** Resource path as API Gateway writes it: `/v1/decision-points/{proxy+}`. */
  resource: string;
  functionLogicalId: string;
}

export interface EventSourceMappingSpec {
  logicalId: string;
  functionLogicalId: string;
  streamLogicalId: string;
  batchSize: number;
  maxBatchingWindowMs: number;
  bisectBatchOnFunctionError: boolean;
  /** -1: retry until the record expires, as Lambda's default. */
  maximumRetryAttempts: number;
  /** -1: no limit (up to the stream's retention). */
  maximumRecordAgeSeconds: number;
  reportBatchItemFailures: boolean;
  parallelizationFactor: number;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  onFailureDestinationArn: string | undefined;
}

export interface StateMachineSpec {
  logicalId: string;
  arn: string;
  definition: Record<string, unknown>;
  roleLogicalId: string | undefined;
}

export interface ScheduleSpec {
  logicalId: string;
  expression: string;
  targets: { arn: string; input: string | undefined }[];
}

/** A Secrets Manager secret: how its value is made (CloudFormation's `GenerateSecretString`, or a literal). */
export interface SecretSpec {
  logicalId: string;
  constructName: string;
  name: string;
  arn: string;
  value: { literal: string } | { generate: { length: number; alphabet: string } };
}

export interface DeliveryStreamSpec {
  logicalId: string;
  sourceStreamLogicalId: string;
  bucketLogicalId: string;
}

/** An S3 bucket (created empty in the S3 emulator). */
export interface BucketSpec {
  logicalId: string;
  /** The construct path, e.g. `SnapshotBucket` or `Retraining/LakeBucket`. */
  constructName: string;
  name: string;
  arn: string;
}

export interface TwinPlan {
  stackName: string;
  buckets: BucketSpec[];
  tables: TableSpec[];
  streams: StreamSpec[];
  queues: QueueSpec[];
  functions: FunctionSpec[];
  routes: RouteSpec[];
  eventSourceMappings: EventSourceMappingSpec[];
  stateMachines: StateMachineSpec[];
  schedules: ScheduleSpec[];
  deliveryStreams: DeliveryStreamSpec[];
  secrets: SecretSpec[];
}

export class TwinTemplateError extends Error {
  override readonly name = 'TwinTemplateError';
}

/** Physical names and ARNs of the resources, and the resolution of intrinsic functions to them. */
export class TemplateNames {
  constructor(
    readonly stackName: string,
    readonly template: Template,
  ) {}

  type(id: string): string | undefined {
    return this.template.Resources[id]?.Type;
  }

  name(id: string): string {
    const base = `${this.stackName}-${id}`;
    return this.type(id) === 'AWS::S3::Bucket' ? base.toLowerCase() : base;
  }

  arn(id: string): string {
    const r = TWIN_REGION;
    const a = TWIN_ACCOUNT;
    const n = this.name(id);
    switch (this.type(id)) {
      case 'AWS::DynamoDB::Table':
        return `arn:aws:dynamodb:${r}:${a}:table/${n}`;
      case 'AWS::Kinesis::Stream':
        return `arn:aws:kinesis:${r}:${a}:stream/${n}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${r}:${a}:${n}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${r}:${a}:function:${n}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${a}:role/${n}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${r}:${a}:stateMachine:${n}`;
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${n}`;
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${r}:${a}:${n}`;
      case 'AWS::KinesisFirehose::DeliveryStream':
        return `arn:aws:firehose:${r}:${a}:deliverystream/${n}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${r}:${a}:log-group:${n}:*`;
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:${r}:${a}:secret:${n}`;
      default:
        return `arn:aws:cloudformation:${r}:${a}:resource/${n}`;
    }
  }

  /** `Ref` of a resource or pseudo parameter. */
  ref(id: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': TWIN_REGION,
      'AWS::AccountId': TWIN_ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': this.stackName,
      'AWS::NoValue': '',
    };
    if (id in pseudo) return pseudo[id]!;
    if (!this.type(id)) throw new TwinTemplateError(`Ref to unknown resource ${id}`);
    // These resources' Ref is their ARN or URL in CloudFormation; every other type's is its name.
    switch (this.type(id)) {
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::SNS::Topic':
      case 'AWS::SecretsManager::Secret':
        return this.arn(id);
      case 'AWS::SQS::Queue':
        return `https://sqs.${TWIN_REGION}.amazonaws.com/${TWIN_ACCOUNT}/${this.name(id)}`;
      default:
        return this.name(id);
    }
  }

  getAtt(id: string, attribute: string): string {
    if (!this.type(id)) throw new TwinTemplateError(`Fn::GetAtt on unknown resource ${id}`);
    if (attribute === 'Arn') return this.arn(id);
    if (attribute === 'RootResourceId') return `${id}.root`;
    return `${this.arn(id)}/${attribute}`;
  }

  /** Replaces every intrinsic function in `value` by its local value. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const arg = o[k];
      switch (k) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = (typeof arg === 'string' ? arg.split('.') : arg) as [string, string];
          return this.getAtt(id, attr);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (this.resolve(parts) as unknown[]).map(String).join(sep);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number, unknown];
          return (this.resolve(list) as unknown[])[Number(index)];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return String(this.resolve(text)).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = (typeof arg === 'string' ? [arg, {}] : arg) as [string, Record<string, unknown>];
          return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
            if (name in vars) return String(this.resolve(vars[name]));
            const [id, attr] = name.split('.') as [string, string | undefined];
            return attr ? this.getAtt(id, attr) : this.ref(id);
          });
        }
      }
      if (k.startsWith('Fn::')) throw new TwinTemplateError(`the twin does not resolve ${k}`);
    }
    return Object.fromEntries(Object.entries(o).map(([key, v]) => [key, this.resolve(v)]));
  }
}

const refOf = (v: unknown): string | undefined =>
  v !== null && typeof v === 'object' && 'Ref' in v ? String((v as { Ref: unknown }).Ref) : undefined;
const getAttOf = (v: unknown): [string, string] | undefined => {
  if (v === null || typeof v !== 'object' || !('Fn::GetAtt' in v)) return undefined;
  const arg = (v as { 'Fn::GetAtt': unknown })['Fn::GetAtt'];
  return (typeof arg === 'string' ? arg.split('.') : arg) as [string, string];
};
/** Logical ids named anywhere inside `v` (Ref or GetAtt). */
function referencedIds(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) referencedIds(x, out);
  else if (v !== null && typeof v === 'object') {
    const ref = refOf(v);
    const att = getAttOf(v);
    if (ref) out.add(ref);
    else if (att) out.add(att[0]);
    else for (const x of Object.values(v)) referencedIds(x, out);
  }
  return out;
}

/** The construct path of a resource without the stack and the `Resource` leaf: `Retraining/RetrainStepsFunction`. */
function constructName(stackName: string, logicalId: string, r: TemplateResource): string {
  const path = r.Metadata?.['aws:cdk:path'];
  if (typeof path !== 'string') return logicalId;
  return path.replace(new RegExp(`^${stackName}/`), '').replace(/\/Resource$/, '');
}

export function readTemplate(stackName: string, template: Template): TwinPlan {
  const names = new TemplateNames(stackName, template);
  const all = Object.entries(template.Resources);
  const ofType = (type: string) => all.filter(([, r]) => r.Type === type);
  const props = (r: TemplateResource) => (r.Properties ?? {}) as Record<string, unknown>;

  const tables: TableSpec[] = ofType('AWS::DynamoDB::Table').map(([id, r]) => {
    const p = props(r);
    const keySchema = p.KeySchema as { AttributeName: string; KeyType: string }[];
    const hashOf = (ks: { AttributeName: string; KeyType: string }[]) =>
      ks.find((k) => k.KeyType === 'HASH')!.AttributeName;
    const lsis = (p.LocalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: typeof keySchema }[];
    const gsis = (p.GlobalSecondaryIndexes ?? []) as {
      IndexName: string;
      KeySchema: typeof keySchema;
      Projection: unknown;
    }[];
    const billing = (p.BillingMode as string | undefined) ?? 'PROVISIONED';
    const create = {
      TableName: names.name(id),
      AttributeDefinitions: p.AttributeDefinitions,
      KeySchema: keySchema,
      ...(lsis.length > 0 ? { LocalSecondaryIndexes: lsis } : {}),
      ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis } : {}),
      ...(billing === 'PAY_PER_REQUEST'
        ? { BillingMode: 'PAY_PER_REQUEST' }
        : { ProvisionedThroughput: p.ProvisionedThroughput }),
    } as CreateTableCommandInput;
    return {
      logicalId: id,
      constructName: constructName(stackName, id, r),
      name: names.name(id),
      arn: names.arn(id),
      partitionKey: hashOf(keySchema),
      indexPartitionKeys: Object.fromEntries([...lsis, ...gsis].map((i) => [i.IndexName, hashOf(i.KeySchema)])),
      create,
    };
  });

  const streams: StreamSpec[] = ofType('AWS::Kinesis::Stream').map(([id, r]) => {
    const p = props(r);
    const mode = (p.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode ?? 'PROVISIONED';
    if (mode !== 'PROVISIONED') {
      throw new TwinTemplateError(`stream ${id} is ${mode}: the Kinesis emulator runs provisioned streams only`);
    }
    return {
      logicalId: id,
      constructName: constructName(stackName, id, r),
      name: names.name(id),
      arn: names.arn(id),
      shardCount: Number(p.ShardCount ?? 1),
    };
  });

  const queues: QueueSpec[] = ofType('AWS::SQS::Queue').map(([id, r]) => ({
    logicalId: id,
    constructName: constructName(stackName, id, r),
    name: names.name(id),
    arn: names.arn(id),
  }));

  const policiesByRole = new Map<string, { id: string; document: PolicyDocument }[]>();
  for (const [id, r] of ofType('AWS::IAM::Policy')) {
    const p = props(r);
    const document = names.resolve(p.PolicyDocument) as PolicyDocument;
    for (const role of (p.Roles ?? []) as unknown[]) {
      const roleId = refOf(role);
      if (!roleId) continue;
      policiesByRole.set(roleId, [...(policiesByRole.get(roleId) ?? []), { id, document }]);
    }
  }
  const roleSpec = (roleId: string): RoleSpec => {
    const p = props(template.Resources[roleId] ?? { Type: '' });
    const inline = ((p.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]).map((x) => ({
      id: `${roleId}/${x.PolicyName}`,
      document: names.resolve(x.PolicyDocument) as PolicyDocument,
    }));
    return {
      logicalId: roleId,
      name: names.name(roleId),
      arn: names.arn(roleId),
      policies: [...inline, ...(policiesByRole.get(roleId) ?? [])],
      managedPolicyArns: ((p.ManagedPolicyArns ?? []) as unknown[]).map((a) => String(names.resolve(a))),
    };
  };

  const functions: FunctionSpec[] = ofType('AWS::Lambda::Function').map(([id, r]) => {
    const p = props(r);
    const roleId = getAttOf(p.Role)?.[0];
    if (!roleId) throw new TwinTemplateError(`function ${id} has no role of this stack`);
    const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as
      | Record<string, unknown>
      | undefined;
    const entry = r.Metadata?.[ENTRY_METADATA_KEY];
    return {
      logicalId: id,
      name: constructName(stackName, id, r),
      physicalName: names.name(id),
      arn: names.arn(id),
      entry: typeof entry === 'string' ? entry : undefined,
      environment: Object.fromEntries(Object.entries(variables ?? {}).map(([k, v]) => [k, String(names.resolve(v))])),
      // CloudFormation's defaults when the properties are absent.
      memoryMB: Number(p.MemorySize ?? 128),
      timeoutSeconds: Number(p.Timeout ?? 3),
      role: roleSpec(roleId),
    };
  });

  const routes = readRoutes(template, all);

  const eventSourceMappings: EventSourceMappingSpec[] = ofType('AWS::Lambda::EventSourceMapping').map(([id, r]) => {
    const p = props(r);
    const fnId = refOf(p.FunctionName) ?? getAttOf(p.FunctionName)?.[0];
    const sourceId = getAttOf(p.EventSourceArn)?.[0];
    if (!fnId || !sourceId || template.Resources[sourceId]?.Type !== 'AWS::Kinesis::Stream') {
      throw new TwinTemplateError(`event source mapping ${id}: the twin runs Kinesis sources of this stack only`);
    }
    const onFailure = (p.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure
      ?.Destination;
    return {
      logicalId: id,
      functionLogicalId: fnId,
      streamLogicalId: sourceId,
      batchSize: Number(p.BatchSize ?? 100),
      maxBatchingWindowMs: Number(p.MaximumBatchingWindowInSeconds ?? 0) * 1000,
      bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true,
      maximumRetryAttempts: Number(p.MaximumRetryAttempts ?? -1),
      maximumRecordAgeSeconds: Number(p.MaximumRecordAgeInSeconds ?? -1),
      reportBatchItemFailures: ((p.FunctionResponseTypes ?? []) as string[]).includes('ReportBatchItemFailures'),
      parallelizationFactor: Number(p.ParallelizationFactor ?? 1),
      startingPosition: (p.StartingPosition as 'TRIM_HORIZON' | 'LATEST' | undefined) ?? 'TRIM_HORIZON',
      onFailureDestinationArn: onFailure === undefined ? undefined : String(names.resolve(onFailure)),
    };
  });

  const stateMachines: StateMachineSpec[] = ofType('AWS::StepFunctions::StateMachine').map(([id, r]) => {
    const p = props(r);
    const text = names.resolve(p.DefinitionString);
    return {
      logicalId: id,
      arn: names.arn(id),
      definition: JSON.parse(String(text)) as Record<string, unknown>,
      roleLogicalId: getAttOf(p.RoleArn)?.[0],
    };
  });

  const schedules: ScheduleSpec[] = ofType('AWS::Events::Rule')
    .filter(([, r]) => typeof props(r).ScheduleExpression === 'string')
    .map(([id, r]) => {
      const p = props(r);
      return {
        logicalId: id,
        expression: String(p.ScheduleExpression),
        targets: ((p.Targets ?? []) as { Arn: unknown; Input?: unknown }[]).map((t) => ({
          arn: String(names.resolve(t.Arn)),
          input: t.Input === undefined ? undefined : String(names.resolve(t.Input)),
        })),
      };
    });

  const deliveryStreams: DeliveryStreamSpec[] = ofType('AWS::KinesisFirehose::DeliveryStream').flatMap(([id, r]) => {
    const p = props(r);
    const source = (p.KinesisStreamSourceConfiguration as { KinesisStreamARN?: unknown } | undefined)?.KinesisStreamARN;
    const bucket = (p.ExtendedS3DestinationConfiguration as { BucketARN?: unknown } | undefined)?.BucketARN;
    const sourceId = getAttOf(source)?.[0];
    const bucketId = getAttOf(bucket)?.[0];
    return sourceId && bucketId ? [{ logicalId: id, sourceStreamLogicalId: sourceId, bucketLogicalId: bucketId }] : [];
  });

  const secrets: SecretSpec[] = ofType('AWS::SecretsManager::Secret').map(([id, r]) => ({
    logicalId: id,
    constructName: constructName(stackName, id, r),
    name: names.name(id),
    arn: names.arn(id),
    value: secretValue(id, props(r)),
  }));

  const buckets: BucketSpec[] = ofType('AWS::S3::Bucket').map(([id, r]) => ({
    logicalId: id,
    constructName: constructName(stackName, id, r),
    name: names.name(id),
    arn: names.arn(id),
  }));

  return {
    stackName,
    buckets,
    tables,
    streams,
    queues,
    functions,
    routes,
    eventSourceMappings,
    stateMachines,
    schedules,
    deliveryStreams,
    secrets,
  };
}

/** Secrets Manager's default password length, and its punctuation (GetRandomPassword). */
const SECRET_DEFAULT_LENGTH = 32;
const SECRET_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** How the secret's value is made, as CloudFormation would make it; what the twin cannot reproduce is refused. */
function secretValue(id: string, p: Record<string, unknown>): SecretSpec['value'] {
  if (typeof p.SecretString === 'string') return { literal: p.SecretString };
  const g = (p.GenerateSecretString ?? {}) as Record<string, unknown>;
  const known = new Set([
    'PasswordLength',
    'ExcludePunctuation',
    'ExcludeUppercase',
    'ExcludeLowercase',
    'ExcludeNumbers',
    'ExcludeCharacters',
    'IncludeSpace',
  ]);
  const unknown = Object.keys(g).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new TwinTemplateError(`secret ${id}: the twin does not generate secrets with ${unknown.join(', ')}`);
  }
  const excluded = new Set(String(g.ExcludeCharacters ?? ''));
  const alphabet = [
    g.ExcludeUppercase === true ? '' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    g.ExcludeLowercase === true ? '' : 'abcdefghijklmnopqrstuvwxyz',
    g.ExcludeNumbers === true ? '' : '0123456789',
    g.ExcludePunctuation === true ? '' : SECRET_PUNCTUATION,
    g.IncludeSpace === true ? ' ' : '',
  ]
    .join('')
    .split('')
    .filter((c) => !excluded.has(c))
    .join('');
  if (alphabet === '') throw new TwinTemplateError(`secret ${id}: every character is excluded`);
  return { generate: { length: Number(g.PasswordLength ?? SECRET_DEFAULT_LENGTH), alphabet } };
}

/** API Gateway methods as `(method, resource path) → function`; only Lambda proxy integrations can be run locally. */
function readRoutes(template: Template, all: [string, TemplateResource][]): RouteSpec[] {
  const paths = new Map<string, string>();
  const pathOf = (resourceId: unknown): string => {
    const att = getAttOf(resourceId);
    if (att?.[1] === 'RootResourceId') return '';
    const id = refOf(resourceId);
    if (!id) throw new TwinTemplateError(`API resource reference ${JSON.stringify(resourceId)} is not of this stack`);
    const cached = paths.get(id);
    if (cached !== undefined) return cached;
    const p = template.Resources[id]?.Properties as { ParentId: unknown; PathPart: string } | undefined;
    if (!p) throw new TwinTemplateError(`API resource ${id} is not in the template`);
    const path = `${pathOf(p.ParentId)}/${p.PathPart}`;
    paths.set(id, path);
    return path;
  };
  const functionIds = new Set(all.filter(([, r]) => r.Type === 'AWS::Lambda::Function').map(([id]) => id));
  return all
    .filter(([, r]) => r.Type === 'AWS::ApiGateway::Method')
    .map(([id, r]) => {
      const p = (r.Properties ?? {}) as {
        HttpMethod: string;
        ResourceId: unknown;
        Integration?: { Type?: string; Uri?: unknown };
      };
      const target = [...referencedIds(p.Integration?.Uri)].filter((x) => functionIds.has(x));
      if (p.Integration?.Type !== 'AWS_PROXY' || target.length !== 1) {
        throw new TwinTemplateError(`API method ${id}: the twin runs Lambda proxy integrations only`);
      }
      return { method: p.HttpMethod, resource: pathOf(p.ResourceId) || '/', functionLogicalId: target[0]! };
    });
}

/** The physical name of the table, stream or queue with this construct name (`StateTable`). */
/** The lake bucket's construct: the log lake, and decision jobs' inputs and outputs. */
export const LAKE_BUCKET = 'Retraining/LakeBucket';

export function physicalName(plan: TwinPlan, constructName: string): string {
  const found = [...plan.tables, ...plan.streams, ...plan.queues, ...plan.buckets].find(
    (r) => r.constructName === constructName,
  );
  if (!found) throw new TwinTemplateError(`the template has no table, stream, queue or bucket named ${constructName}`);
  return found.name;
}
