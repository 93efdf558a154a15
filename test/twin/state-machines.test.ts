/**
 * The twin's Step Functions (local/state-machines.ts) on the decision jobs' definition as CDK synthesises it: every
 * Task state is found (the Map's item processor included) and invokes the decision jobs function; a Map's concurrency
 * is capped for one process without touching anything else, and the definition given is left as it was.
 */
import { describe, expect, it } from 'vitest';
import { capMapConcurrency, taskTargets } from '../../local/state-machines.ts';
import { defaultSynthesis } from '../../local/twin/assembly.ts';

const { plan } = defaultSynthesis();
const jobs = plan.stateMachines.find((m) => m.logicalId.startsWith('DecisionJobsStateMachine'))!;
const fn = plan.functions.find((f) => f.name === 'DecisionJobFunction')!;

describe("the twin's state machines", () => {
  it('finds every Task of the decision jobs definition, the chunk worker inside the Map included', () => {
    const targets = taskTargets(jobs.definition as { States: unknown });
    expect([...targets.keys()].sort()).toEqual(['DecideChunk', 'FailJob', 'FinishJob', 'PlanJob']);
    for (const arn of targets.values()) expect(arn).toBe(fn.arn);
  });

  it('caps the Map at the given concurrency, changing nothing else and leaving the input as it was', () => {
    const before = JSON.stringify(jobs.definition);
    const capped = capMapConcurrency(jobs.definition as { States: Record<string, Record<string, unknown>> }, 2);
    expect(JSON.stringify(jobs.definition)).toBe(before);
    const map = capped.States.DecideChunks!;
    expect(map.MaxConcurrency).toBe(2);
    const original = JSON.parse(before) as { States: Record<string, Record<string, unknown>> };
    expect((original.States.DecideChunks as { MaxConcurrency: number }).MaxConcurrency).toBe(50);
    expect({ ...capped.States, DecideChunks: { ...map, MaxConcurrency: 50 } }).toEqual(original.States);
    // A cap above the deployed concurrency keeps the deployed one.
    const high = capMapConcurrency(jobs.definition as { States: Record<string, Record<string, unknown>> }, 500);
    expect(high.States.DecideChunks!.MaxConcurrency).toBe(50);
  });
});
