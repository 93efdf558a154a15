/**
 * Every SDK call a function of the twin makes is judged against that function's role policy from the template, as
 * AWS judges it, and refused the way AWS refuses it: middleware on the function's own clients derives the IAM
 * request (action, resource ARN, condition keys such as `dynamodb:LeadingKeys`) from the command, evaluates it
 * (iam-policy.ts), records it in the ledger, and on a denial answers with the HTTP 400 `AccessDeniedException` that
 * AWS sends, so the SDK raises exactly the error a deployed function would see. The emulators never see a denied call.
 *
 * The request each command makes (service authorization reference of DynamoDB and Kinesis):
 * - DynamoDB item and query actions on `table/NAME` (or `table/NAME/index/INDEX` for a Query or Scan of an index),
 *   with `dynamodb:LeadingKeys` the partition key values the request touches (one per item; for a Query, its key
 *   condition's partition key; none for a Scan). BatchGetItem and BatchWriteItem make one request per table.
 * - Kinesis actions on `stream/NAME`; GetRecords names no stream, so the stream is the one whose GetShardIterator or
 *   GetRecords answered with that iterator.
 * - Secrets Manager's GetSecretValue on the secret's ARN (the local secret store stands in for the service).
 * - S3 GetObject and PutObject on the object's ARN `arn:aws:s3:::BUCKET/KEY`; a GetObject of a missing key is
 *   AccessDenied, as in S3, unless s3:ListBucket on `arn:aws:s3:::BUCKET` is allowed too.
 * A command this module cannot map is refused with an error naming it, never let through unjudged.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExecutionStarter, SecretSource } from '../../shared/core/ports.ts';
import { evaluate, type IamDecision, type IamRequest } from './iam-policy.ts';
import { type PolicyDocument, type TableSpec, TWIN_ACCOUNT, TWIN_REGION } from './template.ts';

/** Who makes the calls: a function under its role, or the Lambda service on its behalf (the event source mapping). */
export interface Principal {
  /** Function construct name, e.g. `EventsFunction`; the event source mapping's calls are `UpdaterFunction (ESM)`. */
  name: string;
  roleName: string;
  policies: readonly PolicyDocument[];
}

export interface IamCall extends IamRequest {
  principal: string;
  decision: IamDecision;
}

/** Every call judged, for the IAM report, and every denial, which fails the tests that cause it. */
export class IamLedger {
  private readonly calls = new Map<string, IamCall & { count: number }>();
  readonly denied: IamCall[] = [];

  constructor(private readonly onDenied?: (call: IamCall) => void) {}

  record(call: IamCall): void {
    const key = JSON.stringify([call.principal, call.action, call.resource, call.context, call.decision]);
    const seen = this.calls.get(key);
    if (seen) seen.count++;
    else this.calls.set(key, { ...call, count: 1 });
    if (call.decision !== 'Allowed') {
      this.denied.push(call);
      this.onDenied?.(call);
    }
  }

  /** Distinct calls with how often each was made. */
  entries(): (IamCall & { count: number })[] {
    return [...this.calls.values()];
  }
}

export class AccessDeniedError extends Error {
  override readonly name = 'AccessDenied';
}

/** The message AWS writes into an AccessDeniedException. */
export function accessDeniedMessage(principal: Principal, call: IamRequest, decision: IamDecision): string {
  const who = `arn:aws:sts::${TWIN_ACCOUNT}:assumed-role/${principal.roleName}/${principal.name}`;
  const why =
    decision === 'ExplicitlyDenied'
      ? `with an explicit deny in an identity-based policy`
      : `because no identity-based policy allows the ${call.action} action`;
  return `User: ${who} is not authorized to perform: ${call.action} on resource: ${call.resource} ${why}`;
}

const DENIAL = Symbol('twinIamDenial');

type AttributeValue = { S?: string; N?: string; B?: Uint8Array };
const keyValue = (v: AttributeValue | undefined): string | undefined =>
  v?.S ?? v?.N ?? (v?.B ? Buffer.from(v.B).toString('base64') : undefined);

