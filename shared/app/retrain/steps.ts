/**
 * The retraining steps behind their two entry points: the map worker, and one dispatcher for every other step. The
 * Lambda handlers (`functions/retrain/`) and the local runner (`local/retrain.ts`) both call these, so the code a
 * local run exercises is the code AWS runs; only the adapters differ.
 *
 * Errors: deterministic failures (bad input, damaged artifacts, numerical impossibilities) keep their type, so the
 * state machine fails or records them at once; anything else (storage or network trouble) becomes a
 * {@link RetrainTransientError}, which the state machine retries with backoff.
 */
import { BanditError } from '../../core/bandit/errors.ts';
import { EvaluationError } from '../../core/evaluation/errors.ts';
import type { ErasureLog, StateStore } from '../../core/ports.ts';
import { describeZodError } from '../../core/schemas.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { RetrainError, RetrainInputError, RetrainTransientError } from './errors.ts';
import { evaluate } from './evaluate.ts';
import { fitCandidate } from './fit.ts';
import { type JoinBucketResult, joinBucket } from './join-bucket.ts';
import { DEFAULT_MODEL_CONFIG, type OfflineModelConfig } from './objectives.ts';
import { plan } from './plan.ts';
import type { BlobStore } from './ports.ts';
import { promote } from './promote.ts';
import { record } from './record.ts';
import { reduce } from './reduce.ts';
import {
  type PartitionItem,
  type RunContext,
  runContextSchema,
  stepPayloadSchema,
  workerInputSchema,
} from './run-context.ts';
import { type SplitCounts, splitPartition } from './split.ts';

export interface RetrainDeps {
  blobs: BlobStore;
  state: StateStore;
  /** The users erased (DELETE /v1/users/{userId}), whose records the run drops up to their erasure. */
  erasures: ErasureLog;
  /** Where promotions are recorded (shared/core/audit.ts). */
  audit?: AuditTrail | undefined;
  config?: OfflineModelConfig;
  now?: () => number;
  /** After a promotion: publishes the decision point's snapshot (see shared/app/decide/snapshot-publisher.ts). */
  modelChanged?: (decisionPoint: string) => Promise<void>;
}

function permanent(err: unknown): boolean {
  return (
    (err instanceof RetrainError && !(err instanceof RetrainTransientError)) ||
    err instanceof EvaluationError ||
    err instanceof BanditError
  );
}

async function classify<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (permanent(err) || err instanceof RetrainTransientError) throw err;
    throw new RetrainTransientError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

function parseCtx(value: unknown): RunContext {
  const parsed = runContextSchema.safeParse(value);
  if (!parsed.success) throw new RetrainInputError(`invalid run context: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export interface StepHandlers {
  /** Every step but the map worker; the payload names the step (see `stepPayloadSchema`). */
  step(payload: unknown): Promise<RunContext>;
  /** The plan step returning its items as well (the local runner inlines them into the Map state's input). */
  planWithItems(payload: unknown): Promise<{ ctx: RunContext; items: PartitionItem[] }>;
  /** The Distributed Maps' worker: a split item or a user bucket. */
  worker(payload: unknown): Promise<SplitCounts | JoinBucketResult>;
}

export function createStepHandlers(deps: RetrainDeps): StepHandlers {
  const config = deps.config ?? DEFAULT_MODEL_CONFIG;
  const parseStep = (payload: unknown) => {
    const parsed = stepPayloadSchema.safeParse(payload);
    if (!parsed.success) throw new RetrainInputError(`invalid step payload: ${describeZodError(parsed.error)}`);
    return parsed.data;
  };
  const planWithItems = (payload: unknown) =>
    classify(async () => {
      const p = parseStep(payload);
      if (p.step !== 'plan') throw new RetrainInputError(`expected the plan step, got ${p.step}`);
      return plan({ input: p.input, executionId: p.executionId, startTime: p.startTime }, deps);
    });
  return {
    planWithItems,
    step: (payload) =>
      classify(async () => {
        const p = parseStep(payload);
        if (p.step === 'plan') return (await planWithItems(payload)).ctx;
        const ctx = parseCtx(p.ctx);
        switch (p.step) {
          case 'reduce':
            return reduce(ctx, deps);
          case 'fit':
            return fitCandidate(ctx, { ...deps, extensions: config.extensions });
          case 'evaluate':
            return evaluate(ctx, deps);
          case 'promote':
            return promote(ctx, deps);
          case 'record':
            return record(ctx, deps);
        }
      }),
    worker: (payload) =>
      classify(async () => {
        const parsed = workerInputSchema.safeParse(payload);
        if (!parsed.success) throw new RetrainInputError(`invalid map item: ${describeZodError(parsed.error)}`);
        return 'bucket' in parsed.data
          ? joinBucket(parsed.data, { blobs: deps.blobs })
          : splitPartition(parsed.data, { blobs: deps.blobs });
      }),
  };
}
