/**
 * cdk-nag's AwsSolutions rules, and every finding the engine accepts, each with the reason, in one place.
 *
 * `addNagChecks(app)` makes synthesis fail on any finding that is not acknowledged here (cdk/app.ts and the CDK test
 * both call it). Acknowledgments are as narrow as the rule ids allow: per construct, per finding (`IAM5[...]` names
 * the wildcard), and the blanket ones are checked before they are granted: a function's `Resource::*` statements are
 * acknowledged only while they hold nothing but X-Ray (and, for the state machine, log-delivery) actions, which have
 * no resource-level permissions. A new wildcard anywhere else fails the synth.
 */
import { Aspects, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import { Policy, Role } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { NbaEngineStack } from './nba-engine-stack.ts';

export function addNagChecks(app: IConstruct): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

const ack = (scope: IConstruct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });

/** Actions that exist only without resource-level permissions (so `Resource: *` is the least privilege there is). */
const RESOURCELESS_ACTIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

/** Whether every `Resource: *` statement of the role's default policy holds only resource-less actions. */
function wildcardsAreResourceless(role: Role): boolean {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof Policy)) return true;
  const doc = Stack.of(role).resolve(policy.document) as {
    Statement?: { Action: string | string[]; Resource: unknown }[];
  };
  return (doc.Statement ?? []).every((s) => {
    const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
    if (!resources.includes('*')) return true;
    return (Array.isArray(s.Action) ? s.Action : [s.Action]).every((a) => RESOURCELESS_ACTIONS.has(a));
  });
}

/**
 * Acknowledges the findings the engine accepts by design. The work runs as an aspect, at synthesis, so it sees every
 * statement granted after the stack's constructor too: a wildcard added later is judged, not waved through.
 */
export function acknowledgeNagFindings(stack: NbaEngineStack): void {
  let done = false;
  const aspect: IAspect = {
    visit(node) {
      if (node !== stack || done) return;
      done = true;
      acknowledge(stack);
    },
  };
  Aspects.of(stack).add(aspect);
}

function acknowledge(stack: NbaEngineStack): void {
  const stateTableArn = `<${stack.getLogicalId(stack.stateTable.node.defaultChild as never)}.Arn>`;

  // Every function of the stack, the retraining ones included.
  for (const fn of stack.node.findAll().filter((c): c is LambdaFunction => c instanceof LambdaFunction)) {
    const role = fn.role;
    if (!(role instanceof Role)) continue;
    ack(
      role,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The AWS-managed basic execution policy grants logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents on every log group of the account (Resource *). These are write-only: the role can create a log group and append to any, but not read, change the retention of, or delete one. Lambda's runtime calls them to deliver the function's output; each function here logs to its own log group, created by the stack with a retention, so CreateLogGroup is never called in practice (it would only create an empty group). Kept because it is the policy AWS documents and maintains for this purpose; scoping it to the function's own log group would mean hand-building every role CDK creates.",
    );
    if (wildcardsAreResourceless(role)) {
      ack(
        role,
        'AwsSolutions-IAM5[Resource::*]',
        'Only X-Ray trace upload (active tracing) and CloudWatch log-delivery actions, which have no resource-level permissions, are granted on *.',
      );
    }
    ack(
      role,
      `AwsSolutions-IAM5[Resource::${stateTableArn}/index/*]`,
      "Reads query the state table's byUpdatedAt local secondary index; the grant covers this table's indexes only.",
    );
  }

  ack(
    stack.userPseudonymKey,
    'AwsSolutions-SMG4',
    'The secret is the HMAC key of user pseudonyms, not a credential: a new key gives every user a new pseudonym, which starts every history over and detaches recorded erasures from the lake. Changing it is a planned migration (README, Privacy and retention), never a schedule.',
  );
  ack(
    stack.updaterFailureQueue,
    'AwsSolutions-SQS3',
    "This queue is itself the dead-letter destination (the updater event source mapping's on-failure destination); a DLQ behind it would only move the same pointers.",
  );

  // The API: authentication and validation happen in the functions, by design.
  ack(
    stack.api,
    'AwsSolutions-APIG2',
    'Request bodies are validated in the functions with the zod schemas the OpenAPI description is generated from (every endpoint fuzz-tested); API Gateway models would duplicate them and drift.',
  );
  ack(
    stack.api,
    'AwsSolutions-APIG4',
    'Every request is authenticated in the function by an API key stored hashed in DynamoDB (constant-time comparison, scopes, decision-point restriction, revocation); an API Gateway authorizer would add a Lambda hop for the same check.',
  );
  ack(
    stack.api,
    'AwsSolutions-COG4',
    'Callers are machines holding engine API keys (see APIG4), not users of a Cognito user pool.',
  );
  ack(
    stack.api,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    "The account's API Gateway logging role uses the AWS-managed policy AWS documents for that role.",
  );

  const snapshots = stack.getLogicalId(stack.snapshotBucket.node.defaultChild as never);
  ack(
    stack.snapshotBucket,
    'AwsSolutions-S1',
    'The bucket holds model snapshots derived from the state table (no user data), written by the updater and admin functions and read by the decisions function; object-level audit is CloudTrail data events, enabled per account.',
  );
  for (const fn of [
    stack.decisionsFunction,
    stack.updaterFunction,
    stack.adminFunction,
    stack.retraining.stepsFunction,
    stack.decisionJobFunction,
  ]) {
    ack(
      fn.role!,
      `AwsSolutions-IAM5[Resource::<${snapshots}.Arn>/*]`,
      "Snapshot keys are r{replica}/{decisionPoint}/…: one per decision point, created at run time, so the grant covers the snapshot bucket's objects (GetObject for decisions, GetObject and PutObject for the publishers: updater, admin, and the retraining's promote step).",
    );
  }

  acknowledgeRetrainingFindings(stack);
  acknowledgeDecisionJobFindings(stack);
}

