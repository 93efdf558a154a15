/**
 * Runs the retraining state machine locally: the very definition CDK synthesises for AWS, executed in-process by
 * aws-local-stepfunctions, with each Task state mapped to the in-process step it invokes in AWS.
 *
 * 1. Synthesise the stack (bundling skipped) and take the state machine's `DefinitionString`.
 * 2. Resolve its intrinsic functions (`Fn::Join`, `Ref`, `Fn::GetAtt`) to local placeholder values: a Lambda's ARN
 *    becomes `arn:aws:lambda:local:000000000000:function:<logical id>`, which is how a Task is traced back to the
 *    function it calls.
 * 3. Localise what the emulator cannot run: the Distributed Map's `ItemReader` (the plan's S3 manifest) and
 *    `ResultWriter` are removed and the items are given inline through `ItemsPath: $.plan.localItems`, which the local
 *    plan step fills. `ToleratedFailurePercentage` is kept but not enforced by the emulator (a worker that fails
 *    after its retries fails the run locally). Everything else (states, retries, catches, choices, payloads,
 *    `ItemSelector`, `OutputPath`) runs as written.
 * 4. Map every Task state to a local handler by state name, by walking the definition (Map item processors
 *    included): the handler answers like the `lambda:invoke` integration, `{ Payload, StatusCode }`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { z } from 'zod';
import { parseStackConfig } from '../cdk/config.ts';
import { NbaEngineStack } from '../cdk/nba-engine-stack.ts';
import { createDynamoClient } from '../shared/adapters/aws-clients.ts';
import { DynamoAuditLog } from '../shared/adapters/dynamodb/audit-log.ts';
import { DynamoErasureLog } from '../shared/adapters/dynamodb/erasure-log.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { AuditTrail } from '../shared/app/audit/audit-trail.ts';
import type { OfflineModelConfig } from '../shared/app/retrain/objectives.ts';
import type { BlobStore } from '../shared/app/retrain/ports.ts';
import type { RunContext, RunInput } from '../shared/app/retrain/run-context.ts';
import { createStepHandlers, type StepHandlers } from '../shared/app/retrain/steps.ts';
import type { ErasureLog, StateStore } from '../shared/core/ports.ts';
import { LOCAL_REGION as EMULATOR_REGION, LOCAL_CREDENTIALS, startEmulators } from './emulators.ts';
import {
  executeDefinition,
  invokeLike,
  type Json,
  type LocalExecution,
  taskTargets,
  walkStates,
} from './state-machines.ts';
import { defaultSynthesis } from './twin/assembly.ts';
import { createResources } from './twin/resources.ts';
import { physicalName, type TwinPlan } from './twin/template.ts';

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

const LOCAL_REGION = 'local';
const LOCAL_ACCOUNT = '000000000000';
const FUNCTION_ARN_PREFIX = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:`;

export interface SynthesizedRetrain {
  /** The definition as CloudFormation deploys it, intrinsics resolved to local values. */
  definition: StateMachineDefinition & Record<string, unknown>;
  /** Logical ids of the two functions the Task states invoke. */
  functions: { steps: string; worker: string };
}

