/** Shared helpers of the retraining tests: run parameters and a synthetic log parsed as a worker would read it. */
import { type SyntheticLogOptions, syntheticLog } from '../../bench/retrain/synthetic-log.ts';
import { encodeLakeObject, type LakeDecision, type LakeEvent, parseLakeObject } from '../../shared/app/retrain/lake.ts';
import type { RunParams } from '../../shared/app/retrain/run-context.ts';
import { DEFAULT_PRIORS } from '../../shared/core/bandit/posterior.ts';
import { BUCKET_MS } from '../../shared/core/domain.ts';

export const DAY = BUCKET_MS;
/** 2024-03-01T00:00:00Z, a bucket boundary. */
export const T0 = Date.UTC(2024, 2, 1);

export function runParams(over: Partial<RunParams> = {}): RunParams {
  const cutoffBucket = over.cutoffBucket ?? T0 / DAY + 10;
  return {
    decisionPoint: 'dp',
    runId: 'test-run',
    version: 'm-test',
    startedAt: T0,
    asOf: T0,
    cutoffBucket,
    holdoutFromBucket: cutoffBucket - 1,
    weighting: { kind: 'uniform', clip: 20 },
    contextDim: 4,
    actionDim: 2,
    priors: { ...DEFAULT_PRIORS },
    exploration: { epsilon: 0.05, scale: 1 },
    compoundEvents: [],
    objectives: [],
    combine: { mode: 'weighted', minOutcomes: 30 },
    windowSeconds: 3600,
    buckets: 1,
    lakeDelaySeconds: 900,
    maxEvalRounds: 20_000,
    minEvalRounds: 200,
    tolerance: 0,
    delta: 0.05,
    coverageTolerance: 0.001,
    force: false,
    prefix: 'retrain/dp/test-run/',
    ...over,
  };
}

/** The synthetic log's records, round-tripped through the lake's encoding. */
export function syntheticRecords(o: SyntheticLogOptions): { decisions: LakeDecision[]; events: LakeEvent[] } {
  const decisions: LakeDecision[] = [];
  const events: LakeEvent[] = [];
  for (const { lines } of syntheticLog(o)) {
    const parsed = parseLakeObject(encodeLakeObject(lines));
    if (parsed.invalid > 0) throw new Error(`synthetic log has ${parsed.invalid} invalid lines`);
    decisions.push(...parsed.decisions);
    events.push(...parsed.events);
  }
  return { decisions, events };
}

/** A decision as the lake holds it: decision point `dp`, user `u-{id}`, two candidates, slot 1 only; `over` changes any field. */
export function lakeDecision(id: string, at: number, over: Partial<LakeDecision> = {}): LakeDecision {
  return <LakeDecision>{
    kind: 'decision',
    decisionId: id,
    decisionPoint: 'dp',
    userId: `u-${id}`,
    at,
    x: [1, 0, 0, 0],
    candidates: ['A', 'B'],
    chosen: ['A'],
    chosenFeatures: [[1, 0]],
    propensity: 0.5,
    attributionWindowSeconds: 3600,
    rewards: {},
    objectives: [],
    ...over,
  };
}
