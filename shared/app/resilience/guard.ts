/**
 * The decision path's answer to slow or failing dependencies, within a latency budget per request:
 * - model store (DynamoDB) slow or failing: answer from the last good model this container served for the decision
 *   point (waiting at most `modelWaitMs` for a refresh); with none, the uniform fallback over the request's explicit
 *   candidates (`fallback: true` and the reason); with no candidates either, 503 (nothing to absorb it with).
 * - stage read slow or failing: decide without the stage (as the engine already does when the read fails).
 * - decision log (Kinesis) slow or failing: retried until the budget is spent (the adapter retries, the SDK retries);
 *   then the decision is answered with `decisionLog: "deferred"` and its entry is kept in the container and put
 *   again at the next requests (see `deferred-log.ts`), counted and alarmed on, never dropped silently.
 * Without a policy (tests of the core, tools) the guard waits as long as the dependencies take and a failed log put
 * is a 503, as before.
 */
import { DependencyError } from '../../core/errors.ts';
import type { EventStream } from '../../core/ports.ts';
import type { DecisionRecord, DecisionRequest } from '../../core/schemas.ts';
import type { ServingModel } from '../decide/model-cache.ts';
import { withDeadline } from './deadline.ts';
import type { DeferredDecisionLog } from './deferred-log.ts';
import { type FallbackReason, fallbackCandidates } from './fallback.ts';

export interface DecisionObserver {
  staleModel?(decisionPoint: string, reason: 'timeout' | 'error'): void;
  fallback?(decisionPoint: string, reason: FallbackReason): void;
  logDeferred?(decisionPoint: string): void;
}

export interface DecisionResilience {
  /** Time a request may spend waiting on dependencies (model refresh, stage read, decision log), ms. */
  budgetMs: number;
  /** How long to wait for a model refresh when a last good model can answer instead, ms. */
  modelWaitMs: number;
  /** Where log entries that missed the budget wait for the stream; without it such a request fails with 503. */
  deferredLog?: DeferredDecisionLog;
  observer?: DecisionObserver;
}

export type LoadedModel =
  | { kind: 'model'; model: ServingModel }
  | { kind: 'fallback'; candidates: string[]; reason: FallbackReason };

/** Milliseconds left to a request's deadline (Infinity without a budget). */
export type Deadline = () => number;

/** Least time granted to the log put even when the model load used up the budget: a put usually takes a few ms. */
const MIN_LOG_WAIT_MS = 25;

export class DecisionGuard {
  private readonly lastGood = new Map<string, ServingModel>();

  constructor(private readonly policy?: DecisionResilience) {}

  /** Starts a request: retries deferred log entries in the background and returns its deadline. */
  begin(stream: EventStream): Deadline {
    const p = this.policy;
    if (!p) return () => Number.POSITIVE_INFINITY;
    if (p.deferredLog && p.deferredLog.pending > 0) void p.deferredLog.flush(stream);
    const end = performance.now() + p.budgetMs;
    return () => Math.max(0, end - performance.now());
  }

  async model(req: DecisionRequest, load: () => Promise<ServingModel>, left: Deadline): Promise<LoadedModel> {
    if (!this.policy) return { kind: 'model', model: await load() };
    const dp = req.decisionPoint;
    const last = this.lastGood.get(dp);
    const got = await withDeadline(load(), last ? Math.min(this.policy.modelWaitMs, left()) : left());
    if (got.ok) {
      this.lastGood.set(dp, got.value);
      return { kind: 'model', model: got.value };
    }
    // Only an unavailable store is absorbed: an unknown decision point or a bad request keeps its own answer.
    if (got.reason === 'error' && !(got.error instanceof DependencyError)) throw got.error;
    if (last) {
      this.policy.observer?.staleModel?.(dp, got.reason);
      return { kind: 'model', model: last };
    }
    const reason: FallbackReason = got.reason === 'timeout' ? 'model_store_timeout' : 'model_store_unavailable';
    const candidates = fallbackCandidates(req);
    if (!candidates) {
      throw new DependencyError(
        got.reason === 'timeout'
          ? 'the model store did not answer within the latency budget; retry, or name candidates to get a fallback answer'
          : 'the model store is unavailable; retry, or name candidates to get a fallback answer',
      );
    }
    this.policy.observer?.fallback?.(dp, reason);
    return { kind: 'fallback', candidates, reason };
  }

  /** A read the decision can do without: undefined when it fails or misses the deadline. */
  async optional<T>(read: () => Promise<T | undefined>, left: Deadline): Promise<T | undefined> {
    const got = await withDeadline(read(), left());
    return got.ok ? got.value : undefined;
  }

  /**
   * Puts the log entries of one request's decisions with one stream put; per entry, `logged`, `deferred` (it missed
   * the budget and waits in the container) or, without a deferred log, `failed` (the caller must not answer it).
   */
  async log(
    records: readonly DecisionRecord[],
    put: () => Promise<number[]>,
    left: Deadline,
  ): Promise<('logged' | 'deferred' | 'failed')[]> {
    const deferredLog = this.policy?.deferredLog;
    const pending = put();
    const got = await withDeadline(pending, deferredLog ? Math.max(MIN_LOG_WAIT_MS, left()) : Number.POSITIVE_INFINITY);
    const failed = new Set(got.ok ? got.value : records.map((_, i) => i));
    return records.map((record, i) => {
      if (!failed.has(i)) return 'logged';
      if (!deferredLog) return 'failed';
      // A put that failed outright is re-queued at once; one still in flight is watched and re-queued if it fails.
      const settled =
        got.ok || got.reason === 'error' ? Promise.resolve([0]) : pending.then((f) => (f.includes(i) ? [0] : []));
      deferredLog.defer(record, settled);
      this.policy?.observer?.logDeferred?.(record.decisionPoint);
      return 'deferred';
    });
  }
}