/** The decision jobs' findings (cdk/constructs/decision-jobs.ts; grants in nba-engine-stack.ts). */
function acknowledgeDecisionJobFindings(stack: NbaEngineStack): void {
  const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as never);
  const lake = id(stack.retraining.lakeBucket);
  const jobs = stack.decisionJobs.stateMachine;
  const inputs =
    "A job's input may be any object of the lake bucket the caller names (GetObject, and HeadObject for its size); keys are chosen by the caller at run time.";
  for (const fn of [stack.decisionJobFunction, stack.adminFunction]) {
    ack(fn.role!, `AwsSolutions-IAM5[Resource::<${lake}.Arn>/*]`, inputs);
    ack(
      fn.role!,
      `AwsSolutions-IAM5[Resource::<${lake}.Arn>/decision-jobs/*]`,
      "A job's objects (status, pinned model, output and error parts) are under decision-jobs/{decisionPoint}/{jobId}/, created at run time.",
    );
  }
  const lakeObjects =
    "A job's decisions are one lake object per chunk under lake/kind=decision/dt=…/hour=…/job-{jobId}-{chunk}.jsonl.gz (named at run time): the job function writes them, the updater reads one when feedback names a job decision.";
  ack(stack.decisionJobFunction.role!, `AwsSolutions-IAM5[Resource::<${lake}.Arn>/lake/kind=decision/*]`, lakeObjects);
  ack(stack.updaterFunction.role!, `AwsSolutions-IAM5[Resource::<${lake}.Arn>/lake/kind=decision/*]`, lakeObjects);
  ack(
    jobs,
    'AwsSolutions-SF1',
    'The state machine logs ERROR without execution data: execution data carries the job, not user data, but chunk results are not worth a log line each.',
  );
  ack(
    jobs,
    `AwsSolutions-IAM5[Resource::<${id(stack.decisionJobFunction)}.Arn>:*]`,
    "The state machine's Lambda tasks invoke the decision jobs function by version or alias (the `:*` suffix), nothing else.",
  );
  const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${id(jobs)}"}]}]}`;
  const childExecutions =
    'The Distributed Map manages its own child executions (one per chunk), whose ARNs exist only at run time.';
  ack(jobs, `AwsSolutions-IAM5[Resource::${executions}:*]`, childExecutions);
  ack(jobs, `AwsSolutions-IAM5[Resource::${executions}/Chunks:*]`, childExecutions);
  const smRole = jobs.role;
  if (smRole instanceof Role && wildcardsAreResourceless(smRole)) {
    ack(
      smRole,
      'AwsSolutions-IAM5[Resource::*]',
      'Only CloudWatch log-delivery and X-Ray actions, which have no resource-level permissions, are granted on *.',
    );
  }
}

/**
 * The retraining construct's findings (cdk/constructs/retraining.ts), assessed against what it does: CDK bucket grants
 * scoped to the lake bucket, Lambda task invocations by version, the Distributed Map's own child executions.
 */