export class UnmappedCommandError extends Error {
  override readonly name = 'UnmappedCommandError';
}

/** The IAM requests of one DynamoDB command. */
export function dynamoRequests(
  command: string,
  // biome-ignore lint/suspicious/noExplicitAny: SDK command inputs are checked field by field below
  input: any,
  tables: ReadonlyMap<string, TableSpec>,
): IamRequest[] {
  const action = `dynamodb:${command.replace(/Command$/, '')}`;
  const table = (name: string) => {
    const spec = tables.get(name.startsWith('arn:') ? name.slice(name.indexOf('/') + 1) : name);
    const arn = name.startsWith('arn:') ? name : `arn:aws:dynamodb:${TWIN_REGION}:${TWIN_ACCOUNT}:table/${name}`;
    return { arn, spec };
  };
  const leading = (values: (string | undefined)[]) => ({
    'dynamodb:LeadingKeys': [...new Set(values.filter((v): v is string => v !== undefined))],
  });
  switch (command) {
    case 'GetItemCommand':
    case 'DeleteItemCommand':
    case 'UpdateItemCommand':
    case 'PutItemCommand': {
      const { arn, spec } = table(input.TableName);
      const item = command === 'PutItemCommand' ? input.Item : input.Key;
      return [{ action, resource: arn, context: leading([keyValue(item?.[spec?.partitionKey ?? ''])]) }];
    }
    case 'QueryCommand': {
      const { arn, spec } = table(input.TableName);
      const pk = input.IndexName ? spec?.indexPartitionKeys[input.IndexName] : spec?.partitionKey;
      return [
        {
          action,
          resource: input.IndexName ? `${arn}/index/${input.IndexName}` : arn,
          context: leading([queryPartitionKey(input, pk)]),
        },
      ];
    }
    case 'ScanCommand': {
      const { arn } = table(input.TableName);
      return [{ action, resource: input.IndexName ? `${arn}/index/${input.IndexName}` : arn, context: {} }];
    }
    case 'BatchGetItemCommand':
    case 'BatchWriteItemCommand':
      return Object.entries(input.RequestItems ?? {}).map(([name, request]) => {
        const { arn, spec } = table(name);
        const pk = spec?.partitionKey ?? '';
        const items: Record<string, AttributeValue>[] =
          command === 'BatchGetItemCommand'
            ? ((request as { Keys?: Record<string, AttributeValue>[] }).Keys ?? [])
            : (request as { PutRequest?: { Item: never }; DeleteRequest?: { Key: never } }[]).map(
                (w) => w.PutRequest?.Item ?? w.DeleteRequest?.Key ?? {},
              );
        return { action, resource: arn, context: leading(items.map((i) => keyValue(i[pk]))) };
      });
    case 'DescribeTableCommand':
    case 'CreateTableCommand':
    case 'DeleteTableCommand':
    case 'UpdateTableCommand':
      return [{ action, resource: table(input.TableName).arn, context: {} }];
    case 'ListTablesCommand':
      return [{ action, resource: '*', context: {} }];
    default:
      throw new UnmappedCommandError(`the twin cannot judge DynamoDB ${command}: add it to iam-enforcement.ts`);
  }
}

