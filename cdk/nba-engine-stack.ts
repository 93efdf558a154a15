import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  type CfnRestApi,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { Architecture, type IFunction, Runtime, StartingPosition, Tracing } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { type BundlingOptions, type NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DECISIONS_BY_USER_INDEX } from '../shared/adapters/dynamodb/decision-items.ts';
import { API_KEY_PARTITION, dpPk } from '../shared/adapters/dynamodb/state-items.ts';
import type { StackConfig } from './config.ts';
import { ApiProtection } from './constructs/api-protection.ts';
import { DecisionJobs } from './constructs/decision-jobs.ts';
import { engineFunction } from './constructs/engine-function.ts';
import { Observability } from './constructs/observability.ts';
import { Retraining } from './constructs/retraining.ts';
import { acknowledgeNagFindings } from './nag.ts';

export interface NbaEngineStackProps extends StackProps, StackConfig {}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Name of the local secondary index on the state table that orders a partition's items by last update. */
export const STATE_BY_UPDATED_AT_INDEX = 'byUpdatedAt';

/**
 * esbuild settings shared by every function. ESM output lets the handlers use top-level await for client setup; the
 * banner restores `require` for the CommonJS dependencies esbuild inlines into an ESM bundle.
 */
const bundling: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  mainFields: ['module', 'main'],
  banner:
    "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  // The runtime's preinstalled SDK lags behind and drifts from the version the adapters were tested against; bundling
  // the pinned version (tree-shaken, minified) keeps deployed behaviour equal to tested behaviour.
  bundleAwsSDK: true,
};

/**
 * The whole next-best-action engine in one stack: API Gateway in front of the decision, event and admin functions,
 * a Kinesis stream carrying feedback to the updater, and the DynamoDB tables holding bandit state, decision logs and
 * poison records.
 */
