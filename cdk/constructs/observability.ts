/**
 * Alarms and a dashboard for the engine: what an operator must hear about (learning falling behind or dropping
 * records, the API failing or throttling, decisions served without their log entry, retraining failing), all sent to
 * one SNS topic, and one dashboard with the same signals side by side.
 *
 * The engine's own metrics come from the functions through Powertools (embedded metric format, namespace
 * `NbaEngine`, dimension `service`); their names are shared with the code (`shared/adapters/observability.ts`).
 * Records the updater dead-letters are counted from its structured `batch applied` log line by a metric filter, so
 * the updater needs no metrics code of its own.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../shared/adapters/metric-names.ts';

export interface ObservabilityProps {
  api: RestApi;
  /** The functions behind the API (decisions, events, admin). */
  apiFunctions: readonly IFunction[];
  updaterFunction: IFunction;
  /** The updater's log group, where its `batch applied` lines are counted. */
  updaterLogGroup: ILogGroup;
  /** The event source mapping's on-failure destination. */
  updaterFailureQueue: IQueue;
  tables: readonly ITable[];
  stream: IStream;
  /** The retraining state machine, when the deployment has one. */
  stateMachine?: IStateMachine;
  /** Where alarms notify; by default a new encrypted topic (subscribe to it after deploying). */
  alarmTopic?: ITopic;
  /** The Powertools service name, the `service` dimension of the engine's metrics. */
  serviceName?: string;
  /** The updater is behind when its iterator age stays above this for five minutes (default 1 minute). */
  maxIteratorAge?: Duration;
}

/** Metric name the dead-letter metric filter publishes. */
export const DEAD_LETTERED_METRIC = 'DeadLetteredRecords';

