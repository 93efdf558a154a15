/**
 * Runs a state machine definition of the template in-process (aws-local-stepfunctions), as Step Functions would:
 * every Task state answered by a local handler (`lambda:invoke`'s `{ Payload, StatusCode }`), retry intervals and
 * waits cut to zero, and the execution's context (`$$.Execution`) set. Used by the retraining runner (local/retrain.ts)
 * and by the twin's Step Functions (local/stack.ts: executions started through the ExecutionStarter port, e.g. a
 * decision job, run the template's definition with each Task calling the twin function it names, under its role).
 */
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type StatesMap = Record<string, Record<string, unknown>>;

/** Visits every state, Map item processors and Parallel branches included. */
export function walkStates(states: StatesMap, visit: (name: string, state: Record<string, unknown>) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: StatesMap } | undefined;
    if (processor?.States) walkStates(processor.States, visit);
    for (const branch of (state.Branches as { States: StatesMap }[] | undefined) ?? [])
      walkStates(branch.States, visit);
  }
}

/** Task state name → the function ARN (or other resource) it invokes. */
export function taskTargets(definition: { States: unknown }): Map<string, string> {
  const out = new Map<string, string>();
  walkStates(definition.States as StatesMap, (name, state) => {
    if (state.Type !== 'Task') return;
    const params = state.Parameters as { FunctionName?: unknown } | undefined;
    out.set(name, typeof params?.FunctionName === 'string' ? params.FunctionName : String(state.Resource));
  });
  return out;
}

/**
 * The definition with every Map's concurrency capped at `max`: in AWS each child runs in its own Lambda; here all of
 * them share this process, and fifty chunk workers at once would starve its event loop (the emulators' sockets time
 * out). Returns a copy.
 */
export function capMapConcurrency<D extends { States: unknown }>(definition: D, max: number): D {
  const copy = structuredClone(definition);
  walkStates(copy.States as StatesMap, (_name, state) => {
    if (state.Type !== 'Map') return;
    const current = Number(state.MaxConcurrency ?? 0);
    state.MaxConcurrency = current > 0 ? Math.min(current, max) : max;
  });
  return copy;
}

/** A handler answering like the `lambda:invoke` integration, around a function of the payload. */
export const invokeLike =
  (fn: (payload: unknown) => Promise<unknown>) =>
  async (input: Json): Promise<Json> => {
    const payload = (input as { Payload?: unknown } | null)?.Payload;
    return { Payload: (await fn(payload)) as Json, StatusCode: 200 } as Json;
  };

export interface LocalExecution<T = unknown> {
  status: 'SUCCEEDED' | 'FAILED';
  output: T | undefined;
  error: string | undefined;
  /** Names of the states entered, in order (Map iterations included). */
  states: string[];
  /** Retries the emulator performed, by state. */
  retries: Record<string, number>;
  executionId: string;
}

export async function executeDefinition<T = unknown>(
  definition: StateMachineDefinition,
  input: unknown,
  opts: {
    handlers: Record<string, (input: Json) => Promise<Json>>;
    executionId: string;
    name: string;
    startTime: Date;
    onState?: (name: string) => void;
  },
): Promise<LocalExecution<T>> {
  const retryIntervalOverrides = Object.fromEntries(Object.keys(opts.handlers).map((s) => [s, 0]));
  const machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
  const execution = machine.run(input as Json, {
    overrides: { taskResourceLocalHandlers: opts.handlers, retryIntervalOverrides },
    context: {
      Execution: {
        Id: opts.executionId,
        Name: opts.name,
        StartTime: opts.startTime.toISOString(),
        Input: input as Json,
      },
    },
  });
  const states: string[] = [];
  const retries: Record<string, number> = {};
  const logging = (async () => {
    for await (const e of execution.eventLogs) {
      if (e.type === 'StateEntered') {
        states.push(e.state.name);
        opts.onState?.(e.state.name);
      }
      if (e.type === 'StateRetried') retries[e.state.name] = (retries[e.state.name] ?? 0) + 1;
    }
  })();
  const executionId = opts.executionId;
  try {
    const output = (await execution.result) as unknown as T;
    await logging;
    return { status: 'SUCCEEDED', output, error: undefined, states, retries, executionId };
  } catch (err) {
    await logging.catch(() => undefined);
    if (!(err instanceof ExecutionError)) throw err;
    const cause = (err as { cause?: unknown }).cause;
    const message = cause instanceof Error ? `${cause.name}: ${cause.message}` : err.message;
    return { status: 'FAILED', output: undefined, error: message, states, retries, executionId };
  }
}