export class NbaEngineStack extends Stack {
  readonly stateTable: Table;
  readonly decisionsTable: Table;
  readonly deadLetterTable: Table;
  readonly auditTable: Table;
  readonly eventStream: Stream;
  readonly updaterFailureQueue: Queue;
  /** Model snapshots and their pointers (docs/ARCHITECTURE.md §5): written by the updater and admin, read by decisions. */
  readonly snapshotBucket: Bucket;
  /** The HMAC key that turns user ids into pseudonyms at the API (shared/core/privacy.ts). */
  readonly userPseudonymKey: Secret;
  readonly decisionsFunction: NodejsFunction;
  readonly eventsFunction: NodejsFunction;
  readonly adminFunction: NodejsFunction;
  readonly consoleFunction: NodejsFunction;
  readonly updaterFunction: NodejsFunction;
  readonly api: RestApi;
  readonly apiProtection: ApiProtection;
  readonly retraining: Retraining;
  /** Campaign-scale decisions: the state machine and the function of its steps (cdk/constructs/decision-jobs.ts). */
  readonly decisionJobs: DecisionJobs;
  readonly decisionJobFunction: NodejsFunction;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: NbaEngineStackProps) {
    super(scope, id, props);

    // Every table here holds data that cannot be rebuilt from elsewhere, so all four are retained when the stack
    // goes and can be restored to any second of the last 35 days.
    const tableDefaults = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    } as const;

    const days = (n: number) => Duration.days(n);
    const logRetention = props.logRetentionDays as RetentionDays;

    // Decision-point config, catalog actions, per-action bandit statistics, API key hashes, and user erasures (the
    // only items that expire: `expiresAt`, once the lake no longer holds the erased user's records).
    this.stateTable = new Table(this, 'StateTable', {
      ...tableDefaults,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });
    this.stateTable.addLocalSecondaryIndex({
      indexName: STATE_BY_UPDATED_AT_INDEX,
      sortKey: { name: 'updatedAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.ALL,
    });

    // The TTL only keeps the table small: a decision whose TTL has passed but which is not yet deleted must still be
    // handled correctly by the updater, because DynamoDB deletes expired items up to days late.
    this.decisionsTable = new Table(this, 'DecisionsTable', {
      ...tableDefaults,
      partitionKey: { name: 'decisionId', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });
    // Every decision and event claim of a user, for erasing them (DELETE /v1/users/{userId}): their keys are not
    // derivable from the user's (a decision's is its id). Keys only, so each write adds one small index write.
    this.decisionsTable.addGlobalSecondaryIndex({
      indexName: DECISIONS_BY_USER_INDEX,
      partitionKey: { name: 'userId', type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    // Records the updater could not apply, with the reason, so that none is dropped silently.
    this.deadLetterTable = new Table(this, 'DeadLetterTable', {
      ...tableDefaults,
      partitionKey: { name: 'id', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });

    // Retained: a new key gives every user a new pseudonym, i.e. a new history (README, Privacy).
    this.userPseudonymKey = new Secret(this, 'UserPseudonymKey', {
      description: 'HMAC key of the user pseudonyms the API writes in place of user ids',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The audit trail: one entry per change (shared/core/audit.ts), written and listed by the admin function, and by
    // the retraining when it promotes a model. Entries expire after `auditRetentionDays` (TTL: cleanup, not a rule).
    this.auditTable = new Table(this, 'AuditTable', {
      ...tableDefaults,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });

    this.eventStream = new Stream(this, 'EventStream', {
      streamMode: StreamMode.PROVISIONED,
      shardCount: props.shardCount,
      encryption: StreamEncryption.MANAGED,
      // A week of replay: long enough to recover from an updater bug found after a weekend.
      retentionPeriod: Duration.days(7),
    });

    // Derived data (rebuilt by the next publish), overwritten in place under fixed keys: nothing to expire or retain.
    this.snapshotBucket = new Bucket(this, 'SnapshotBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });

    const environment = {
      STATE_TABLE: this.stateTable.tableName,
      SNAPSHOT_BUCKET: this.snapshotBucket.bucketName,
      SNAPSHOT_REPLICAS: String(props.snapshotReplicas),
      DECISIONS_TABLE: this.decisionsTable.tableName,
      DEADLETTER_TABLE: this.deadLetterTable.tableName,
      STREAM_NAME: this.eventStream.streamName,
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'nba-engine',
      JOIN_RETENTION_DAYS: String(props.joinRetentionDays),
      DEADLETTER_RETENTION_DAYS: String(props.deadLetterRetentionDays),
    };
    // Only the API functions see user ids, so only they read the key.
    const pseudonymKey = { USER_PSEUDONYM_SECRET: this.userPseudonymKey.secretArn };

    /** What every function of the engine has: its handler module, runtime, tracing, log group and bundling. */
    const functionProps = (id: string, handlerDir: string, options: { memorySize: number; timeout: Duration }) => ({
      entry: join(repoRoot, 'functions', handlerDir, 'handler.ts'),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: options.timeout,
      tracing: Tracing.ACTIVE,
      logGroup: new LogGroup(this, `${id}Logs`, {
        retention: logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      bundling,
    });
    /** A function of the engine with the engine's environment (its tables, stream, …) and any of its own. */
    const createFunction = (
      id: string,
      handlerDir: string,
      options: { memorySize: number; timeout: Duration; environment?: Record<string, string> },
    ): NodejsFunction =>
      engineFunction(this, id, {
        ...functionProps(id, handlerDir, options),
        environment: { ...environment, ...options.environment },
      });

    this.decisionsFunction = createFunction('DecisionsFunction', 'decisions', {
      memorySize: 1024,
      timeout: Duration.seconds(10),
      environment: { MODEL_REFRESH_MS: String(props.modelRefreshMs), ...pseudonymKey },
    });
    this.eventsFunction = createFunction('EventsFunction', 'events', {
      memorySize: 512,
      timeout: Duration.seconds(10),
      environment: pseudonymKey,
    });
    this.adminFunction = createFunction('AdminFunction', 'admin', {
      memorySize: 512,
      // API Gateway's own integration timeout is 29 s; a longer Lambda timeout would only burn time nobody awaits.
      timeout: Duration.seconds(29),
      environment: {
        ...pseudonymKey,
        // An erasure is kept as long as the lake may hold the user's records (plus a week for S3's lifecycle lag).
        ERASURE_RETENTION_DAYS: String(props.lakeRetentionDays + 7),
        AUDIT_TABLE: this.auditTable.tableName,
        AUDIT_RETENTION_DAYS: String(props.auditRetentionDays),
        // Catalog changes publish at once: an operator waits for the answer, and their rate is an operator's.
        PUBLISH_MIN_INTERVAL_MS: '0',
      },
    });
    // The web console's static files (functions/console/handler.ts). It calls no AWS service, so it gets none of the
    // engine's environment; its files are built into the bundle after esbuild has bundled the handler.
    this.consoleFunction = engineFunction(this, 'ConsoleFunction', {
      ...functionProps('ConsoleFunction', 'console', { memorySize: 256, timeout: Duration.seconds(5) }),
      bundling: {
        ...bundling,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [
            `cd "${inputDir}" && npx tsx console/build.ts --out "${outputDir}/assets"`,
          ],
        },
      },
    });
    this.updaterFunction = createFunction('UpdaterFunction', 'updater', {
      memorySize: 1024,
      timeout: Duration.seconds(60),
    });

    // Least privilege, one line per (function, resource): exactly the actions each function's code calls, which the
    // local twin enforces (every SDK call judged under these policies, refused like AWS) and `npm run iam-report`
    // measures (grants the end-to-end suite never used; unused ones must be justified in cdk/nag.ts). A new call is a
    // one-line change here, and without it the twin answers AccessDeniedException, as AWS would.
    const onItems = (fn: NodejsFunction, table: Table, ...actions: string[]) =>
      fn.addToRolePolicy(new PolicyStatement({ actions, resources: [table.tableArn] }));
    const onIndexes = (fn: NodejsFunction, table: Table, ...actions: string[]) =>
      fn.addToRolePolicy(new PolicyStatement({ actions, resources: [`${table.tableArn}/index/*`] }));
    const readsPseudonymKey = (fn: NodejsFunction) =>
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.userPseudonymKey.secretArn],
        }),
      );

    // Snapshots: the decisions function reads them (its replica's pointer and snapshot); the functions that change
    // what a model is built from (updater: statistics; admin: catalog, settings, rollback) publish them, under the
    // publish lease (an UpdateItem on the state table).
    const snapshotObjects = this.snapshotBucket.arnForObjects('*');
    const onSnapshots = (fn: NodejsFunction, ...actions: string[]) => {
      fn.addToRolePolicy(new PolicyStatement({ actions, resources: [snapshotObjects] }));
      // Without ListBucket, S3 answers a missing key (a decision point not yet published) with AccessDenied, not 404.
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.snapshotBucket.bucketArn] }),
      );
    };
    onSnapshots(this.decisionsFunction, 's3:GetObject');
    onSnapshots(this.updaterFunction, 's3:GetObject', 's3:PutObject');
    onSnapshots(this.adminFunction, 's3:GetObject', 's3:PutObject');
    onItems(this.updaterFunction, this.stateTable, 'dynamodb:UpdateItem');
    onItems(this.adminFunction, this.stateTable, 'dynamodb:UpdateItem');
    // The publisher reads the changed statistics through byUpdatedAt.
    onIndexes(this.updaterFunction, this.stateTable, 'dynamodb:Query');

    // Decisions: authenticate (key items), read the model (changed items through byUpdatedAt, only for a decision
    // point without a snapshot yet), a user's stage, and append each decision to the stream.
    onItems(this.decisionsFunction, this.stateTable, 'dynamodb:GetItem');
    onIndexes(this.decisionsFunction, this.stateTable, 'dynamodb:Query');
    onItems(this.decisionsFunction, this.decisionsTable, 'dynamodb:GetItem');
    this.eventStream.grant(this.decisionsFunction, 'kinesis:PutRecords');
    readsPseudonymKey(this.decisionsFunction);

    // Events: authenticate, check a named decision point's value policy (F9), then append. Its reads are the caller's
    // key item and decision points' items (their settings), so that is all it may read: the partition of API keys and
    // the decision points' partitions, by key, nothing listed or queried.
    this.eventsFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [this.stateTable.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [API_KEY_PARTITION, `${dpPk('')}*`] } },
      }),
    );
    this.eventStream.grant(this.eventsFunction, 'kinesis:PutRecords');
    readsPseudonymKey(this.eventsFunction);

    // Admin: the catalog, keys, evaluations, model summaries and erasures in the state table; the dead letters, listed
    // and replayed (replay puts records back on the stream and marks them replayed), and a user's deleted on erasure.
    // Of the decisions table, erasure only: a user's items found through the byUser index, deleted one by one (no
    // read, no write: the admin function can neither see nor forge what the updater joins).
    onItems(this.adminFunction, this.stateTable, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query');
    onIndexes(this.adminFunction, this.stateTable, 'dynamodb:Query');
    onItems(this.adminFunction, this.deadLetterTable, 'dynamodb:Scan', 'dynamodb:BatchWriteItem');
    this.adminFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.decisionsTable.tableArn}/index/${DECISIONS_BY_USER_INDEX}`],
      }),
    );
    onItems(this.adminFunction, this.decisionsTable, 'dynamodb:DeleteItem');
    readsPseudonymKey(this.adminFunction);
    this.eventStream.grant(this.adminFunction, 'kinesis:PutRecords');
    // Replaying a range the updater gave up on reads it back from the stream.
    this.eventStream.grant(this.adminFunction, 'kinesis:GetShardIterator', 'kinesis:GetRecords');
    // The audit trail: a pending entry before each change (PutItem, conditional), its outcome after (UpdateItem,
    // conditional), and the listing (Query).
    onItems(this.adminFunction, this.auditTable, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query');

    // Updater: statistics and decision-point settings; the decisions table's decisions, users and event claims; the
    // records it sets aside.
    onItems(this.updaterFunction, this.stateTable, 'dynamodb:GetItem', 'dynamodb:PutItem');
    onItems(
      this.updaterFunction,
      this.decisionsTable,
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    );
    // PutItem: a held event's entry is written only if none exists (DeadLetterStore.hold).
    onItems(this.updaterFunction, this.deadLetterTable, 'dynamodb:BatchWriteItem', 'dynamodb:PutItem');

    // Lambda sends only a pointer (shard, sequence-number range) here, not the records themselves: they have to be
    // re-read from the stream within its 7-day retention.
    this.updaterFailureQueue = new Queue(this, 'UpdaterFailureQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });

    // KinesisEventSource also grants the updater read access to the stream and send access to the failure queue.
    this.updaterFunction.addEventSource(
      new KinesisEventSource(this.eventStream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 1000,
        maxBatchingWindow: Duration.seconds(1),
        // A poison record must not block its shard: split the batch to isolate it, give up after finite retries or a
        // day, and leave a pointer in the failure queue. Records the updater rejects itself go to the dead-letter table.
        bisectBatchOnError: true,
        retryAttempts: 10,
        maxRecordAge: Duration.days(1),
        reportBatchItemFailures: true,
        // Must stay 1. The updater's exactly-once guarantee rests on per-shard high-water marks (the last applied
        // sequence number of each shard), which assume exactly one in-order consumer per shard. A factor above 1 runs
        // several batches of one shard at once, ordered only per partition key, so the shard's sequence numbers are
        // applied out of order and a high-water mark would skip or re-apply records. Scale by adding shards instead.
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.updaterFailureQueue),
      }),
    );

    // The log lake and the offline retraining state machine (see cdk/constructs/retraining.ts).
    this.retraining = new Retraining(this, 'Retraining', {
      stateTable: this.stateTable,
      snapshots: { bucket: this.snapshotBucket, replicas: props.snapshotReplicas },
      audit: { table: this.auditTable, retentionDays: props.auditRetentionDays },
      eventStream: this.eventStream,
      bundling,
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, 'package-lock.json'),
      scheduledDecisionPoints: props.retrainDecisionPoints ?? [],
      lakeRetention: days(props.lakeRetentionDays),
      artifactRetention: days(props.retrainArtifactRetentionDays),
      logRetention,
      ...(props.retrainSchedule !== undefined && { schedule: props.retrainSchedule }),
    });

    // Decision jobs: their objects live in the lake bucket (status, pinned model, outputs under decision-jobs/; the
    // decisions' lake objects under lake/kind=decision/, beside Firehose's). The job function decides (the decisions
    // function's reads, the updater's statistics writes); the updater reads a job's decisions back when feedback names
    // one; the admin function starts jobs and reads their status.
    const lake = this.retraining.lakeBucket;
    const inputBuckets = props.decisionJobInputBuckets ?? [];
    this.decisionJobFunction = createFunction('DecisionJobFunction', 'decision-jobs', {
      // One full vCPU: deciding a chunk is CPU-bound. Below the 5-minute limit of the map's express children.
      memorySize: 1769,
      timeout: Duration.minutes(4),
      environment: {
        ...pseudonymKey,
        JOBS_BUCKET: lake.bucketName,
        DECISION_JOB_INPUT_BUCKETS: inputBuckets.join(','),
      },
    });
    this.decisionJobs = new DecisionJobs(this, 'DecisionJobs', {
      jobFunction: this.decisionJobFunction,
      logRetention,
      maxConcurrency: props.decisionJobConcurrency,
    });
    const jobs = this.decisionJobFunction;
    // UpdateItem: its impressions' additions to the learning series (StateStore.addSeries).
    onItems(jobs, this.stateTable, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query');
    onIndexes(jobs, this.stateTable, 'dynamodb:Query');
    onItems(jobs, this.decisionsTable, 'dynamodb:GetItem');
    onSnapshots(jobs, 's3:GetObject');
    readsPseudonymKey(jobs);
    const lakeRead = (fn: NodejsFunction, ...prefixes: string[]) => {
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['s3:GetObject'], resources: prefixes.map((p) => lake.arnForObjects(p)) }),
      );
      // Without ListBucket, S3 answers a missing key with AccessDenied, not 404.
      fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [lake.bucketArn] }));
    };
    const inputObjects = inputBuckets.map((b) => `arn:${this.partition}:s3:::${b}/*`);
    lakeRead(jobs, '*');
    jobs.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [lake.arnForObjects('decision-jobs/*'), lake.arnForObjects('lake/kind=decision/*')],
      }),
    );
    if (inputBuckets.length > 0) {
      jobs.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: inputObjects }));
    }
    this.updaterFunction.addEnvironment('JOBS_BUCKET', lake.bucketName);
    lakeRead(this.updaterFunction, 'lake/kind=decision/*');
    this.adminFunction.addEnvironment('JOBS_BUCKET', lake.bucketName);
    this.adminFunction.addEnvironment('DECISION_JOB_INPUT_BUCKETS', inputBuckets.join(','));
    this.adminFunction.addEnvironment('DECISION_JOBS_STATE_MACHINE', this.decisionJobs.stateMachine.stateMachineArn);
    this.decisionJobs.stateMachine.grantStartExecution(this.adminFunction);
    // The job's status (written at creation, read on GET) and its input's existence and size (HeadObject).
    lakeRead(this.adminFunction, '*');
    this.adminFunction.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [lake.arnForObjects('decision-jobs/*')] }),
    );
    if (inputBuckets.length > 0) {
      this.adminFunction.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: inputObjects }));
    }

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // No API Gateway authorizer and no API Gateway usage-plan keys: the functions authenticate each request themselves
    // by hashing its `x-api-key` header and looking the hash up in the state table, so that keys are managed through
    // /v1/keys like any other engine data. Request bodies are likewise validated in the functions, against the same
    // schemas that generate the OpenAPI description, rather than by API Gateway models.
    this.api = new RestApi(this, 'Api', {
      restApiName: 'nba-engine',
      description: 'Next-best-action engine: decisions, feedback events and administration.',
      endpointTypes: [EndpointType.REGIONAL],
      // Stages can write access logs only once the account has a CloudWatch role for API Gateway. The role is an
      // account-wide setting that other APIs may come to rely on, so deleting this stack must not remove it.
      ...(props.manageApiGatewayCloudWatchRole
        ? { cloudWatchRole: true, cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN }
        : { cloudWatchRole: false }),
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: 1000,
        throttlingBurstLimit: 2000,
        tracingEnabled: true,
        metricsEnabled: true,
        // Execution logs of failed requests only: full request logging would copy bodies (user ids) into logs.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            extendedRequestId: AccessLogField.contextExtendedRequestId(),
            requestTime: AccessLogField.contextRequestTimeEpoch(),
            httpMethod: AccessLogField.contextHttpMethod(),
            resourcePath: AccessLogField.contextResourcePath(),
            status: AccessLogField.contextStatus(),
            responseLength: AccessLogField.contextResponseLength(),
            responseLatency: AccessLogField.contextResponseLatency(),
            integrationLatency: AccessLogField.contextIntegrationLatency(),
            integrationStatus: AccessLogField.contextIntegrationStatus(),
            errorMessage: AccessLogField.contextErrorMessageString(),
            xrayTraceId: AccessLogField.contextXrayTraceId(),
            tlsVersion: '$context.tlsVersion',
          }),
        ),
      },
    });

    // API Gateway only listens on HTTPS; by default a Regional REST API still accepts TLS 1.0. This enhanced policy
    // allows only TLS 1.2 and 1.3 with forward secrecy, and STRICT access mode (required with enhanced policies)
    // rejects requests whose SNI host does not match the API's own endpoint.
    const cfnApi = this.api.node.defaultChild as CfnRestApi;
    cfnApi.securityPolicy = 'SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09';
    cfnApi.endpointAccessMode = 'STRICT';

    // Abuse by one caller must not starve the others: a web ACL with per-address and per-key rate rules and the AWS
    // managed common rule set in front of the stage (cdk/constructs/api-protection.ts).
    this.apiProtection = new ApiProtection(this, 'ApiProtection', {
      stage: this.api.deploymentStage,
      perKeyLimit: props.wafRateLimitPerKey,
      perIpLimit: props.wafRateLimitPerIp,
    });

    const integrate = (fn: IFunction) => new LambdaIntegration(fn, { proxy: true, allowTestInvoke: false });
    const decisionsIntegration = integrate(this.decisionsFunction);
    const eventsIntegration = integrate(this.eventsFunction);
    const adminIntegration = integrate(this.adminFunction);

    const v1 = this.api.root.addResource('v1');
    v1.addResource('decisions').addMethod('POST', decisionsIntegration);
    v1.addResource('decisions:batch').addMethod('POST', decisionsIntegration);
    // Readiness for load balancers and newcomers: no API key (the function reads one item that does not exist).
    v1.addResource('health').addMethod('GET', decisionsIntegration);
    v1.addResource('events').addMethod('POST', eventsIntegration);
    for (const adminPath of ['decision-points', 'keys']) {
      const collection = v1.addResource(adminPath);
      collection.addMethod('ANY', adminIntegration);
      collection.addResource('{proxy+}').addMethod('ANY', adminIntegration);
    }
    // The web console (same origin as the API: its page calls `../v1/`); public files, the page asks for the key.
    const consoleIntegration = integrate(this.consoleFunction);
    const consoleRoot = this.api.root.addResource('console');
    consoleRoot.addMethod('GET', consoleIntegration);
    consoleRoot.addResource('{file}').addMethod('GET', consoleIntegration);
    // Erasure of a user's data (admin).
    v1.addResource('users').addResource('{userId}').addMethod('DELETE', adminIntegration);
    // Poison records the updater refused, with their reasons (read-only).
    const deadLetters = v1.addResource('dead-letters');
    deadLetters.addMethod('GET', adminIntegration);
    deadLetters.addResource('replay').addMethod('POST', adminIntegration);
    deadLetters.addResource('replay-range').addMethod('POST', adminIntegration);
    // Every change made through the admin API or by the retraining (read-only).
    v1.addResource('audit').addMethod('GET', adminIntegration);

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the deployed stage' });
    new CfnOutput(this, 'StateTableName', { value: this.stateTable.tableName });
    new CfnOutput(this, 'DecisionsTableName', { value: this.decisionsTable.tableName });
    new CfnOutput(this, 'DeadLetterTableName', { value: this.deadLetterTable.tableName });
    new CfnOutput(this, 'AuditTableName', { value: this.auditTable.tableName });
    new CfnOutput(this, 'StreamName', { value: this.eventStream.streamName });

    // Alarms (to an SNS topic) and a dashboard: see cdk/constructs/observability.ts.
    this.observability = new Observability(this, 'Observability', {
      api: this.api,
      apiFunctions: [this.decisionsFunction, this.eventsFunction, this.adminFunction],
      updaterFunction: this.updaterFunction,
      updaterLogGroup: this.updaterFunction.logGroup,
      updaterFailureQueue: this.updaterFailureQueue,
      tables: [this.stateTable, this.decisionsTable, this.deadLetterTable, this.auditTable],
      stream: this.eventStream,
      stateMachine: this.retraining.stateMachine,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });

    // Last: the cdk-nag findings this stack accepts, each with its reason (cdk/nag.ts).
    acknowledgeNagFindings(this);
  }
}
