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
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import { DynamoDeadLetterStore } from '../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../shared/adapters/dynamodb/decision-store.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import { hashApiKey } from '../shared/app/auth.ts';
import type { RunInput } from '../shared/app/retrain/run-context.ts';
import { type Emulators, startEmulators } from './emulators.ts';
import { LakeWriter } from './lake-writer.ts';
import { LOCAL_ENDPOINTS_FILE, retrainFromTemplate, runLocalRetrain } from './retrain.ts';
import { type ApiRoute, startApiGateway } from './twin/api-gateway.ts';
import { defaultSynthesis, type SynthOptions, synthesize } from './twin/assembly.ts';
import { KinesisPoller, mappingOptions, type PollerOptions } from './twin/event-source-mapping.ts';
import { principalOf, startFunction, type TwinFunction, twinClients } from './twin/functions.ts';
import { type IamCall, IamLedger } from './twin/iam-enforcement.ts';
import { evaluate } from './twin/iam-policy.ts';
import { writeUsage } from './twin/iam-usage.ts';
import { createResources } from './twin/resources.ts';
import { TwinScheduler } from './twin/schedules.ts';
import { physicalName, type TableSpec, type TwinPlan } from './twin/template.ts';

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

export class DeniedCallsError extends Error {
  override readonly name = 'AccessDenied';
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const { template, plan } = opts.context || opts.customize ? synthesize(opts) : defaultSynthesis();
  const table = (name: string) => physicalName(plan, name);
  const emulators = await startEmulators(opts.dataDir ? { dataDir: opts.dataDir } : {});
  await createResources(plan, emulators);
  const stores = {
    state: new DynamoStateStore(emulators.dynamo, table('StateTable')),
    decisions: new DynamoDecisionStore(emulators.dynamo, table('DecisionsTable')),
    deadLetters: new DynamoDeadLetterStore(emulators.dynamo, table('DeadLetterTable')),
  };
  await stores.state.putApiKey({
    keyId: 'local-admin',
    hash: hashApiKey(opts.apiKey),
    name: 'local admin key (NBA_API_KEY)',
    scopes: ['admin', 'decide', 'feedback'],
    createdAt: Date.now(),
  });

  const iam = new IamLedger(opts.onDenied);
  const tables = new Map<string, TableSpec>(plan.tables.map((t) => [t.name, t]));
  const endpoints = { dynamoEndpoint: emulators.dynamoEndpoint, kinesisEndpoint: emulators.kinesisEndpoint };
  // The functions something invokes locally: API integrations and event source mappings.
  const invoked = new Set([
    ...plan.routes.map((r) => r.functionLogicalId),
    ...plan.eventSourceMappings.map((m) => m.functionLogicalId),
  ]);
  const byLogicalId = new Map<string, TwinFunction>();
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
  const runs: ScheduledRun[] = [];
  const schedules = new TwinScheduler(
    plan.schedules,
    async (arn, input) => {
      const machine = plan.stateMachines.find((m) => m.arn === arn);
      if (!machine) throw new Error(`schedule target ${arn} is not a state machine of the stack`);
      if (!lake) throw new Error('scheduled retraining needs the lake: start the stack with a lakeDir or dataDir');
      // The steps run with the steps function's environment and DynamoDB under its role; the lake is the folder.
      const steps = plan.functions.find((f) => f.name === 'Retraining/RetrainStepsFunction')!;
      const clients = twinClients(endpoints, principalOf(steps), iam, tables);
      try {
        const state = new DynamoStateStore(clients.dynamo, steps.environment.STATE_TABLE!);
        const result = await runLocalRetrain(
          JSON.parse(input ?? '{}') as RunInput,
          { blobs: new FsBlobStore(lake.dir), state },
          { synth: retrainFromTemplate(template, plan) },
        );
        runs.push({ target: arn, input, status: result.status, error: result.error, states: result.states });
      } finally {
        clients.destroy();
      }
    },
    (logicalId, error) =>
      runs.push({ target: logicalId, input: undefined, status: 'FAILED', error: String(error), states: [] }),
  );
  schedules.begin();

  const endpointsFile = opts.dataDir ? join(opts.dataDir, LOCAL_ENDPOINTS_FILE) : undefined;
  if (endpointsFile) {
    writeFileSync(
      endpointsFile,
      JSON.stringify({ dynamoEndpoint: emulators.dynamoEndpoint, stateTable: table('StateTable'), pid: process.pid }),
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
    counters,
    failures,
    iam,
    lake,
    schedules,
    scheduledRuns: runs,
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
