/**
 * Offline retraining: the log lake (Kinesis Data Firehose from the engine's stream into an encrypted, TLS-only S3
 * bucket, partitioned `lake/kind=…/dt=YYYY-MM-DD/hour=HH/`, gzipped JSON lines) and the retraining state machine
 * that turns it into a new model and promotes it only if off-policy evaluation says it is not worse:
 *
 *   Plan → Split partitions (Distributed Map over the plan's S3 manifest: lake records dealt out by user)
 *        → Join user buckets (Distributed Map over the buckets: each user's history joined with the updater's rules)
 *        → Reduce → Fit → Evaluate → Gate ─ promote → Promote → Record → Outcome
 *                                        └ reject ───────────→ Record
 *
 * Every step after the plan records a caught failure through the same Record state, so each run leaves a report.
 * EventBridge starts one run per scheduled decision point; an operator starts one on demand with
 * `aws stepfunctions start-execution --input '{"decisionPoint":"…"}'`. Local mode runs this very definition
 * (`local/retrain.ts`), which is why the state names below are part of the contract.
 */
import { join } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import {
  AppendDelimiterToRecordProcessor,
  Compression,
  DeliveryStream,
  EnableLogging,
  KinesisStreamSource,
  MetadataExtractionProcessor,
  S3Bucket,
} from 'aws-cdk-lib/aws-kinesisfirehose';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import type { BundlingOptions, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  ResultWriterV2,
  S3JsonItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2 } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { engineFunction } from './engine-function.ts';

/** State names: the local runner maps each Task state to its handler by name. */
export const RETRAIN_STATES = {
  plan: 'Plan',
  map: 'Split partitions',
  worker: 'Split partition',
  joinMap: 'Join user buckets',
  joinWorker: 'Join user bucket',
  reduce: 'Reduce',
  fit: 'Fit',
  evaluate: 'Evaluate',
  gate: 'Gate',
  promote: 'Promote',
  record: 'Record',
  outcome: 'Outcome',
  done: 'Done',
  failed: 'Run failed',
} as const;

/** Share of map items that may fail (after retries) before the map state fails; see the gate for what follows. */
export const TOLERATED_FAILURE_PERCENTAGE = 10;
/** Map workers running at once. */
export const DEFAULT_MAP_CONCURRENCY = 100;

/**
 * Firehose partitions each record by its own time (a decision's `at`, an event's `receivedAt`), not by arrival, so
 * the lake's `dt` is the statistics bucket of the decision (see shared/app/retrain/lake.ts). jq 1.6.
 */
const RECORD_SECONDS = '((if .kind == "decision" then .at else .receivedAt end) / 1000 | floor)';
export const LAKE_PARTITION_QUERY = {
  kind: '.kind',
  dt: `${RECORD_SECONDS} | strftime("%Y-%m-%d")`,
  hour: `${RECORD_SECONDS} | strftime("%H")`,
};
export const LAKE_DATA_PREFIX =
  'lake/kind=!{partitionKeyFromQuery:kind}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/';
export const LAKE_ERROR_PREFIX = 'lake-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/';

export interface RetrainingProps {
  stateTable: ITable;
  /** Where the promote step publishes the promoted model's snapshot (the engine's snapshot bucket). */
  snapshots: { bucket: IBucket; replicas: number };
  /** Where promotions are recorded (the audit trail), with the days entries are kept. */
  audit?: { table: ITable; retentionDays: number };
  eventStream: IStream;
  /** esbuild settings shared with the engine's functions. */
  bundling: BundlingOptions;
  projectRoot: string;
  depsLockFilePath: string;
  /** Decision points retrained on the schedule (others only on demand). */
  scheduledDecisionPoints: readonly string[];
  /** EventBridge schedule expression; default once a day. */
  schedule?: string;
  /** How long the lake keeps records (`lake/`); retraining sees this much history. */
  lakeRetention: Duration;
  /** How long a run's artifacts are kept (`retrain/`, including the split's copies of lake records). */
  artifactRetention: Duration;
  logRetention: RetentionDays;
  mapConcurrency?: number;
}

export class Retraining extends Construct {
  readonly lakeBucket: Bucket;
  readonly deliveryStream: DeliveryStream;
  readonly stepsFunction: NodejsFunction;
  readonly workerFunction: NodejsFunction;
  readonly stateMachine: StateMachine;
  readonly schedules: Rule[];

