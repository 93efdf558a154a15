/**
 * The local twin is the synthesised stack, and each function runs under its own role:
 * - a copy of the CDK app with a new table, a new function with an environment variable, a grant, and a new API
 *   route, plus a context change, reaches local mode as it is, with no change under local/;
 * - the functions' roles are enforced on every call, with the least-privilege rules of docs/ARCHITECTURE.md as the
 *   specification: the events function reads API key items and nothing else, the request path never writes the state
 *   table, no admin route reads the decisions table. A refused call is AWS's AccessDeniedException, and a stack that
 *   saw one fails when it stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { ListShardsCommand } from '@aws-sdk/client-kinesis';
import { Duration } from 'aws-cdk-lib';
import { LambdaIntegration } from 'aws-cdk-lib/aws-apigateway';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFunction } from '../../cdk/constructs/engine-function.ts';
import type { Engine } from '../../functions/commons/engine.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { PROJECT_ROOT } from '../../local/twin/assembly.ts';
import { physicalName } from '../../local/twin/template.ts';
import { hashApiKey } from '../../shared/app/auth.ts';
import { apiClient } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';

describe('a route, function, table and variable added to a copy of the CDK app', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({
      apiKey: 'twin-key',
      context: { shardCount: 3 },
      customize: (s) => {
        const table = new Table(s, 'EchoTable', {
          partitionKey: { name: 'pk', type: AttributeType.STRING },
          sortKey: { name: 'sk', type: AttributeType.STRING },
          billingMode: BillingMode.PAY_PER_REQUEST,
        });
        const echo = engineFunction(s, 'EchoFunction', {
          entry: join(PROJECT_ROOT, 'test/twin/fixtures/echo-handler.ts'),
          projectRoot: PROJECT_ROOT,
          runtime: Runtime.NODEJS_24_X,
          timeout: Duration.seconds(5),
          environment: { ECHO_TABLE: table.tableName, STATE_TABLE: s.stateTable.tableName, GREETING: 'hello' },
        });
        table.grant(echo, 'dynamodb:GetItem');
        s.api.root.getResource('v1')!.addResource('echo').addMethod('GET', new LambdaIntegration(echo));
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('serves the new route from the new function, with its environment, its table and its role', async () => {
    // A route added to this copy of the stack only: docs/openapi.json describes the engine's API, not this one.
    const r = await apiClient(stack.url, undefined, { validate: false }).call('GET', '/v1/echo');
    expect(r.status).toBe(200);
    expect(r.body.environment.GREETING).toBe('hello');
    expect(r.body.environment.ECHO_TABLE).toBe(physicalName(stack.plan, 'EchoTable'));
    expect(r.body.ownTable).toBe('allowed');
    // The state table exists, but this role was never granted it.
    expect(r.body.stateTable).toBe('AccessDeniedException');
    expect(stack.acknowledgeDenied().map((d) => `${d.principal} ${d.action}`)).toEqual([
      'EchoFunction dynamodb:GetItem',
    ]);
  });

  it('takes the stack configuration from the context: three shards', async () => {
    const shards = await stack.emulators.kinesis.send(
      new ListShardsCommand({ StreamName: physicalName(stack.plan, 'EventStream') }),
    );
    expect(shards.Shards).toHaveLength(3);
  });
});

describe('the schedule of the template', () => {
  let stack: LocalStack;
  let lakeDir: string;
  beforeAll(async () => {
    lakeDir = mkdtempSync(join(tmpdir(), 'nba-twin-lake-'));
    // As `cdk deploy -c retrainDecisionPoints=home` would configure it.
    stack = await startLocalStack({ apiKey: 'schedule-key', lakeDir, context: { retrainDecisionPoints: 'home' } });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it("starts the retraining state machine with the rule's input, its steps under the steps function's role", async () => {
    expect(stack.plan.schedules).toHaveLength(1);
    const [rule] = stack.plan.schedules;
    expect(stack.schedules.skipped).toEqual([]);
    await stack.schedules.fire(rule!.logicalId);
    expect(stack.scheduledRuns).toHaveLength(1);
    const [run] = stack.scheduledRuns;
    expect(JSON.parse(run!.input!)).toEqual({ decisionPoint: 'home' });
    expect(run!.states[0]).toBe('Plan');
    const steps = stack.iam.entries().filter((c) => c.principal === 'Retraining/RetrainStepsFunction');
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((c) => c.decision === 'Allowed')).toBe(true);
  });
});

describe("each function under its own role (the twin's evidence for least privilege)", () => {
  let stack: LocalStack;
  const engine = (name: string) => stack.functions.get(name)!.instance.engine as Engine;
  const stateTable = () => physicalName(stack.plan, 'StateTable');
  const denial = async (call: Promise<unknown>) => {
    try {
      await call;
      return 'allowed';
    } catch (err) {
      return (err as Error).name;
    }
  };

  beforeAll(async () => {
    stack = await startLocalStack({ apiKey: 'roles-key' });
    const admin = apiClient(stack.url, stack.apiKey);
    expect((await admin.call('PUT', '/v1/decision-points/home', {})).status).toBe(201);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('lets the events function read API key and decision-point items (scope, reward bounds) and nothing else of the state table', async () => {
    const { dynamo } = engine('EventsFunction').clients;
    const key = { pk: { S: 'KEY' }, sk: { S: hashApiKey('roles-key') } };
    expect(await denial(dynamo.send(new GetItemCommand({ TableName: stateTable(), Key: key })))).toBe('allowed');
    const config = { pk: { S: 'DP#home' }, sk: { S: 'CONFIG' } };
    expect(await denial(dynamo.send(new GetItemCommand({ TableName: stateTable(), Key: config })))).toBe('allowed');
    const index = { pk: { S: 'DPINDEX' }, sk: { S: 'home' } };
    expect(await denial(dynamo.send(new GetItemCommand({ TableName: stateTable(), Key: index })))).toBe(
      'AccessDeniedException',
    );
    const list = new QueryCommand({
      TableName: stateTable(),
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: 'KEY' } },
    });
    expect(await denial(dynamo.send(list))).toBe('AccessDeniedException');
    expect(stack.acknowledgeDenied().map((d) => d.action)).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    // Through the API, events are accepted: the function reads the caller's key item.
    const accepted = await apiClient(stack.url, stack.apiKey).call('POST', '/v1/events', {
      events: [{ eventId: 'e1', userId: 'u1', type: 'click' }],
    });
    expect(accepted.status).toBe(202);
  });

  it('refuses the decisions function any write to the state table', async () => {
    const { dynamo } = engine('DecisionsFunction').clients;
    const put = new PutItemCommand({ TableName: stateTable(), Item: { pk: { S: 'DP#home' }, sk: { S: 'X' } } });
    const error = await dynamo.send(put).then(
      () => undefined,
      (err: Error & { $fault?: string; $metadata?: { httpStatusCode?: number } }) => err,
    );
    // The SDK's own error, as a deployed function would get it.
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect(error?.message).toMatch(
      /DecisionsFunction is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:.*StateTable/,
    );
    stack.acknowledgeDenied();
  });

  it('refuses the admin function the decisions table', async () => {
    const { dynamo } = engine('AdminFunction').clients;
    const get = new GetItemCommand({
      TableName: physicalName(stack.plan, 'DecisionsTable'),
      Key: { decisionId: { S: 'd1' } },
    });
    expect(await denial(dynamo.send(get))).toBe('AccessDeniedException');
    stack.acknowledgeDenied();
  });

  it('fails the stack when a denial nobody acknowledged happened', async () => {
    const other = await startLocalStack({ apiKey: 'other-key', reportIamUsage: false });
    const { dynamo } = (other.functions.get('EventsFunction')!.instance.engine as Engine).clients;
    await denial(
      dynamo.send(
        new GetItemCommand({
          TableName: physicalName(other.plan, 'StateTable'),
          Key: { pk: { S: 'DPINDEX' }, sk: { S: 'x' } },
        }),
      ),
    );
    await expect(other.stop()).rejects.toThrow(
      /EventsFunction: dynamodb:GetItem on .*StateTable.* \(ImplicitlyDenied\)/,
    );
  });
});
