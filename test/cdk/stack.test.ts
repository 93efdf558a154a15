import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackConfig } from '../../cdk/config.ts';
import type { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';
import { PROJECT_ROOT } from '../../local/twin/assembly.ts';
import { stackSynthesizer } from '../support/cdk.ts';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

const { synth, cleanup } = stackSynthesizer('nba-cdk-test-');

function logicalId(stack: NbaEngineStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** "METHOD /path -> function logical id" for every API Gateway method, so routes are compared as a whole. */
function routes(template: Template): string[] {
  const resources = template.findResources('AWS::ApiGateway::Resource') as Resources;
  const pathOf = (id: string): string => {
    const properties = resources[id]?.Properties;
    if (!properties) return '';
    const parent = properties.ParentId as { Ref?: string };
    return `${parent.Ref ? pathOf(parent.Ref) : ''}/${String(properties.PathPart)}`;
  };
  const functionIds = Object.keys(template.findResources('AWS::Lambda::Function'));
  return Object.values(template.findResources('AWS::ApiGateway::Method') as Resources).map((method) => {
    const properties = method.Properties ?? {};
    const resourceId = (properties.ResourceId as { Ref?: string }).Ref;
    const integration = properties.Integration as { Type: string; Uri: unknown };
    const target = functionIds.filter((id) => JSON.stringify(integration.Uri).includes(`"${id}"`));
    return `${String(properties.HttpMethod)} ${resourceId ? pathOf(resourceId) : '/'} ${integration.Type} -> ${target.join(',')}`;
  });
}

// Least privilege is not asserted on the template here: the local twin enforces each function's role on every call
// (test/twin/twin.http.test.ts and every e2e test), and `npm run iam-report` measures which grants are used.
describe('NbaEngineStack', () => {
  let stack: NbaEngineStack;
  let template: Template;

  beforeAll(() => {
    ({ stack, template } = synth());
  });

  afterAll(cleanup);

  describe('DynamoDB', () => {
    it('creates exactly four on-demand tables with point-in-time recovery and KMS encryption, retained on delete', () => {
      template.resourceCountIs('AWS::DynamoDB::Table', 4);
      const tables = template.findResources('AWS::DynamoDB::Table');
      for (const table of Object.values(tables)) {
        expect(table).toMatchObject({
          DeletionPolicy: 'Retain',
          UpdateReplacePolicy: 'Retain',
          Properties: {
            BillingMode: 'PAY_PER_REQUEST',
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            SSESpecification: { SSEEnabled: true },
          },
        });
      }
    });

    it('keys the state table by pk/sk with an ALL-projection LSI on updatedAt', () => {
      expect(tableProperties(logicalId(stack, stack.stateTable))).toMatchObject({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: expect.arrayContaining([{ AttributeName: 'updatedAt', AttributeType: 'N' }]),
        LocalSecondaryIndexes: [
          {
            IndexName: 'byUpdatedAt',
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'updatedAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      });
    });

    it('keys the decisions table by decisionId and expires items through expiresAt', () => {
      expect(tableProperties(logicalId(stack, stack.decisionsTable))).toMatchObject({
        KeySchema: [{ AttributeName: 'decisionId', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
    });

    it('keys the dead-letter table by id', () => {
      expect(tableProperties(logicalId(stack, stack.deadLetterTable))).toMatchObject({
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      });
    });

    it('keeps the audit trail in its own table, keyed by pk/sk, its entries expiring through expiresAt', () => {
      expect(tableProperties(logicalId(stack, stack.auditTable))).toMatchObject({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
      const admin = template.toJSON().Resources[logicalId(stack, stack.adminFunction)].Properties;
      expect(admin.Environment.Variables).toMatchObject({
        AUDIT_TABLE: { Ref: logicalId(stack, stack.auditTable) },
        AUDIT_RETENTION_DAYS: '365',
      });
    });

    function tableProperties(id: string) {
      return template.toJSON().Resources[id].Properties;
    }
  });

  describe('Kinesis', () => {
    it('provisions an encrypted stream with the default two shards and a 7-day retention', () => {
      template.resourceCountIs('AWS::Kinesis::Stream', 1);
      template.hasResourceProperties('AWS::Kinesis::Stream', {
        ShardCount: 2,
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
        RetentionPeriodHours: 168,
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      });
    });

    it('takes the shard count from context, as a string from `-c` too', () => {
      const { template: scaled } = synth({ shardCount: '4' });
      scaled.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 4 });
    });
  });

  describe('updater event source mapping', () => {
    it('isolates poison records instead of blocking the shard, and keeps one consumer per shard', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalId(stack, stack.updaterFunction) },
        EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, stack.eventStream), 'Arn'] },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 1000,
        MaximumBatchingWindowInSeconds: 1,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 86_400,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ParallelizationFactor: 1,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack, stack.updaterFailureQueue), 'Arn'] } },
        },
      });
    });

    it('sends failure pointers to an encrypted, TLS-only queue that outlives the stream retention', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });
  });

  describe('Lambda functions', () => {
    const expected = {
      decisionsFunction: { MemorySize: 1024, Timeout: 10 },
      eventsFunction: { MemorySize: 512, Timeout: 10 },
      adminFunction: { MemorySize: 512, Timeout: 29 },
      updaterFunction: { MemorySize: 1024, Timeout: 60 },
    } as const;

    it('creates only the four engine functions, the console, the decision jobs function and the two retraining functions (no hidden custom-resource functions)', () => {
      template.resourceCountIs('AWS::Lambda::Function', 8);
    });

    it('gives the console function (public static files) no data: no environment, no policy on its role', () => {
      const id = logicalId(stack, stack.consoleFunction);
      const fn = template.toJSON().Resources[id].Properties;
      expect(fn.Environment).toBeUndefined();
      const role = fn.Role['Fn::GetAtt'][0];
      const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
        (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role),
      );
      // Only X-Ray's trace writes (tracing is on for every function).
      const actions = policies.flatMap((p) =>
        (p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((st) => st.Action),
      );
      expect(actions.every((a) => a.startsWith('xray:'))).toBe(true);
    });

    it('runs every function on the major of the pinned Node toolchain (package.json, test/toolchain.test.ts)', () => {
      const pin: string = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).devDependencies.node;
      const runtimes = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Runtime);
      expect(new Set(runtimes)).toEqual(new Set([`nodejs${pin.split('.')[0]}.x`]));
    });

    it.each(Object.entries(expected))(
      'runs %s on nodejs24.x arm64 with tracing and its memory/timeout',
      (name, sizing) => {
        const fn = stack[name as keyof typeof expected];
        const properties = template.toJSON().Resources[logicalId(stack, fn)].Properties;
        expect(properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
          ...sizing,
          Environment: {
            Variables: {
              STATE_TABLE: { Ref: logicalId(stack, stack.stateTable) },
              DECISIONS_TABLE: { Ref: logicalId(stack, stack.decisionsTable) },
              DEADLETTER_TABLE: { Ref: logicalId(stack, stack.deadLetterTable) },
              STREAM_NAME: { Ref: logicalId(stack, stack.eventStream) },
              NODE_OPTIONS: '--enable-source-maps',
              POWERTOOLS_SERVICE_NAME: 'nba-engine',
            },
          },
        });
        // An explicit log group, so retention is set without the LogRetention custom resource.
        expect(properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.stringMatching(/Logs/) });
      },
    );

    it('gives only the decisions function MODEL_REFRESH_MS, defaulting to 1000 and overridable by context', () => {
      const variables = (fn: keyof typeof expected, t = template, s = stack) =>
        t.toJSON().Resources[logicalId(s, s[fn])].Properties.Environment.Variables;
      expect(variables('decisionsFunction').MODEL_REFRESH_MS).toBe('1000');
      expect(variables('updaterFunction').MODEL_REFRESH_MS).toBeUndefined();
      const { stack: other, template: otherTemplate } = synth({ modelRefreshMs: '250' });
      expect(variables('decisionsFunction', otherTemplate, other).MODEL_REFRESH_MS).toBe('250');
    });

    it('keeps function logs for one month', () => {
      const logGroups = Object.values(template.findResources('AWS::Logs::LogGroup'));
      // four functions + API access logs + retraining: two functions, the state machine, the lake's Firehose
      // + decision jobs: the function and the state machine + the console function
      expect(logGroups).toHaveLength(12);
      for (const group of logGroups) expect(group.Properties.RetentionInDays).toBe(30);
    });
  });

  describe('API Gateway', () => {
    it('exposes exactly the engine routes, each as a Lambda proxy integration to the right function', () => {
      const decisions = logicalId(stack, stack.decisionsFunction);
      const events = logicalId(stack, stack.eventsFunction);
      const admin = logicalId(stack, stack.adminFunction);
      const consoleFn = logicalId(stack, stack.consoleFunction);
      expect(routes(template).sort()).toEqual(
        [
          `GET /console AWS_PROXY -> ${consoleFn}`,
          `GET /console/{file} AWS_PROXY -> ${consoleFn}`,
          `POST /v1/decisions AWS_PROXY -> ${decisions}`,
          `POST /v1/decisions:batch AWS_PROXY -> ${decisions}`,
          `GET /v1/health AWS_PROXY -> ${decisions}`,
          `POST /v1/events AWS_PROXY -> ${events}`,
          `ANY /v1/decision-points AWS_PROXY -> ${admin}`,
          `ANY /v1/decision-points/{proxy+} AWS_PROXY -> ${admin}`,
          `ANY /v1/keys AWS_PROXY -> ${admin}`,
          `ANY /v1/keys/{proxy+} AWS_PROXY -> ${admin}`,
          `GET /v1/dead-letters AWS_PROXY -> ${admin}`,
          `POST /v1/dead-letters/replay AWS_PROXY -> ${admin}`,
          `POST /v1/dead-letters/replay-range AWS_PROXY -> ${admin}`,
          `DELETE /v1/users/{userId} AWS_PROXY -> ${admin}`,
          `GET /v1/audit AWS_PROXY -> ${admin}`,
        ].sort(),
      );
    });

    it('leaves authentication to the functions (no API Gateway authorizer or API key requirement)', () => {
      template.resourceCountIs('AWS::ApiGateway::Authorizer', 0);
      for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
        expect(method.Properties.AuthorizationType).toBe('NONE');
        expect(method.Properties.ApiKeyRequired).not.toBe(true);
      }
    });

    it('deploys the prod stage with throttling, access logs, tracing and metrics', () => {
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'prod',
        TracingEnabled: true,
        AccessLogSetting: {
          DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ApiAccessLogs'), 'Arn'] },
          Format: Match.stringLikeRegexp('\\$context\\.requestId'),
        },
        MethodSettings: [
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: 1000,
            ThrottlingBurstLimit: 2000,
            MetricsEnabled: true,
          }),
        ],
      });
    });

    it('takes the stage name from context', () => {
      synth({ stageName: 'staging' }).template.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'staging',
      });
    });

    it('accepts only TLS 1.2+ on a regional endpoint', () => {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', {
        EndpointConfiguration: { Types: ['REGIONAL'] },
        SecurityPolicy: 'SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09',
        EndpointAccessMode: 'STRICT',
      });
    });

    describe('web ACL', () => {
      const acl = () => Object.entries(template.findResources('AWS::WAFv2::WebACL'))[0]!;
      const rule = (name: string) =>
        (acl()[1].Properties.Rules as { Name: string; Statement: Record<string, unknown> }[]).find(
          (r) => r.Name === name,
        );

      it('is associated with the API stage', () => {
        template.resourceCountIs('AWS::WAFv2::WebACL', 1);
        template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
        const [aclId] = acl();
        const stageId = logicalId(stack, stack.api.deploymentStage);
        const [association] = Object.values(template.findResources('AWS::WAFv2::WebACLAssociation'));
        expect(association!.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
        // arn:…:apigateway:REGION::/restapis/API_ID/stages/prod
        const arn = JSON.stringify(association!.Properties.ResourceArn);
        expect(arn).toContain(`{"Ref":"${logicalId(stack, stack.api)}"}`);
        expect(arn).toContain(`"/stages/",{"Ref":"${stageId}"}`);
        expect(acl()[1].Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
      });

      it('limits each API key and each source address over five minutes, the key well below the stage throttle', () => {
        expect(rule('PerApiKeyRate')!.Statement).toEqual({
          RateBasedStatement: {
            Limit: 60_000,
            EvaluationWindowSec: 300,
            AggregateKeyType: 'CUSTOM_KEYS',
            CustomKeys: [{ Header: { Name: 'x-api-key', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } }],
          },
        });
        expect(rule('PerSourceIpRate')!.Statement).toEqual({
          RateBasedStatement: { Limit: 120_000, EvaluationWindowSec: 300, AggregateKeyType: 'IP' },
        });
        // The stage throttle: 1,000 requests/s for all keys together. One key gets a fifth of it at most.
        const stageRate = 1000;
        expect(60_000 / 300).toBeLessThanOrEqual(stageRate / 5);
        template.hasResourceProperties('AWS::ApiGateway::Stage', {
          MethodSettings: [Match.objectLike({ ThrottlingRateLimit: stageRate })],
        });
        const limited = synth({ wafRateLimitPerKey: '3000', wafRateLimitPerIp: '9000' }).template;
        const rules = Object.values(limited.findResources('AWS::WAFv2::WebACL'))[0]!.Properties.Rules;
        expect(JSON.stringify(rules)).toContain('"Limit":3000');
        expect(JSON.stringify(rules)).toContain('"Limit":9000');
      });

      it('answers a rate-limited caller 429 with the engine’s error body, and keeps no sample of its headers', () => {
        for (const name of ['PerApiKeyRate', 'PerSourceIpRate']) {
          expect(rule(name)).toMatchObject({
            Action: { Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'tooManyRequests' } } },
          });
        }
        const body = acl()[1].Properties.CustomResponseBodies.tooManyRequests;
        expect(JSON.parse(body.Content)).toMatchObject({ error: { code: 'too_many_requests' } });
        const rules = acl()[1].Properties.Rules as { VisibilityConfig: { SampledRequestsEnabled: boolean } }[];
        for (const r of [...rules, acl()[1].Properties]) expect(r.VisibilityConfig.SampledRequestsEnabled).toBe(false);
        template.resourceCountIs('AWS::WAFv2::LoggingConfiguration', 0);
      });

      it('applies the AWS managed common rule set, counting only its 8 KB body rule (the engine takes 256 KB)', () => {
        expect(rule('AwsCommonRuleSet')).toMatchObject({
          OverrideAction: { None: {} },
          Statement: {
            ManagedRuleGroupStatement: {
              VendorName: 'AWS',
              Name: 'AWSManagedRulesCommonRuleSet',
              RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }],
            },
          },
        });
      });
    });

    it('manages the account CloudWatch role by default, retained on delete, and can leave it to another stack', () => {
      template.hasResource('AWS::ApiGateway::Account', { DeletionPolicy: 'Retain' });
      synth({ manageApiGatewayCloudWatchRole: 'false' }).template.resourceCountIs('AWS::ApiGateway::Account', 0);
    });
  });

  it('outputs the API URL, table names and stream name', () => {
    for (const name of [
      'ApiUrl',
      'StateTableName',
      'DecisionsTableName',
      'DeadLetterTableName',
      'AuditTableName',
      'StreamName',
    ]) {
      template.hasOutput(name, {});
    }
    template.hasOutput('StreamName', { Value: { Ref: logicalId(stack, stack.eventStream) } });
  });
});

