/**
 * The decision jobs' state machine (shared/app/decision-jobs/; docs/ARCHITECTURE.md §9):
 *
 *   PlanJob → DecideChunks (Distributed Map over the plan's chunks, one express child per chunk) → FinishJob
 *   any failure of PlanJob or DecideChunks → FailJob (the job's status says why) → JobFailed
 *
 * The chunks travel inline (`ItemsPath`): a plan lists at most 2,000 (shared/app/decision-jobs/job.ts), well within a
 * state's 256 KB, and the same definition then runs locally. A chunk is retried on any error (its work is idempotent:
 * decide-chunk.ts, rule 2); an input with no line (`JobInputError`) is not. Scale is the map's concurrency: each
 * child decides its chunk with one pinned model, so chunks run in parallel up to `maxConcurrency` workers.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  DistributedMap,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

const DECISION_JOB_STATES = {
  plan: 'PlanJob',
  map: 'DecideChunks',
  chunk: 'DecideChunk',
  finish: 'FinishJob',
  fail: 'FailJob',
  failed: 'JobFailed',
} as const;

const DEFAULT_JOB_CONCURRENCY = 50;

export interface DecisionJobsProps {
  /** The function that runs every step (functions/decision-jobs/handler.ts). */
  jobFunction: NodejsFunction;
  logRetention: RetentionDays;
  maxConcurrency?: number;
}

export class DecisionJobs extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: DecisionJobsProps) {
    super(scope, id);
    const S = DECISION_JOB_STATES;
    const fn = props.jobFunction;
    const retried = <T extends LambdaInvoke>(task: T): T => {
      // An input with nothing to decide stays a failure; anything else is worth another try.
      task.addRetry({ errors: ['JobInputError'], maxAttempts: 0 });
      task.addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(2),
        maxAttempts: 3,
        backoffRate: 2,
        jitterStrategy: JitterType.FULL,
      });
      return task;
    };
    const plan = retried(
      new LambdaInvoke(this, S.plan, {
        stateName: S.plan,
        lambdaFunction: fn,
        payload: TaskInput.fromObject({ step: 'plan', job: JsonPath.objectAt('$') }),
        outputPath: '$.Payload',
      }),
    );
    const chunk = retried(
      new LambdaInvoke(this, S.chunk, {
        stateName: S.chunk,
        lambdaFunction: fn,
        payload: TaskInput.fromObject({
          step: 'chunk',
          job: JsonPath.objectAt('$.job'),
          chunk: JsonPath.objectAt('$.chunk'),
        }),
        resultSelector: {
          'chunk.$': '$.Payload.chunk',
          'decided.$': '$.Payload.decided',
          'rejected.$': '$.Payload.rejected',
        },
      }),
    );
    const map = new DistributedMap(this, S.map, {
      stateName: S.map,
      itemsPath: JsonPath.stringAt('$.chunks'),
      itemSelector: { job: JsonPath.objectAt('$.job'), chunk: JsonPath.objectAt('$$.Map.Item.Value') },
      maxConcurrency: props.maxConcurrency ?? DEFAULT_JOB_CONCURRENCY,
      mapExecutionType: StateMachineType.EXPRESS,
      resultPath: '$.results',
      label: 'Chunks',
    });
    map.itemProcessor(chunk);
    const finish = retried(
      new LambdaInvoke(this, S.finish, {
        stateName: S.finish,
        lambdaFunction: fn,
        payload: TaskInput.fromObject({
          step: 'finish',
          job: JsonPath.objectAt('$$.Execution.Input'),
          results: JsonPath.objectAt('$.results'),
        }),
        outputPath: '$.Payload',
      }),
    );
    const fail = retried(
      new LambdaInvoke(this, S.fail, {
        stateName: S.fail,
        lambdaFunction: fn,
        payload: TaskInput.fromObject({
          step: 'fail',
          job: JsonPath.objectAt('$$.Execution.Input'),
          error: JsonPath.objectAt('$.error'),
        }),
        outputPath: '$.Payload',
      }),
    );
    fail.next(
      new Fail(this, S.failed, { stateName: S.failed, error: 'DecisionJobFailed', cause: 'see the job status' }),
    );
    for (const s of [plan, map]) s.addCatch(fail, { errors: ['States.ALL'], resultPath: '$.error' });

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(plan.next(map).next(finish)),
      timeout: Duration.hours(6),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'StateMachineLogs', {
          retention: props.logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: LogLevel.ERROR,
        includeExecutionData: false,
      },
    });
  }
}
