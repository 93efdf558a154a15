/**
 * The alarms and dashboard of cdk/constructs/observability.ts, in the synthesized template: each alarm watches the
 * metric it claims, with its threshold, and notifies the encrypted topic; the dead-letter count comes from the
 * updater's log line; the retraining alarm exists only with a state machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Stream } from 'aws-cdk-lib/aws-kinesis';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackConfig } from '../../cdk/config.ts';
import { DEAD_LETTERED_METRIC, Observability } from '../../cdk/constructs/observability.ts';
import { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';
import { METRIC } from '../../shared/adapters/metric-names.ts';

const outdirs: string[] = [];
const newApp = () => {
  const outdir = mkdtempSync(join(tmpdir(), 'nba-obs-test-'));
  outdirs.push(outdir);
  // Without CDK's CloudFormation validation (seconds per synth): test/cdk/nag.test.ts synthesises with it.
  return new App({ outdir, builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
};
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
});

let stack: NbaEngineStack;
let template: Template;
beforeAll(() => {
  const app = newApp();
  stack = new NbaEngineStack(
    app,
    'NbaEngine',
    parseStackConfig((key) => app.node.tryGetContext(key)),
  );
  template = Template.fromStack(stack);
});

const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const alarmProps = (name: string) =>
  template.toJSON().Resources[stack.getLogicalId(stack.observability.alarms[name]!.node.defaultChild as CfnElement)]
    .Properties;

describe('Observability alarms', () => {
  it('has the alarms the issue names, each notifying the alarm topic on alarm and on recovery', () => {
    expect(Object.keys(stack.observability.alarms).sort()).toEqual(
      [
        'Api5xx',
        'AuditIncomplete',
        'DeadLetteredRecords',
        'DecisionFallback',
        'DecisionLogDeferred',
        'DecisionLogLost',
        'DynamoDbThrottles',
        'FunctionThrottles',
        'KeyRateLimited',
        'RetrainingFailures',
        'StreamThrottles',
        'UpdaterErrors',
        'UpdaterFailureQueue',
        'UpdaterIteratorAge',
      ].sort(),
    );
    const topic = { Ref: stack.getLogicalId(stack.observability.topic.node.defaultChild as CfnElement) };
    for (const name of Object.keys(stack.observability.alarms)) {
      const p = alarmProps(name);
      expect(p.AlarmActions, name).toEqual([topic]);
      expect(p.OKActions, name).toEqual([topic]);
      expect(p.TreatMissingData, name).toBe('notBreaching');
      expect(p.AlarmDescription.length, name).toBeGreaterThan(30);
    }
  });

  it('alarms when the updater stays more than a minute behind for five minutes', () => {
    expect(alarmProps('UpdaterIteratorAge')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(stack.updaterFunction) } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 60_000,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms on any failure pointer in the updater failure queue and on any dead-lettered record', () => {
    expect(alarmProps('UpdaterFailureQueue')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(stack.updaterFailureQueue), 'QueueName'] } }],
      Threshold: 1,
    });
    expect(alarmProps('DeadLetteredRecords')).toMatchObject({
      Namespace: 'NbaEngine',
      MetricName: DEAD_LETTERED_METRIC,
      Dimensions: [{ Name: 'service', Value: 'nba-engine' }],
      Statistic: 'Sum',
      Threshold: 1,
    });
    // The count comes from the updater's structured log line, summed from its deadLettered field.
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp('UpdaterFunctionLogs') },
      FilterPattern: Match.stringLikeRegexp('\\$\\.message = "batch applied".*\\$\\.deadLettered > 0'),
      MetricTransformations: [
        Match.objectLike({
          MetricNamespace: 'NbaEngine',
          MetricName: DEAD_LETTERED_METRIC,
          MetricValue: '$.deadLettered',
          Dimensions: [{ Key: 'service', Value: '$.service' }],
        }),
      ],
    });
  });

  it('alarms on API 5xx responses of the deployed stage', () => {
    expect(alarmProps('Api5xx')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [
        { Name: 'ApiName', Value: 'nba-engine' },
        { Name: 'Stage', Value: { Ref: expect.stringMatching(/DeploymentStage/) } },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
    });
  });

  it('alarms on throttling of the functions, the tables and the stream', () => {
    const metrics = (name: string) => JSON.stringify(alarmProps(name).Metrics);
    for (const fn of [stack.decisionsFunction, stack.eventsFunction, stack.adminFunction, stack.updaterFunction]) {
      expect(metrics('FunctionThrottles')).toContain(`"Ref":"${id(fn)}"`);
    }
    expect(metrics('FunctionThrottles')).toContain('"MetricName":"Throttles"');
    for (const table of [stack.stateTable, stack.decisionsTable, stack.deadLetterTable]) {
      expect(metrics('DynamoDbThrottles')).toContain(`"Ref":"${id(table)}"`);
    }
    expect(metrics('DynamoDbThrottles')).toMatch(/ReadThrottleEvents.*WriteThrottleEvents/);
    expect(metrics('StreamThrottles')).toMatch(/WriteProvisionedThroughputExceeded.*ReadProvisionedThroughputExceeded/);
    expect(alarmProps('KeyRateLimited')).toMatchObject({
      Namespace: 'NbaEngine',
      MetricName: METRIC.throttledRequests,
    });
  });

  it('alarms on decision-log entries deferred or lost and on fallback answers, by the names the code publishes', () => {
    for (const [alarm, metric] of [
      ['DecisionLogDeferred', METRIC.decisionLogDeferred],
      ['DecisionLogLost', METRIC.decisionLogLost],
      ['DecisionFallback', METRIC.decisionFallback],
    ] as const) {
      expect(alarmProps(alarm)).toMatchObject({
        Namespace: 'NbaEngine',
        MetricName: metric,
        Dimensions: [{ Name: 'service', Value: 'nba-engine' }],
        Statistic: 'Sum',
        Threshold: 1,
      });
    }
    expect(alarmProps('DecisionLogLost').Period).toBe(60);
  });

  it('alarms on retraining executions that fail, time out or are aborted', () => {
    const m = JSON.stringify(alarmProps('RetrainingFailures').Metrics);
    for (const name of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(m).toContain(name);
    expect(m).toContain(`"Ref":"${id(stack.retraining.stateMachine)}"`);
  });

  it('notifies a topic encrypted with a rotating key that CloudWatch may use for this account’s alarms only, over TLS only', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    // No statement trusts CloudWatch without naming the account (and the alarms) it may act for.
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    const cloudWatch = keys.flatMap((k) =>
      (k.Properties.KeyPolicy.Statement as { Principal?: { Service?: string }; Condition?: unknown }[]).filter(
        (st) => st.Principal?.Service === 'cloudwatch.amazonaws.com',
      ),
    );
    expect(cloudWatch).toHaveLength(1);
    expect(cloudWatch[0]!.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:*',
            ],
          ],
        },
      },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasOutput('AlarmTopicArn', {});
  });
});

describe('Observability dashboard', () => {
  it('shows the API, the decision path degradations, learning, storage, retraining and every alarm', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody,
    );
    for (const name of [
      '5XXError',
      'Latency',
      'IteratorAge',
      DEAD_LETTERED_METRIC,
      'ApproximateNumberOfMessagesVisible',
      METRIC.decisionLogDeferred,
      METRIC.decisionLogLost,
      METRIC.decisionStaleModel,
      METRIC.decisionFallback,
      'ConsumedWriteCapacityUnits',
      'IncomingRecords',
      'ExecutionsFailed',
    ]) {
      expect(body, name).toContain(name);
    }
    for (const alarm of Object.values(stack.observability.alarms)) {
      expect(body).toContain(stack.getLogicalId(alarm.node.defaultChild as CfnElement));
    }
  });
});

describe('Observability without a retraining state machine', () => {
  it('has no retraining alarm and says so on the dashboard', () => {
    const s = new Stack(newApp(), 'Minimal');
    const fn = (name: string) =>
      new LambdaFunction(s, name, {
        runtime: Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: Code.fromInline('exports.handler=async()=>({})'),
      });
    const api = new RestApi(s, 'Api');
    api.root.addMethod('GET', new LambdaIntegration(fn('ApiFn')));
    const obs = new Observability(s, 'Obs', {
      api,
      apiFunctions: [fn('A')],
      updaterFunction: fn('U'),
      updaterLogGroup: new LogGroup(s, 'UL'),
      updaterFailureQueue: new Queue(s, 'Q'),
      tables: [new Table(s, 'T', { partitionKey: { name: 'pk', type: AttributeType.STRING } })],
      stream: new Stream(s, 'S'),
    });
    expect(obs.alarms.RetrainingFailures).toBeUndefined();
    expect(Object.keys(obs.alarms)).toHaveLength(13);
    const t = Template.fromStack(s);
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'))).toContain('No retraining state machine');
  });
});