export class Observability extends Construct {
  readonly topic: ITopic;
  readonly dashboard: Dashboard;
  /** Every alarm, by a stable name (the template tests and the dashboard use these). */
  readonly alarms: Record<string, Alarm> = {};

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const service = props.serviceName ?? SERVICE_NAME;
    const engine = (metricName: string, period = Duration.minutes(5)) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service }, statistic: 'Sum', period });
    const five = Duration.minutes(5);

    this.topic = props.alarmTopic ?? this.encryptedTopic();
    const action = new SnsAction(this.topic);
    const alarm = (name: string, metric: IMetric, threshold: number, description: string, evaluationPeriods = 1) => {
      const a = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No data means nothing happened: no failures, no throttles, no invocations.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms[name] = a;
      return a;
    };

    // Learning: behind, failing, or setting records aside.
    const iteratorAge = props.updaterFunction.metric('IteratorAge', {
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    alarm(
      'UpdaterIteratorAge',
      iteratorAge,
      (props.maxIteratorAge ?? Duration.minutes(1)).toMilliseconds(),
      'The updater is falling behind the stream: the serving model learns late, and records near the retention limit risk expiring.',
      5,
    );
    alarm(
      'UpdaterErrors',
      props.updaterFunction.metricErrors({ period: five }),
      1,
      'The updater failed whole invocations (crash or timeout); batches are retried and, after 10 attempts, sent to the failure queue.',
    );
    alarm(
      'UpdaterFailureQueue',
      props.updaterFailureQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      1,
      'Batches the event source mapping gave up on: their records were not applied. Each message names the shard and sequence range to replay before the stream retention (7 days) ends.',
    );
    new MetricFilter(this, 'DeadLetteredFilter', {
      logGroup: props.updaterLogGroup,
      metricNamespace: METRICS_NAMESPACE,
      metricName: DEAD_LETTERED_METRIC,
      filterPattern: FilterPattern.all(
        FilterPattern.stringValue('$.message', '=', 'batch applied'),
        FilterPattern.numberValue('$.deadLettered', '>', 0),
      ),
      metricValue: '$.deadLettered',
      dimensions: { service: '$.service' },
    });
    const deadLettered = engine(DEAD_LETTERED_METRIC);
    alarm(
      'DeadLetteredRecords',
      deadLettered,
      1,
      'The updater set records aside as poison (malformed, unknown decision, wrong user): see GET /v1/dead-letters for each reason.',
    );

    // The API: failing, throttled, or absorbing faults.
    const stage = props.api.deploymentStage;
    alarm(
      'Api5xx',
      stage.metricServerError({ period: five, statistic: 'Sum' }),
      5,
      'The API answered 5xx responses (unabsorbed dependency failures or bugs).',
    );
    const fnThrottles = [...props.apiFunctions, props.updaterFunction].map(
      (fn, i) => [`t${i}`, fn.metricThrottles({ period: five })] as const,
    );
    alarm(
      'FunctionThrottles',
      new MathExpression({
        expression: fnThrottles.map(([k]) => k).join(' + '),
        usingMetrics: Object.fromEntries(fnThrottles),
        period: five,
        label: 'Lambda throttles',
      }),
      1,
      'Lambda throttled invocations of the engine (account or reserved concurrency reached).',
    );
    const tableThrottles = props.tables.flatMap((t, i) => [
      [`r${i}`, t.metric('ReadThrottleEvents', { period: five, statistic: 'Sum' })] as const,
      [`w${i}`, t.metric('WriteThrottleEvents', { period: five, statistic: 'Sum' })] as const,
    ]);
    alarm(
      'DynamoDbThrottles',
      new MathExpression({
        expression: tableThrottles.map(([k]) => k).join(' + '),
        usingMetrics: Object.fromEntries(tableThrottles),
        period: five,
        label: 'DynamoDB throttle events',
      }),
      1,
      'DynamoDB throttled requests (a hot partition): the SDK retries, the decision path falls back, but sustained throttling slows learning.',
    );
    alarm(
      'StreamThrottles',
      new MathExpression({
        expression: 'w + r',
        usingMetrics: {
          w: props.stream.metricWriteProvisionedThroughputExceeded({ period: five, statistic: 'Sum' }),
          r: props.stream.metricReadProvisionedThroughputExceeded({ period: five, statistic: 'Sum' }),
        },
        period: five,
        label: 'Kinesis throttled requests',
      }),
      1,
      'Kinesis throttled puts or reads: add shards (each is 1,000 records/s in).',
    );
    alarm(
      'KeyRateLimited',
      engine(METRIC.throttledRequests),
      1,
      'An API key exceeded its per-key request limit (429).',
    );
    alarm(
      'DecisionLogDeferred',
      engine(METRIC.decisionLogDeferred),
      1,
      'Decisions were answered before their log entry reached the stream (Kinesis slow or failing); entries are retried from the container. Check DecisionLogLost.',
    );
    alarm(
      'DecisionLogLost',
      engine(METRIC.decisionLogLost, Duration.minutes(1)),
      1,
      'Decision log entries were dropped (container buffer full or entries too old): those decisions will never be learned from.',
    );
    alarm(
      'AuditIncomplete',
      engine(METRIC.auditIncomplete),
      1,
      "A change was made but its audit entry's outcome could not be stored: the entry stays pending in the audit table; the admin function's log has the outcome (message 'audit outcome not recorded').",
    );
    alarm(
      'DecisionFallback',
      engine(METRIC.decisionFallback),
      1,
      'Decisions were answered by the uniform fallback: a container had no model and the model store (DynamoDB) was unavailable.',
    );

    if (props.stateMachine) {
      const sm = props.stateMachine;
      alarm(
        'RetrainingFailures',
        new MathExpression({
          expression: 'f + t + a',
          usingMetrics: {
            f: sm.metricFailed({ period: five }),
            t: sm.metricTimedOut({ period: five }),
            a: sm.metricAborted({ period: five }),
          },
          period: five,
          label: 'Retraining executions failed, timed out or aborted',
        }),
        1,
        'A retraining run failed, timed out or was aborted: the serving model stays the previous one.',
      );
    }

    this.dashboard = this.buildDashboard(props, engine, iteratorAge, deadLettered);
  }

  private encryptedTopic(): Topic {
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the topic gets its own key that allows it.
    const key = new Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the NBA engine alarm topic',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Only on behalf of this account's alarms (confused deputy): CloudWatch sends the alarm's account and ARN with its
    // KMS calls, unlike services (EventBridge) whose calls carry neither.
    const stack = Stack.of(this);
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
        },
      }),
    );
    return new Topic(this, 'AlarmTopic', { displayName: 'NBA engine alarms', masterKey: key, enforceSSL: true });
  }

  private buildDashboard(
    props: ObservabilityProps,
    engine: (name: string, period?: Duration) => Metric,
    iteratorAge: IMetric,
    deadLettered: IMetric,
  ): Dashboard {
    const stage = props.api.deploymentStage;
    const minute = Duration.minutes(1);
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 8, height: 6 });
    const dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# NBA engine\nDecisions and feedback (API), learning (stream → updater), degradations of the decision path, retraining. Alarms at the bottom.',
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      graph(
        'API requests and errors',
        [stage.metricCount({ period: minute, statistic: 'Sum' })],
        [
          stage.metricClientError({ period: minute, statistic: 'Sum' }),
          stage.metricServerError({ period: minute, statistic: 'Sum' }),
        ],
      ),
      graph('API latency (ms)', [
        stage.metricLatency({ period: minute, statistic: 'p50' }),
        stage.metricLatency({ period: minute, statistic: 'p99' }),
        stage.metricIntegrationLatency({ period: minute, statistic: 'p99' }),
      ]),
      graph(
        'API functions: duration p99 (ms) and errors',
        props.apiFunctions.map((fn) => fn.metricDuration({ period: minute, statistic: 'p99' })),
        props.apiFunctions.map((fn) => fn.metricErrors({ period: minute })),
      ),
    );
    dashboard.addWidgets(
      graph('Decision log', [
        engine(METRIC.decisionLogDeferred, minute),
        engine(METRIC.decisionLogRecovered, minute),
        engine(METRIC.decisionLogLost, minute),
      ]),
      graph('Decisions degraded', [engine(METRIC.decisionStaleModel, minute), engine(METRIC.decisionFallback, minute)]),
      graph('Per-key limit (429)', [engine(METRIC.throttledRequests, minute)]),
    );
    dashboard.addWidgets(
      graph('Updater: iterator age (ms)', [iteratorAge], [props.updaterFunction.metricErrors({ period: minute })]),
      graph(
        'Updater: dead-lettered records and failed batches',
        [deadLettered],
        [props.updaterFailureQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' })],
      ),
      graph(
        'Stream: records in, throttled',
        [props.stream.metricIncomingRecords({ period: minute, statistic: 'Sum' })],
        [
          props.stream.metricWriteProvisionedThroughputExceeded({ period: minute, statistic: 'Sum' }),
          props.stream.metricReadProvisionedThroughputExceeded({ period: minute, statistic: 'Sum' }),
        ],
      ),
    );
    dashboard.addWidgets(
      graph(
        'DynamoDB: consumed capacity',
        props.tables.flatMap((t) => [
          t.metricConsumedReadCapacityUnits({ period: minute }),
          t.metricConsumedWriteCapacityUnits({ period: minute }),
        ]),
      ),
      graph(
        'DynamoDB: throttle events',
        props.tables.flatMap((t) => [
          t.metric('ReadThrottleEvents', { period: minute, statistic: 'Sum' }),
          t.metric('WriteThrottleEvents', { period: minute, statistic: 'Sum' }),
        ]),
      ),
      props.stateMachine
        ? graph('Retraining executions', [
            props.stateMachine.metricStarted({ period: Duration.hours(1) }),
            props.stateMachine.metricSucceeded({ period: Duration.hours(1) }),
            props.stateMachine.metricFailed({ period: Duration.hours(1) }),
          ])
        : new TextWidget({ markdown: 'No retraining state machine in this deployment.', width: 8, height: 6 }),
    );
    dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 6 }),
    );
    return dashboard;
  }
}