  constructor(scope: Construct, id: string, props: RetrainingProps) {
    super(scope, id);
    // Renders the map's ResultWriter in its current form (the older one is deprecated); scoped to this construct.
    this.node.setContext(STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);
    // The Firehose L2 adds a Region → CIDR mapping that only VPC destinations reference; unused here.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason:
        'the Firehose construct declares a CIDR mapping for VPC destinations; the lake destination does not use it',
    });

    // The lake is the engine's only complete history (the stream keeps 7 days), so the bucket is retained; what it
    // holds expires (unversioned bucket: an expired object is gone). Firehose's failed deliveries hold whole records.
    this.lakeBucket = new Bucket(this, 'LakeBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(7) },
        { id: 'lake', prefix: 'lake/', expiration: props.lakeRetention },
        { id: 'lake-errors', prefix: 'lake-errors/', expiration: props.lakeRetention },
        // Child-execution results of the map state: only useful while debugging a run.
        { prefix: 'retrain/map-results/', expiration: Duration.days(14) },
        { id: 'retrain', prefix: 'retrain/', expiration: props.artifactRetention },
        // Decision jobs' inputs, outputs and status (cdk/constructs/decision-jobs.ts): the caller's user ids, kept as
        // long as a run's artifacts. Their decisions' lake objects are under lake/ and expire with it.
        { id: 'decision-jobs', prefix: 'decision-jobs/', expiration: props.artifactRetention },
      ],
    });

    const firehoseLogs = new LogGroup(this, 'LakeDeliveryLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.deliveryStream = new DeliveryStream(this, 'LakeDelivery', {
      source: new KinesisStreamSource(props.eventStream),
      destination: new S3Bucket(this.lakeBucket, {
        dataOutputPrefix: LAKE_DATA_PREFIX,
        errorOutputPrefix: LAKE_ERROR_PREFIX,
        compression: Compression.GZIP,
        fileExtension: '.jsonl.gz',
        // Dynamic partitioning needs at least 64 MiB; a partition is flushed after at most 5 minutes.
        bufferingSize: Size.mebibytes(64),
        bufferingInterval: Duration.seconds(300),
        dynamicPartitioning: { enabled: true, retryDuration: Duration.seconds(3600) },
        // Records arrive without a trailing newline: the delimiter processor makes the objects JSON lines.
        processors: [MetadataExtractionProcessor.jq16(LAKE_PARTITION_QUERY), new AppendDelimiterToRecordProcessor()],
        loggingConfig: new EnableLogging(firehoseLogs),
      }),
    });

    const environment = {
      STATE_TABLE: props.stateTable.tableName,
      LAKE_BUCKET: this.lakeBucket.bucketName,
      SNAPSHOT_BUCKET: props.snapshots.bucket.bucketName,
      SNAPSHOT_REPLICAS: String(props.snapshots.replicas),
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'nba-engine',
    };
    const createFunction = (fid: string, entry: string, memorySize: number, timeout: Duration) =>
      engineFunction(this, fid, {
        entry: join(props.projectRoot, 'functions', 'retrain', entry),
        handler: 'handler',
        projectRoot: props.projectRoot,
        depsLockFilePath: props.depsLockFilePath,
        runtime: Runtime.NODEJS_24_X,
        architecture: Architecture.ARM_64,
        memorySize,
        timeout,
        tracing: Tracing.ACTIVE,
        environment,
        logGroup: new LogGroup(this, `${fid}Logs`, {
          retention: props.logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        bundling: props.bundling,
      });
    // 1,769 MB is one full vCPU: the worker is CPU-bound (gunzip, JSON, rank-one updates). Its timeout stays below
    // the 5-minute limit of the express child executions that run it.
    this.workerFunction = createFunction('RetrainWorkerFunction', 'worker.ts', 1769, Duration.minutes(4));
    this.stepsFunction = createFunction('RetrainStepsFunction', 'handler.ts', 2048, Duration.minutes(15));
    if (props.audit) {
      this.stepsFunction.addEnvironment('AUDIT_TABLE', props.audit.table.tableName);
      this.stepsFunction.addEnvironment('AUDIT_RETENTION_DAYS', String(props.audit.retentionDays));
      // The promote step appends one entry per promotion (a conditional put, see shared/core/audit.ts).
      this.stepsFunction.addToRolePolicy(
        new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [props.audit.table.tableArn] }),
      );
    }

    this.lakeBucket.grantRead(this.workerFunction, 'lake/*');
    // The join reads what the split dealt out under the run's prefix.
    this.lakeBucket.grantRead(this.workerFunction, 'retrain/*');
    this.lakeBucket.grantPut(this.workerFunction, 'retrain/*');
    this.lakeBucket.grantRead(this.stepsFunction);
    this.lakeBucket.grantPut(this.stepsFunction, 'retrain/*');
    props.stateTable.grantReadWriteData(this.stepsFunction);
    // The promote step publishes the promoted model's snapshot.
    this.stepsFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [props.snapshots.bucket.arnForObjects('*')],
      }),
    );
    this.stepsFunction.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.snapshots.bucket.bucketArn] }),
    );

    const S = RETRAIN_STATES;
    const retried = <T extends LambdaInvoke>(task: T): T => {
      task.addRetry({
        errors: ['RetrainTransientError'],
        interval: Duration.seconds(5),
        maxAttempts: 3,
        backoffRate: 2,
        jitterStrategy: JitterType.FULL,
      });
      return task;
    };
    const step = (name: string, stepName: string) =>
      retried(
        new LambdaInvoke(this, name, {
          stateName: name,
          lambdaFunction: this.stepsFunction,
          payload: TaskInput.fromObject({ step: stepName, ctx: JsonPath.entirePayload }),
          outputPath: '$.Payload',
        }),
      );

    const plan = retried(
      new LambdaInvoke(this, S.plan, {
        stateName: S.plan,
        lambdaFunction: this.stepsFunction,
        payload: TaskInput.fromObject({
          step: 'plan',
          input: JsonPath.entirePayload,
          executionId: JsonPath.executionId,
          startTime: JsonPath.executionStartTime,
        }),
        outputPath: '$.Payload',
      }),
    );
    const worker = retried(
      new LambdaInvoke(this, S.worker, {
        stateName: S.worker,
        lambdaFunction: this.workerFunction,
        payload: TaskInput.fromJsonPathAt('$'),
        // The child's output stays tiny: the records it dealt out are in S3.
        resultSelector: { 'itemId.$': '$.Payload.itemId', 'records.$': '$.Payload.records' },
      }),
    );
    const joinWorker = retried(
      new LambdaInvoke(this, S.joinWorker, {
        stateName: S.joinWorker,
        lambdaFunction: this.workerFunction,
        payload: TaskInput.fromJsonPathAt('$'),
        // The partial statistics are in S3.
        resultSelector: { 'bucket.$': '$.Payload.bucket', 'decisions.$': '$.Payload.decisions' },
      }),
    );
    const map = new DistributedMap(this, S.map, {
      stateName: S.map,
      itemReader: new S3JsonItemReader({ bucket: this.lakeBucket, key: JsonPath.stringAt('$.plan.manifestKey') }),
      itemSelector: { run: JsonPath.objectAt('$.run'), item: JsonPath.objectAt('$$.Map.Item.Value') },
      maxConcurrency: props.mapConcurrency ?? DEFAULT_MAP_CONCURRENCY,
      // Failed items are listed by Reduce and block promotion; tolerating a few still yields a report and an
      // evaluation instead of a bare failure.
      toleratedFailurePercentage: TOLERATED_FAILURE_PERCENTAGE,
      mapExecutionType: StateMachineType.EXPRESS,
      // Child results go to S3, so the map state's own output stays small whatever the item count.
      resultWriterV2: new ResultWriterV2({ bucket: this.lakeBucket, prefix: 'retrain/map-results' }),
      resultPath: JsonPath.DISCARD,
      label: 'Partitions',
    });
    map.itemProcessor(worker);
    // Each user's whole history in one worker, so the join follows the updater's rules exactly (join-bucket.ts).
    const joinMap = new DistributedMap(this, S.joinMap, {
      stateName: S.joinMap,
      itemsPath: JsonPath.stringAt('$.plan.buckets'),
      itemSelector: { run: JsonPath.objectAt('$.run'), bucket: JsonPath.numberAt('$$.Map.Item.Value') },
      maxConcurrency: props.mapConcurrency ?? DEFAULT_MAP_CONCURRENCY,
      toleratedFailurePercentage: TOLERATED_FAILURE_PERCENTAGE,
      mapExecutionType: StateMachineType.EXPRESS,
      resultPath: JsonPath.DISCARD,
      label: 'Buckets',
    });
    joinMap.itemProcessor(joinWorker);

    const reduce = step(S.reduce, 'reduce');
    const fit = step(S.fit, 'fit');
    const evaluate = step(S.evaluate, 'evaluate');
    const promote = step(S.promote, 'promote');
    const record = step(S.record, 'record');
    for (const s of [map, joinMap, reduce, fit, evaluate, promote]) {
      s.addCatch(record, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    const outcome = new Choice(this, S.outcome, { stateName: S.outcome })
      .when(
        Condition.isPresent('$.error'),
        new Fail(this, S.failed, { stateName: S.failed, error: 'RetrainFailed', cause: 'see the run report' }),
      )
      .otherwise(new Succeed(this, S.done, { stateName: S.done }));
    record.next(outcome);
    promote.next(record);
    const gate = new Choice(this, S.gate, { stateName: S.gate })
      .when(Condition.booleanEquals('$.evaluation.promote', true), promote)
      .otherwise(record);

    const stateMachineLogs = new LogGroup(this, 'StateMachineLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(
        plan.next(map).next(joinMap).next(reduce).next(fit).next(evaluate).next(gate),
      ),
      timeout: Duration.hours(2),
      tracingEnabled: true,
      logs: { destination: stateMachineLogs, level: LogLevel.ERROR, includeExecutionData: false },
    });

    this.schedules = props.scheduledDecisionPoints.map(
      (dp) =>
        new Rule(this, `Schedule-${dp}`, {
          description: `Retrains decision point ${dp}`,
          schedule: Schedule.expression(props.schedule ?? 'rate(1 day)'),
          targets: [
            new SfnStateMachine(this.stateMachine, {
              input: RuleTargetInput.fromObject({ decisionPoint: dp }),
              retryAttempts: 3,
            }),
          ],
        }),
    );

    new CfnOutput(this, 'LakeBucketName', { value: this.lakeBucket.bucketName });
    new CfnOutput(this, 'RetrainStateMachineArn', { value: this.stateMachine.stateMachineArn });
  }
}