/** Replaces CloudFormation intrinsics by local placeholder values. */
export function resolveIntrinsics(value: unknown, resources: Resources): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resources));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveIntrinsics(p, resources))).join(sep);
  }
  if ('Ref' in o) {
    const ref = String(o.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': LOCAL_REGION,
      'AWS::AccountId': LOCAL_ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[ref] ?? `local-${ref.toLowerCase()}`;
  }
  if ('Fn::GetAtt' in o) {
    const [id, attr] = o['Fn::GetAtt'] as [string, string];
    if (resources[id]?.Type === 'AWS::Lambda::Function' && attr === 'Arn') return `${FUNCTION_ARN_PREFIX}${id}`;
    return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${id}/${attr}`;
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveIntrinsics(v, resources)]));
}

/** The retraining definition of a synthesised engine stack, given its template's resources. */
export function extractRetrainDefinition(stack: NbaEngineStack, resources: Resources): SynthesizedRetrain {
  const r = stack.retraining;
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  const text = resolveIntrinsics(resources[id(r.stateMachine)]?.Properties?.DefinitionString, resources);
  if (typeof text !== 'string') throw new Error('the retraining state machine has no DefinitionString');
  return {
    definition: JSON.parse(text) as SynthesizedRetrain['definition'],
    functions: { steps: id(r.stepsFunction), worker: id(r.workerFunction) },
  };
}

/** Synthesises the engine's stack without bundling and extracts the retraining state machine's definition. */
export function synthesizeRetrainDefinition(context: Record<string, unknown> = {}): SynthesizedRetrain {
  const outdir = mkdtempSync(join(tmpdir(), 'nba-retrain-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], ...context } });
    const stack = new NbaEngineStack(
      app,
      'NbaEngine',
      parseStackConfig((key) => app.node.tryGetContext(key)),
    );
    const template = app.synth().getStackByName(stack.stackName).template as { Resources: Resources };
    return extractRetrainDefinition(stack, template.Resources);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The local form of the definition (see the module documentation, step 3). Returns a copy; the input is untouched.
 */
export function localizeDefinition(definition: SynthesizedRetrain['definition']): SynthesizedRetrain['definition'] {
  const copy = structuredClone(definition);
  walkStates(copy.States as unknown as Parameters<typeof walkStates>[0], (_name, state) => {
    if (state.Type !== 'Map' || !state.ItemReader) return;
    delete state.ItemReader;
    delete state.ResultWriter;
    state.ItemsPath = '$.plan.localItems';
  });
  return copy;
}

/** Task state name → the logical id of the Lambda function it invokes. */
export function taskFunctions(definition: SynthesizedRetrain['definition']): Map<string, string> {
  const out = new Map<string, string>();
  walkStates(definition.States as unknown as Parameters<typeof walkStates>[0], (name, state) => {
    if (state.Type !== 'Task') return;
    const params = state.Parameters as { FunctionName?: unknown } | undefined;
    const target = typeof params?.FunctionName === 'string' ? params.FunctionName : String(state.Resource);
    if (target.startsWith(FUNCTION_ARN_PREFIX)) out.set(name, target.slice(FUNCTION_ARN_PREFIX.length));
  });
  return out;
}

/** The local handler of every Task state, answering like the `lambda:invoke` integration. */
export function localTaskHandlers(
  synth: SynthesizedRetrain,
  handlers: StepHandlers,
  startTime?: string,
): Record<string, (input: Json) => Promise<Json>> {
  const invoke = invokeLike;
  const steps = async (payload: unknown) => {
    if ((payload as { step?: unknown } | null)?.step !== 'plan') return handlers.step(payload);
    // The emulator stamps $$.Execution.StartTime with the real clock; a run of another day (`startTime`) gets its
    // clock here, where the plan step reads it.
    const planned = startTime === undefined ? payload : { ...(payload as object), startTime };
    // The plan step in AWS leaves the items in S3 for the ItemReader; here they travel inline for ItemsPath.
    const { ctx, items } = await handlers.planWithItems(planned);
    return { ...ctx, plan: { ...ctx.plan, localItems: items } };
  };
  const out: Record<string, (input: Json) => Promise<Json>> = {};
  for (const [state, fn] of taskFunctions(synth.definition)) {
    if (fn === synth.functions.steps) out[state] = invoke(steps);
    else if (fn === synth.functions.worker) out[state] = invoke((p) => handlers.worker(p));
    else throw new Error(`task state ${state} invokes unknown function ${fn}`);
  }
  return out;
}

export interface LocalRetrainDeps {
  blobs: BlobStore;
  state: StateStore;
  erasures: ErasureLog;
  /** Where a promotion is recorded (as the steps function does in AWS). */
  audit?: AuditTrail | undefined;
  config?: OfflineModelConfig;
  now?: () => number;
  /** After a promotion (as the steps function does in AWS: publish the snapshot). */
  modelChanged?: (decisionPoint: string) => Promise<void>;
}

export type LocalRetrainResult = LocalExecution<RunContext>;

let cached: SynthesizedRetrain | undefined;

/** Synthesis takes seconds: one per process is enough (the definition does not depend on the run). */
export function retrainDefinition(): SynthesizedRetrain {
  cached ??= synthesizeRetrainDefinition();
  return cached;
}

/** Executes one retraining run locally through the synthesised definition. */
export async function runLocalRetrain(
  input: RunInput,
  deps: LocalRetrainDeps,
  opts: {
    executionName?: string;
    startTime?: Date;
    synth?: SynthesizedRetrain;
    /** Told of each state the run enters (Map iterations included), for a progress line. */
    onState?: (name: string) => void;
  } = {},
): Promise<LocalRetrainResult> {
  const synth = opts.synth ?? retrainDefinition();
  const definition = localizeDefinition(synth.definition);
  const handlers = createStepHandlers(deps);
  const taskResourceLocalHandlers = localTaskHandlers(synth, handlers, opts.startTime?.toISOString());
  const startTime = opts.startTime ?? new Date(deps.now?.() ?? Date.now());
  const name = opts.executionName ?? `local-${startTime.toISOString().replace(/[:.]/g, '-')}`;
  const executionId = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:Retrain:${name}`;
  return executeDefinition<RunContext>(definition, input, {
    handlers: taskResourceLocalHandlers,
    executionId,
    name,
    startTime,
    ...(opts.onState ? { onState: opts.onState } : {}),
  });
}

/** Written into the data dir while a stack runs (local/stack.ts), so `npm run retrain` can reach its emulator. */
export const LOCAL_ENDPOINTS_FILE = 'local-endpoints.json';

const endpointsSchema = z.object({
  dynamoEndpoint: z.url(),
  stateTable: z.string().min(1),
  auditTable: z.string().min(1),
  pid: z.number().int().optional(),
  /** The API and the S3 emulator with the bucket of decision jobs (npm run decide-batch). */
  url: z.url().optional(),
  s3Endpoint: z.url().optional(),
  jobsBucket: z.string().min(1).optional(),
});

/** Patience for an engine whose process is gone from view but whose emulator may still answer (another host's pid). */
const ENGINE_ANSWER_MS = 10_000;

/** Whether the stack that wrote the endpoints file still runs: its files are then locked, whatever its speed. */
/** What the engine `npm start` runs on the data dir wrote there; undefined when nothing (readable) is. */
export function readEndpointsFile(dataDir: string): z.infer<typeof endpointsSchema> | undefined {
  const file = join(dataDir, LOCAL_ENDPOINTS_FILE);
  if (!existsSync(file)) return undefined;
  const e = endpointsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return e.success ? e.data : undefined;
}

/** What the running engine on the data dir wrote there; undefined when no engine runs there. */
export function readRunningEndpoints(dataDir: string): z.infer<typeof endpointsSchema> | undefined {
  const e = readEndpointsFile(dataDir);
  return e && running(e.pid) ? e : undefined;
}

function running(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function reachable(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(ENGINE_ANSWER_MS) });
    return true;
  } catch {
    return false;
  }
}

