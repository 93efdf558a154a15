/**
 * The whole engine on this machine, built from the synthesised CDK template (the local twin): emulators with the
 * template's tables and streams, each function started from its source with the template's environment, memory and
 * timeout and clients that enforce its role, API Gateway's routes, and the Kinesis event source mappings with their
 * settings and on-failure destinations. Used by `npm start`, the end-to-end tests and the benchmarks; several can run
 * in one process.
 *
 * Nothing about the infrastructure is stated here: a route, table, function or variable added to the stack appears
 * in the twin as it is. What the twin adds is local plumbing: an admin API key seeded for the caller, the lake writer
 * standing in for Firehose, and the IAM ledger that records every call each function makes (`iam`). A call its role
 * does not allow is refused with AWS's AccessDeniedException, and `stop()` fails while any such refusal is unread, so
 * a test that provokes one fails even when the API hid it behind a 5xx.
 */

import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { buildConsole } from '../console/build.ts';
import { DynamoAuditLog } from '../shared/adapters/dynamodb/audit-log.ts';
import { DynamoDeadLetterStore } from '../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../shared/adapters/dynamodb/decision-store.ts';
import { DynamoErasureLog } from '../shared/adapters/dynamodb/erasure-log.ts';
import { DynamoPublishLease } from '../shared/adapters/dynamodb/publish-lease.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import { MemorySecretSource } from '../shared/adapters/memory/secret-source.ts';
import { S3BlobStore } from '../shared/adapters/s3/blob-store.ts';
import { S3SnapshotStore } from '../shared/adapters/s3/snapshot-store.ts';
import { FileSecretSource } from '../shared/adapters/secrets/file-secret-source.ts';
import { AuditTrail } from '../shared/app/audit/audit-trail.ts';
import { hashApiKey } from '../shared/app/auth.ts';
import { SnapshotPublisher } from '../shared/app/decide/snapshot-publisher.ts';
import { isJobId, jobTime } from '../shared/app/decision-jobs/job.ts';
import { lakePartition } from '../shared/app/retrain/lake.ts';
import type { RunInput } from '../shared/app/retrain/run-context.ts';
import type { SecretSource } from '../shared/core/ports.ts';
import { type Emulators, startEmulators } from './emulators.ts';
import { LakeWriter } from './lake-writer.ts';
import { LOCAL_ENDPOINTS_FILE, type LocalRetrainResult, retrainFromTemplate, runLocalRetrain } from './retrain.ts';
import {
  capMapConcurrency,
  executeDefinition,
  invokeLike,
  type Json,
  type LocalExecution,
  taskTargets,
} from './state-machines.ts';
import { type ApiRoute, startApiGateway } from './twin/api-gateway.ts';
import { defaultSynthesis, type SynthOptions, synthesize } from './twin/assembly.ts';
import { KinesisPoller, mappingOptions, type PollerOptions } from './twin/event-source-mapping.ts';
import { type Endpoints, principalOf, startFunction, type TwinFunction, twinClients } from './twin/functions.ts';
import { type IamCall, IamLedger } from './twin/iam-enforcement.ts';
import { evaluate } from './twin/iam-policy.ts';
import { writeUsage } from './twin/iam-usage.ts';
import { createResources, createSecrets } from './twin/resources.ts';
import { TwinScheduler } from './twin/schedules.ts';
import { LAKE_BUCKET, physicalName, type TableSpec, type TwinPlan } from './twin/template.ts';

export interface LocalStackOptions extends SynthOptions {
  /** HTTP port; 0 picks a free one. */
  port?: number;
  /** Persist emulator data here; in memory when absent. */
  dataDir?: string;
  /** The admin API key to accept (stored hashed). */
  apiKey: string;
  /** Local plumbing of the event source mappings (checkpoints, progress); their settings come from the template. */
  poller?: Pick<PollerOptions, 'checkpoints' | 'onCheckpoint' | 'onBatch' | 'onFailure' | 'pollIntervalMs'>;
  /**
   * Folder of the log lake (`<lakeDir>/lake/…`), written by a second stream consumer as Firehose does in AWS.
   * Default: `dataDir` when set; without either, no lake is written.
   */
  lakeDir?: string;
  /**
   * Whether the IAM ledger goes to `npm run iam-report` (when it collects); default true. Off only for a test that
   * provokes an unacknowledged denial on purpose, which the report would otherwise list as unexpected.
   */
  reportIamUsage?: boolean;
  /** Told of each call a function's role refuses, when it happens (`npm start` prints them). */
  onDenied?: (call: IamCall) => void;
  /** Seeds the decisions' sampler (off by default): the same requests then get the same decisions, run after run. */
  samplerSeed?: number;
}