function acknowledgeRetrainingFindings(stack: NbaEngineStack): void {
  const r = stack.retraining;
  const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as never);
  const bucket = id(r.lakeBucket);
  ack(
    r.lakeBucket,
    'AwsSolutions-S1',
    'Only the engine roles (Firehose, the retraining functions) access the lake; object-level audit is CloudTrail data events, enabled per account. A log bucket per deployment is left to the operator.',
  );
  ack(
    r.deliveryStream,
    'AwsSolutions-KDF1',
    'The delivery stream reads from the KMS-encrypted Kinesis stream: Firehose keeps no data at rest for a Kinesis source (its SSE applies to Direct PUT only), and the lake bucket is encrypted.',
  );
  ack(
    r.stateMachine,
    'AwsSolutions-SF1',
    'The state machine logs ERROR without execution data: execution data carries decision records with user ids, which must not reach logs.',
  );
  const s3Grant =
    'CDK bucket grant (read/write objects, list, abort multipart uploads) scoped to the lake bucket and its prefixes.';
  for (const scope of [r.deliveryStream, r.stepsFunction, r.workerFunction]) {
    for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
      ack(scope, `AwsSolutions-IAM5[Action::${action}]`, s3Grant);
    }
    for (const prefix of ['*', 'lake/*', 'retrain/*'])
      ack(scope, `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/${prefix}]`, s3Grant);
  }
  ack(r.stateMachine, `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<${bucket}>/*]`, s3Grant);
  for (const fn of [r.stepsFunction, r.workerFunction]) {
    ack(
      r.stateMachine,
      `AwsSolutions-IAM5[Resource::<${id(fn)}.Arn>:*]`,
      "The state machine's Lambda tasks invoke the retraining functions by version or alias (the `:*` suffix), nothing else.",
    );
  }
  const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${id(r.stateMachine)}"}]}]}`;
  const childExecutions =
    'The Distributed Maps (split partitions, join buckets) manage their own child executions of this state machine, whose ARNs exist only at run time.';
  ack(r.stateMachine, `AwsSolutions-IAM5[Resource::${executions}:*]`, childExecutions);
  ack(r.stateMachine, `AwsSolutions-IAM5[Resource::${executions}/Partitions:*]`, childExecutions);
  ack(r.stateMachine, `AwsSolutions-IAM5[Resource::${executions}/Buckets:*]`, childExecutions);
  const smRole = r.stateMachine.role;
  if (smRole instanceof Role && wildcardsAreResourceless(smRole)) {
    ack(
      smRole,
      'AwsSolutions-IAM5[Resource::*]',
      'Only CloudWatch log-delivery and X-Ray actions, which have no resource-level permissions, are granted on *.',
    );
  }
}

/**
 * Grants the end-to-end run never uses (see `npm run iam-report`), each kept for a reason; any other unused grant
 * is a finding of the report, to be removed from the stack or justified here.
 */
export const UNUSED_GRANTS: readonly { function: RegExp; action: RegExp; resource?: RegExp; reason: string }[] = [
  {
    function: /./,
    action: /^xray:/,
    reason: 'active tracing uploads segments from the Lambda runtime; the twin does not trace',
  },
  {
    function: /^UpdaterFunction$/,
    action: /^kinesis:(DescribeStream|DescribeStreamSummary|ListStreams|SubscribeToShard|DescribeStreamConsumer)$/,
    reason:
      "KinesisEventSource's read grant: Lambda's mapping describes the stream, and uses SubscribeToShard with enhanced fan-out; the twin's mapping only lists shards and reads",
  },
  {
    function: /^UpdaterFunction$/,
    action: /^s3:ListBucket$/,
    resource: /SnapshotBucket/,
    reason:
      "needed only when the updater publishes a decision point's first snapshot (S3 answers a missing pointer with AccessDenied without it): one created before snapshots existed; in the tests the admin function publishes first",
  },
  {
    function: /^DecisionJobFunction$/,
    action: /^dynamodb:Query$/,
    resource: /StateTable/,
    reason:
      "the pinned model of a decision point that has no snapshot yet is built from the state table (ModelCache's query, as the decisions function's); in the tests the admin function has published a snapshot before any job starts",
  },
  {
    function: /^DecisionJobFunction$/,
    action: /^s3:ListBucket$/,
    resource: /SnapshotBucket/,
    reason:
      "a decision point without a snapshot yet: S3 answers its missing pointer with AccessDenied without it (then the state table serves); in the tests every job's decision point has one",
  },
  {
    function: /^DecisionJobFunction$/,
    action: /^dynamodb:GetItem$/,
    resource: /DecisionsTable/,
    reason:
      "a user's lifecycle stage, read per line for decision points with stage ladders or stage rules (as the decisions function reads it); the jobs of the tests decide for decision points without stages",
  },
  {
    function: /^UpdaterFunction$/,
    action: /^sqs:/,
    reason: 'the on-failure destination, written only for a batch given up after its retries (none in a passing run)',
  },
  {
    function: /^UpdaterFunction$/,
    action: /^dynamodb:GetItem$/,
    resource: /DecisionsTable/,
    reason:
      'the read after a conditional write lost: the decision or event claim was already written by a redelivered batch or a racing updater (covered in the emu tier)',
  },
  {
    function: /^UpdaterFunction$/,
    action: /^dynamodb:UpdateItem$/,
    resource: /DecisionsTable/,
    reason:
      "an objective's claim on a decision (decision points with objectives; covered in the emu tier by the feedback property and apply-batch tests)",
  },
  {
    function: /^Retraining\//,
    action: /./,
    reason:
      "retraining: the twin's lake is a folder (no S3 calls), and the http tier fires the schedule on an empty lake (the run stops after the plan); full runs are tested in the emu tier (state-machine.emu.test.ts). The steps' DynamoDB grant is still CDK's grantReadWriteData, to be cut to its calls like the engine functions'",
  },
];