/** The partition key value of a Query's key condition (`pk = :v`, names and values resolved). */
// biome-ignore lint/suspicious/noExplicitAny: see dynamoRequests
function queryPartitionKey(input: any, pk: string | undefined): string | undefined {
  if (!pk) return undefined;
  if (input.KeyConditions?.[pk]) return keyValue(input.KeyConditions[pk].AttributeValueList?.[0]);
  const names: Record<string, string> = input.ExpressionAttributeNames ?? {};
  for (const clause of String(input.KeyConditionExpression ?? '').split(/\s+AND\s+/i)) {
    const m = /^\(?\s*(#?[\w.]+)\s*=\s*(:\w+)\s*\)?$/.exec(clause.trim());
    if (m && (names[m[1]!] ?? m[1]) === pk) return keyValue(input.ExpressionAttributeValues?.[m[2]!]);
  }
  return undefined;
}

/** Remembers which stream an iterator or page token belongs to (GetRecords and paged ListShards name none). */
class StreamMemory {
  private readonly byToken = new Map<string, string>();
  remember(token: string | undefined, stream: string | undefined): void {
    if (!token || !stream) return;
    if (this.byToken.size > 10_000) this.byToken.clear();
    this.byToken.set(token, stream);
  }
  of(token: string | undefined): string | undefined {
    return token ? this.byToken.get(token) : undefined;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: see dynamoRequests
function kinesisStream(command: string, input: any, memory: StreamMemory): string | undefined {
  if (input.StreamARN) return String(input.StreamARN).slice(String(input.StreamARN).indexOf('/') + 1);
  if (input.StreamName) return input.StreamName;
  if (command === 'GetRecordsCommand') return memory.of(input.ShardIterator);
  return memory.of(input.NextToken);
}

export function kinesisRequests(command: string, streamName: string | undefined): IamRequest[] {
  const action = `kinesis:${command.replace(/Command$/, '')}`;
  if (command === 'ListStreamsCommand') return [{ action, resource: '*', context: {} }];
  if (!streamName) throw new UnmappedCommandError(`the twin cannot tell which stream Kinesis ${command} reads`);
  return [{ action, resource: `arn:aws:kinesis:${TWIN_REGION}:${TWIN_ACCOUNT}:stream/${streamName}`, context: {} }];
}

/** The IAM request of one S3 object command: the object's ARN (S3 ARNs name no Region or account). */
export function s3Requests(command: string, input: { Bucket?: string; Key?: string }): IamRequest[] {
  // HeadObject is authorised as GetObject (AWS documents no action of its own).
  const action = {
    GetObjectCommand: 's3:GetObject',
    HeadObjectCommand: 's3:GetObject',
    PutObjectCommand: 's3:PutObject',
  }[command];
  if (!action || !input.Bucket || input.Key === undefined) {
    throw new UnmappedCommandError(`the twin cannot judge S3 ${command}: add it to iam-enforcement.ts`);
  }
  return [{ action, resource: `arn:aws:s3:::${input.Bucket}/${input.Key}`, context: {} }];
}

interface Refusal {
  message: string;
  protocol: 'json1.0' | 'json1.1' | 'rest-xml';
}

// biome-ignore lint/suspicious/noExplicitAny: the middleware stack's handler types are generic over every command
type Any = any;

function judge(principal: Principal, ledger: IamLedger, requests: IamRequest[]): Refusal['message'] | undefined {
  let refusal: string | undefined;
  for (const request of requests) {
    const decision = evaluate(principal.policies, request);
    ledger.record({ ...request, principal: principal.name, decision });
    if (decision !== 'Allowed' && refusal === undefined) refusal = accessDeniedMessage(principal, request, decision);
  }
  return refusal;
}

/** The middleware pair: judge at the start of the call, answer AWS's refusal in place of the HTTP exchange. */
function install(
  client: DynamoDBClient | KinesisClient | S3Client,
  protocol: Refusal['protocol'],
  judgeCall: Any,
): void {
  const stack = (client as Any).middlewareStack;
  stack.add(
    (next: Any, context: Any) => async (args: Any) => {
      const message = judgeCall(context.commandName, args.input);
      if (message) context[DENIAL] = { message, protocol } satisfies Refusal;
      return next(args);
    },
    { step: 'initialize', name: 'twinIamJudge', priority: 'high' },
  );
  stack.add(
    (next: Any, context: Any) => async (args: Any) => {
      const refusal = context[DENIAL] as Refusal | undefined;
      if (!refusal) return next(args);
      // S3's refusal: 403 with an XML error document, which the SDK raises as `AccessDenied`.
      if (refusal.protocol === 'rest-xml') return { response: s3Refusal(refusal.message) };
      const dynamo = refusal.protocol === 'json1.0';
      const body = JSON.stringify(
        dynamo
          ? { __type: 'com.amazon.coral.service#AccessDeniedException', Message: refusal.message }
          : { __type: 'AccessDeniedException', message: refusal.message },
      );
      return {
        response: {
          statusCode: 400,
          headers: {
            'content-type': dynamo ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1',
            'x-amzn-requestid': `twin-${Math.random().toString(36).slice(2)}`,
          },
          body: new TextEncoder().encode(body),
        },
      };
    },
    // Innermost: the SDK's deserializer turns this answer into its AccessDeniedException, as for AWS's.
    { step: 'deserialize', name: 'twinIamRefusal', priority: 'low' },
  );
}

export function enforceOnDynamo(
  client: DynamoDBClient,
  principal: Principal,
  ledger: IamLedger,
  tables: ReadonlyMap<string, TableSpec>,
): DynamoDBClient {
  install(client, 'json1.0', (command: string, input: Any) =>
    judge(principal, ledger, dynamoRequests(command, input, tables)),
  );
  return client;
}

export function enforceOnKinesis(client: KinesisClient, principal: Principal, ledger: IamLedger): KinesisClient {
  const memory = new StreamMemory();
  install(client, 'json1.1', (command: string, input: Any) =>
    judge(principal, ledger, kinesisRequests(command, kinesisStream(command, input, memory))),
  );
  // Learn the stream of every iterator and page token an answer carries.
  (client as Any).middlewareStack.add(
    (next: Any, context: Any) => async (args: Any) => {
      const out = await next(args);
      const stream = kinesisStream(context.commandName, args.input, memory);
      memory.remember(out.output?.ShardIterator, stream);
      memory.remember(out.output?.NextShardIterator, stream);
      memory.remember(out.output?.NextToken, stream);
      return out;
    },
    { step: 'initialize', name: 'twinIamStreamMemory', priority: 'low' },
  );
  return client;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function enforceOnS3(client: S3Client, principal: Principal, ledger: IamLedger): S3Client {
  install(client, 'rest-xml', (command: string, input: Any) => judge(principal, ledger, s3Requests(command, input)));
  // S3 tells a missing key apart (404 NoSuchKey) only to a principal that may list the bucket; to any other it answers
  // 403 AccessDenied, so that keys cannot be probed. The twin does the same.
  (client as Any).middlewareStack.add(
    (next: Any, context: Any) => async (args: Any) => {
      const out = await next(args);
      const reads = context.commandName === 'GetObjectCommand' || context.commandName === 'HeadObjectCommand';
      if (!reads || out.response?.statusCode !== 404) return out;
      const bucket = args.input?.Bucket as string;
      const message = judge(principal, ledger, [
        { action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}`, context: {} },
      ]);
      if (!message) return out;
      return { ...out, response: s3Refusal(message) };
    },
    { step: 'deserialize', name: 'twinS3MissingKey', priority: 'low' },
  );
  return client;
}

function s3Refusal(message: string) {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${escapeXml(message)}</Message></Error>`;
  return {
    statusCode: 403,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'twin' },
    body: new TextEncoder().encode(xml),
  };
}

/** AWS's refusal of a Secrets Manager call, as the SDK raises it. */
export class AccessDeniedException extends Error {
  override readonly name = 'AccessDeniedException';
}

/** The local secret store, each read judged as Secrets Manager's GetSecretValue on the secret under the role. */
export function enforceOnSecrets(source: SecretSource, principal: Principal, ledger: IamLedger): SecretSource {
  return {
    read: async (secretId) => {
      const message = judge(principal, ledger, [
        { action: 'secretsmanager:GetSecretValue', resource: secretId, context: {} },
      ]);
      if (message) throw new AccessDeniedException(message);
      return source.read(secretId);
    },
  };
}

/** StartExecution judged under the caller's role, as Step Functions would, before the local state machine runs. */
export function enforceOnExecutions(
  starter: ExecutionStarter,
  principal: Principal,
  ledger: IamLedger,
): ExecutionStarter {
  return {
    start: async (stateMachineArn, name, input) => {
      const message = judge(principal, ledger, [
        { action: 'states:StartExecution', resource: stateMachineArn, context: {} },
      ]);
      if (message) throw new AccessDeniedException(message);
      return starter.start(stateMachineArn, name, input);
    },
  };
}