/** A message the event source mapping left in its on-failure destination (what Lambda sends to SQS). */
export interface FailureRecord {
  destinationArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  attempts: number;
  error: string;
}

export interface LocalStack {
  url: string;
  apiKey: string;
  plan: TwinPlan;
  emulators: Emulators;
  /** The running functions, by construct name (`DecisionsFunction`, …). */
  functions: Map<string, TwinFunction>;
  /** Administrative access to the tables, by construct name of the table (`StateTable`, …); not subject to IAM. */
  stores: { state: DynamoStateStore; decisions: DynamoDecisionStore; deadLetters: DynamoDeadLetterStore };
  /**
   * The template's secrets, as the functions read them (not subject to IAM): generated once in `<dataDir>/secrets/`
   * (readable by the owner only), or in memory, a stack's own, without a data folder.
   */
  secrets: SecretSource;
  /** Batches the local event source mappings delivered, by outcome. */
  counters: { batches: number; records: number; partialFailures: number; abandoned: number };
  /** Messages in the on-failure destinations. */
  failures: FailureRecord[];
  /** Every call every function made, judged under its role. */
  iam: IamLedger;
  /** The lake writer and the folder it writes, when the stack writes a lake. */
  lake: { dir: string; writer: LakeWriter } | undefined;
  /** The template's schedules (`fire` starts a rule's targets now) and the runs they started. */
  schedules: TwinScheduler;
  scheduledRuns: ScheduledRun[];
  /**
   * Runs the template's retraining state machine now, as its schedule would (the steps' DynamoDB calls under their
   * role, the lake folder), on any input: a test's `asOf`, say.
   */
  /** `startTime`: when the run executes (default now), for a test that runs the retraining of a later day. */
  retrain(input: RunInput, options?: { executionName?: string; startTime?: Date }): Promise<LocalRetrainResult>;
  /**
   * Executions started through Step Functions' StartExecution (a decision job): the template's definition run in
   * process, each Task calling the twin function it names. `done` settles when the execution ends.
   */
  executions: { stateMachineArn: string; name: string; done: Promise<LocalExecution> }[];
  /** Stops everything; throws if any call was denied (unless `acknowledgeDenied` took them). */
  stop(): Promise<void>;
  /** Returns and forgets the denied calls, for a test that provokes a denial on purpose. */
  acknowledgeDenied(): IamCall[];
}

/** A run a schedule started. */
export interface ScheduledRun {
  target: string;
  input: string | undefined;
  status: 'SUCCEEDED' | 'FAILED';
  error: string | undefined;
  states: string[];
}

/** The id of the admin key local mode seeds. */
export const LOCAL_ADMIN_KEY_ID = 'local-admin';

/**
 * Seeds the admin key of local mode (stored hashed, like any key) and revokes every earlier one: a data folder that
 * ran with another key (an older `local-dev-key`, a rotated NBA_API_KEY) must not keep accepting it. Its request
 * limit is the stage's (1,000/s): it is the one key the tests and benchmarks drive the whole twin with. A revocation,
 * and a key this folder did not accept before, are key changes like any other: in the audit trail, made by
 * `local-start` (shared/core/audit.ts, A1).
 */
async function seedAdminKey(state: DynamoStateStore, audit: AuditTrail, apiKey: string): Promise<void> {
  const hash = hashApiKey(apiKey);
  const now = Date.now();
  const change = (action: 'key.create' | 'key.revoke', status: number) =>
    audit.record(
      {
        id: `local-start.${randomUUID()}`,
        system: 'local-start',
        action,
        route: 'npm start',
        target: LOCAL_ADMIN_KEY_ID,
      },
      { status },
    );
  let known = false;
  for (const k of await state.listApiKeys()) {
    if (k.keyId !== LOCAL_ADMIN_KEY_ID || k.revokedAt !== undefined) continue;
    if (k.hash === hash) known = true;
    else {
      await state.putApiKey({ ...k, revokedAt: now });
      await change('key.revoke', 200);
    }
  }
  await state.putApiKey({
    keyId: LOCAL_ADMIN_KEY_ID,
    hash,
    name: 'local admin key (NBA_API_KEY or the data folder)',
    scopes: ['admin', 'decide', 'feedback'],
    createdAt: now,
    rateLimit: { ratePerSecond: 1000, burst: 2000 },
  });
  if (!known) await change('key.create', 201);
}