describe('parseStackConfig', () => {
  it('applies the documented defaults when no context is set', () => {
    expect(parseStackConfig(() => undefined)).toEqual({
      shardCount: 2,
      stageName: 'prod',
      modelRefreshMs: 1000,
      snapshotReplicas: 1,
      manageApiGatewayCloudWatchRole: true,
      lakeRetentionDays: 365,
      retrainArtifactRetentionDays: 30,
      deadLetterRetentionDays: 30,
      joinRetentionDays: 90,
      logRetentionDays: 30,
      wafRateLimitPerKey: 60_000,
      wafRateLimitPerIp: 120_000,
      auditRetentionDays: 365,
      decisionJobInputBuckets: [],
      decisionJobConcurrency: 50,
    });
  });

  it.each([
    ['shardCount', '0'],
    ['shardCount', '1.5'],
    ['stageName', 'has space'],
    ['modelRefreshMs', '-1'],
    ['snapshotReplicas', '0'],
    ['manageApiGatewayCloudWatchRole', 'yes'],
    ['lakeRetentionDays', '0'],
    ['deadLetterRetentionDays', 'forever'],
    ['joinRetentionDays', '7'],
    ['logRetentionDays', '31'],
    ['wafRateLimitPerKey', '5'],
    ['wafRateLimitPerIp', 'many'],
    ['auditRetentionDays', '0'],
  ])('rejects %s=%s', (key, value) => {
    expect(() => parseStackConfig((k) => (k === key ? value : undefined))).toThrow(/Invalid CDK context/);
  });

  it('rejects event claims kept no longer than dead letters (a late replay could count an event twice)', () => {
    const context: Record<string, string> = { joinRetentionDays: '30', deadLetterRetentionDays: '30' };
    expect(() => parseStackConfig((k) => context[k])).toThrow(/joinRetentionDays/);
    context.joinRetentionDays = '31';
    expect(parseStackConfig((k) => context[k])).toMatchObject({ joinRetentionDays: 31, deadLetterRetentionDays: 30 });
  });
});