/**
 * The local state store and audit trail: the running stack's DynamoDB emulator when `npm start` runs on this data dir
 * (it writes its endpoint there), else the data dir's own emulator, started for the caller and closed by `close`.
 */
export async function openLocalState(
  dataDir: string,
): Promise<{ state: StateStore; erasures: ErasureLog; audit: AuditTrail; close(): Promise<void> }> {
  const e = readEndpointsFile(dataDir);
  if (e) {
    if (running(e.pid) || (await reachable(e.dynamoEndpoint))) {
      const client = createDynamoClient({
        region: EMULATOR_REGION,
        credentials: LOCAL_CREDENTIALS,
        dynamoEndpoint: e.dynamoEndpoint,
      });
      return {
        state: new DynamoStateStore(client, e.stateTable),
        erasures: new DynamoErasureLog(client, e.stateTable),
        audit: new AuditTrail(new DynamoAuditLog(client, e.auditTable)),
        close: async () => client.destroy(),
      };
    }
    if (running(e.pid)) {
      throw new Error(
        `the engine running on ${dataDir} (pid ${e.pid}) did not answer at ${e.dynamoEndpoint} within ${ENGINE_ANSWER_MS} ms; retry, or stop it`,
      );
    }
  }
  const { plan } = defaultSynthesis();
  const emulators = await startEmulators({ dataDir });
  await createResources(plan, emulators);
  return {
    state: new DynamoStateStore(emulators.dynamo, physicalName(plan, 'StateTable')),
    erasures: new DynamoErasureLog(emulators.dynamo, physicalName(plan, 'StateTable')),
    audit: new AuditTrail(new DynamoAuditLog(emulators.dynamo, physicalName(plan, 'AuditTable'))),
    close: () => emulators.close(),
  };
}

/** The retraining definition of a synthesised template, as the twin read it (local/twin/template.ts). */
export function retrainFromTemplate(template: { Resources: Resources }, plan: TwinPlan): SynthesizedRetrain {
  const fn = (name: string) => plan.functions.find((f) => f.name === name);
  const steps = fn('Retraining/RetrainStepsFunction');
  const worker = fn('Retraining/RetrainWorkerFunction');
  // The template has other state machines (decision jobs): the retraining's is the one whose tasks call its steps.
  const machine = plan.stateMachines.find((m) =>
    [...taskTargets(m.definition as { States: unknown }).values()].includes(steps?.arn ?? ''),
  );
  if (!machine || !steps || !worker) throw new Error('the template has no retraining state machine and functions');
  const text = resolveIntrinsics(
    template.Resources[machine.logicalId]?.Properties?.DefinitionString,
    template.Resources,
  );
  return {
    definition: JSON.parse(String(text)) as SynthesizedRetrain['definition'],
    functions: { steps: steps.logicalId, worker: worker.logicalId },
  };
}