export class DeniedCallsError extends Error {
  override readonly name = 'AccessDenied';
}

/** The console's files, built once per process before the first stack serves them (console/build.ts). */
let consoleBuild: Promise<unknown> | undefined;

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  consoleBuild ??= buildConsole();
  await consoleBuild;
  const { template, plan } = opts.context || opts.customize ? synthesize(opts) : defaultSynthesis();
  const table = (name: string) => physicalName(plan, name);
  const emulators = await startEmulators(opts.dataDir ? { dataDir: opts.dataDir } : {});
  await createResources(plan, emulators);
  const secrets = opts.dataDir ? new FileSecretSource(join(opts.dataDir, 'secrets')) : new MemorySecretSource();
  createSecrets(plan, secrets);
  const stores = {
    state: new DynamoStateStore(emulators.dynamo, table('StateTable')),
    decisions: new DynamoDecisionStore(emulators.dynamo, table('DecisionsTable')),
    deadLetters: new DynamoDeadLetterStore(emulators.dynamo, table('DeadLetterTable')),
  };
  await seedAdminKey(
    stores.state,
    new AuditTrail(new DynamoAuditLog(emulators.dynamo, table('AuditTable'))),
    opts.apiKey,
  );

  const iam = new IamLedger(opts.onDenied);
  const tables = new Map<string, TableSpec>(plan.tables.map((t) => [t.name, t]));
  const endpoints: Endpoints = {
    dynamoEndpoint: emulators.dynamoEndpoint,
    kinesisEndpoint: emulators.kinesisEndpoint,
    s3Endpoint: emulators.s3Endpoint,
    secrets,
  };
  // State machines a function may start (its environment names them); the retraining's runs locally through
  // `retrain` instead (its steps in process on the lake folder).
  const startable = plan.stateMachines.filter((m) =>
    plan.functions.some((f) => Object.values(f.environment).includes(m.arn)),
  );
  const functionByArn = new Map(plan.functions.map((f) => [f.arn, f]));
  const taskFunctionIds = startable.flatMap((m) =>
    [...taskTargets(m.definition as { States: unknown }).values()].map((arn) => {
      const fn = functionByArn.get(arn);
      if (!fn) throw new Error(`state machine ${m.logicalId} invokes ${arn}, which is no function of the template`);
      return fn.logicalId;
    }),
  );
  const executions: LocalStack['executions'] = [];
  const byLogicalId = new Map<string, TwinFunction>();
  endpoints.executions = {
    start: async (stateMachineArn, name, input) => {
      const machine = startable.find((m) => m.arn === stateMachineArn);
      if (!machine) throw new Error(`no state machine ${stateMachineArn} may be started in this stack`);
      // Step Functions: a name already used starts nothing.
      if (executions.some((e) => e.stateMachineArn === stateMachineArn && e.name === name)) return;
      const handlers: Record<string, (input: Json) => Promise<Json>> = {};
      for (const [state, arn] of taskTargets(machine.definition as { States: unknown })) {
        const fn = byLogicalId.get(functionByArn.get(arn)!.logicalId)!;
        handlers[state] = invokeLike((payload) => fn.invoke(payload, undefined as never));
      }
      // One process stands for every Lambda the map would run: as many chunks at once as this machine has cores.
      const definition = capMapConcurrency(machine.definition as { States: unknown }, availableParallelism());
      const done = executeDefinition(definition as unknown as StateMachineDefinition, input, {
        handlers,
        executionId: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
        name,
        startTime: new Date(),
      }).then(async (result) => {
        await mirrorJobLake(name);
        return result;
      });
      // Nothing may await it (npm start): a failure is logged, never an unhandled rejection.
      done.catch((error) => console.error(`execution ${name} of ${machine.logicalId} failed: ${String(error)}`));
      executions.push({ stateMachineArn, name, done });
    },
  };
  // The functions something invokes locally: API integrations, event source mappings and state machine tasks.
  const invoked = new Set([
    ...plan.routes.map((r) => r.functionLogicalId),
    ...plan.eventSourceMappings.map((m) => m.functionLogicalId),
    ...taskFunctionIds,
  ]);
  for (const spec of plan.functions.filter((f) => invoked.has(f.logicalId))) {
    byLogicalId.set(
      spec.logicalId,
      await startFunction(spec, endpoints, iam, tables, { samplerSeed: opts.samplerSeed }),
    );
  }
  const functions = new Map([...byLogicalId.values()].map((f) => [f.spec.name, f]));

  const routes: ApiRoute[] = plan.routes.map((r) => ({
    method: r.method,
    resource: r.resource,
    handler: byLogicalId.get(r.functionLogicalId)!.invoke,
  }));
  const { server, url } = await startApiGateway(routes, opts.port ?? 0);

  const counters = { batches: 0, records: 0, partialFailures: 0, abandoned: 0 };
  const failures: FailureRecord[] = [];
  const pollers: KinesisPoller[] = [];
  const destroyers: (() => void)[] = [];
  for (const mapping of plan.eventSourceMappings) {
    const fn = byLogicalId.get(mapping.functionLogicalId)!;
    const stream = plan.streams.find((s) => s.logicalId === mapping.streamLogicalId)!;
    // The mapping reads the stream, and sends failures, with the function's execution role, as Lambda does.
    const esm = principalOf(fn.spec, ' (event source mapping)');
    const clients = twinClients(endpoints, esm, iam, tables);
    destroyers.push(() => clients.destroy());
    const destination = mapping.onFailureDestinationArn;
    const poller = new KinesisPoller(
      clients.kinesis,
      stream.name,
      (event: KinesisStreamEvent) => fn.invoke(event, undefined as never),
      {
        pollIntervalMs: 50,
        ...mappingOptions(mapping),
        ...opts.poller,
        onBatch: (info) => {
          counters.batches++;
          counters.records += info.records;
          if (info.failedFrom !== undefined) counters.partialFailures++;
          opts.poller?.onBatch?.(info);
        },
        onFailure: async (info) => {
          counters.abandoned++;
          if (destination) {
            const request = { action: 'sqs:SendMessage', resource: destination, context: {} };
            const decision = evaluate(esm.policies, request);
            iam.record({ ...request, principal: esm.name, decision });
            if (decision === 'Allowed') {
              failures.push({
                destinationArn: destination,
                shardId: info.shardId,
                startSequenceNumber: info.firstSequenceNumber,
                endSequenceNumber: info.lastSequenceNumber,
                attempts: info.attempts,
                error: info.error,
              });
            }
          }
          await opts.poller?.onFailure?.(info);
        },
      },
    );
    await poller.start();
    pollers.push(poller);
  }

  const lakeDir = opts.lakeDir ?? opts.dataDir;
  let lake: LocalStack['lake'];
  const delivery = plan.deliveryStreams[0];
  if (lakeDir && delivery) {
    const source = plan.streams.find((s) => s.logicalId === delivery.sourceStreamLogicalId)!;
    // Its own checkpoints, only meaningful when the stream persists too (same data dir).
    const writer = new LakeWriter(emulators.kinesis, source.name, new FsBlobStore(lakeDir), {
      ...(opts.dataDir ? { checkpointFile: join(opts.dataDir, 'lake-checkpoints.json') } : {}),
    });
    await writer.start();
    lake = { dir: lakeDir, writer };
  }
  // In AWS a decision job writes its decisions' lake objects into the lake bucket, beside Firehose's; locally the lake
  // is a folder (the local Firehose writes it), so a finished job's lake objects are copied there, for retraining.
  async function mirrorJobLake(jobId: string): Promise<void> {
    if (!lake || !isJobId(jobId)) return;
    const source = new S3BlobStore(emulators.s3, physicalName(plan, LAKE_BUCKET));
    const target = new FsBlobStore(lake.dir);
    for (const entry of await source.list(`${lakePartition('decision', jobTime(jobId))}job-${jobId}-`)) {
      const bytes = await source.get(entry.key);
      if (bytes) await target.put(entry.key, bytes);
    }
  }
  const runs: ScheduledRun[] = [];
  const retrainSynth = retrainFromTemplate(template, plan);
  const retrain: LocalStack['retrain'] = async (input, options = {}) => {
    if (!lake) throw new Error('retraining needs the lake: start the stack with a lakeDir or dataDir');
    // The steps run with the steps function's environment and DynamoDB under its role; the lake is the folder.
    const steps = plan.functions.find((f) => f.name === 'Retraining/RetrainStepsFunction')!;
    const clients = twinClients(endpoints, principalOf(steps), iam, tables);
    try {
      const state = new DynamoStateStore(clients.dynamo, steps.environment.STATE_TABLE!);
      const erasures = new DynamoErasureLog(clients.dynamo, steps.environment.STATE_TABLE!);
      const auditTable = steps.environment.AUDIT_TABLE;
      const audit = auditTable ? new AuditTrail(new DynamoAuditLog(clients.dynamo, auditTable)) : undefined;
      const bucket = steps.environment.SNAPSHOT_BUCKET;
      const publisher =
        bucket === undefined
          ? undefined
          : new SnapshotPublisher(
              state,
              new DynamoPublishLease(clients.dynamo, steps.environment.STATE_TABLE!),
              new S3SnapshotStore(clients.s3, bucket, Number(steps.environment.SNAPSHOT_REPLICAS ?? 1)),
              { minIntervalMs: 0 },
            );
      const modelChanged = async (dp: string) => {
        await publisher?.publishAndWait(dp);
      };
      return await runLocalRetrain(
        input,
        { blobs: new FsBlobStore(lake.dir), state, erasures, audit, modelChanged },
        { ...options, synth: retrainSynth },
      );
    } finally {
      clients.destroy();
    }
  };
  const schedules = new TwinScheduler(
    plan.schedules,
    async (arn, input) => {
      const machine = plan.stateMachines.find((m) => m.arn === arn);
      if (!machine) throw new Error(`schedule target ${arn} is not a state machine of the stack`);
      const result = await retrain(JSON.parse(input ?? '{}') as RunInput);
      runs.push({ target: arn, input, status: result.status, error: result.error, states: result.states });
    },
    (logicalId, error) =>
      runs.push({ target: logicalId, input: undefined, status: 'FAILED', error: String(error), states: [] }),
  );
  schedules.begin();

  const endpointsFile = opts.dataDir ? join(opts.dataDir, LOCAL_ENDPOINTS_FILE) : undefined;
  if (endpointsFile) {
    writeFileSync(
      endpointsFile,
      JSON.stringify({
        dynamoEndpoint: emulators.dynamoEndpoint,
        stateTable: table('StateTable'),
        auditTable: table('AuditTable'),
        pid: process.pid,
        url,
        s3Endpoint: emulators.s3Endpoint,
        jobsBucket: physicalName(plan, LAKE_BUCKET),
      }),
    );
  }

  let acknowledged = 0;
  return {
    url,
    apiKey: opts.apiKey,
    plan,
    emulators,
    functions,
    stores,
    secrets,
    counters,
    failures,
    iam,
    lake,
    schedules,
    scheduledRuns: runs,
    retrain,
    executions,
    acknowledgeDenied() {
      const fresh = iam.denied.slice(acknowledged);
      acknowledged = iam.denied.length;
      return fresh;
    },
    async stop() {
      schedules.stop();
      if (endpointsFile) rmSync(endpointsFile, { force: true });
      await lake?.writer.stop();
      for (const p of pollers) await p.stop();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      for (const f of byLogicalId.values()) f.destroy();
      for (const d of destroyers) d();
      await emulators.close();
      const denied = iam.denied.slice(acknowledged);
      if (opts.reportIamUsage !== false) writeUsage(plan, iam, denied);
      if (denied.length > 0) {
        throw new DeniedCallsError(
          `${denied.length} AWS call(s) denied by the functions' roles:\n${[
            ...new Set(denied.map((d) => `  ${d.principal}: ${d.action} on ${d.resource} (${d.decision})`)),
          ].join('\n')}`,
        );
      }
    },
  };
}
