/**
 * Stage values learned from history instead of guessed: the value of being in a lifecycle stage is the expected
 * target-event value a user collects after entering that stage (strictly after, within a horizon). Estimated by every-visit Monte
 * Carlo over observed trajectories, with right-censoring handled: a visit counts only if the whole horizon after it
 * was observed, so recent visits do not drag values down. The offline retraining job runs this on the log lake; until
 * it has, the configured (or ladder-position) values apply.
 */

export interface TrajectoryEvent {
  /** Milliseconds since the epoch. */
  at: number;
  /** The user entered this stage at `at`. */
  stage?: string;
  /** A target event worth this much happened at `at`. */
  value?: number;
}

export interface Trajectory {
  /** The user's stage changes and target events, in any order (sorted here). */
  events: readonly TrajectoryEvent[];
  /** Until when this user was observed (ms); defaults to the last event's time. */
  observedUntil?: number;
}

export interface StageValueEstimate {
  /** Estimated value per stage; stages never visited with a full horizon keep `fallback`'s value. */
  values: Record<string, number>;
  /** Visits that counted, per stage. */
  visits: Record<string, number>;
  /** Standard error of each value (NaN with fewer than two visits). */
  standardErrors: Record<string, number>;
}

/** Per stage: [Σ return, Σ return², visits] — sums, so partial results from many workers add up. */
export type StageVisitSums = Record<string, [number, number, number]>;

/** The visits of `trajectories` to the ladder's stages, as sums (see {@link estimateStageValues}). */
export function stageVisitSums(
  ladder: readonly string[],
  trajectories: Iterable<Trajectory>,
  opts: { horizonMs?: number } = {},
): StageVisitSums {
  const horizon = opts.horizonMs ?? Number.POSITIVE_INFINITY;
  const out: StageVisitSums = {};
  for (const t of trajectories) {
    const events = [...t.events].sort((a, b) => a.at - b.at);
    const end = t.observedUntil ?? events[events.length - 1]?.at ?? 0;
    // Suffix sums of value let each visit's return be read in O(log n).
    const times = events.map((e) => e.at);
    const suffix = new Float64Array(events.length + 1);
    for (let i = events.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + (events[i]!.value ?? 0);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.stage === undefined || !ladder.includes(e.stage)) continue;
      if (Number.isFinite(horizon) && e.at + horizon > end) continue; // censored: the horizon was not observed
      const stop = Number.isFinite(horizon) ? upperBound(times, e.at + horizon) : events.length;
      // Value from this visit on: target events strictly after the stage change (docs/ARCHITECTURE.md F6). A purchase
      // at the same instant as the move to `customer` caused it and is rewarded as the event itself; counting it in
      // V(customer) too would pay it twice (once as the event, once in the move's V(to) − V(from)).
      const g = suffix[upperBound(times, e.at)]! - suffix[stop]!;
      const acc = out[e.stage] ?? [0, 0, 0];
      acc[0] += g;
      acc[1] += g * g;
      acc[2] += 1;
      out[e.stage] = acc;
    }
  }
  return out;
}

/** into += from. */
export function mergeStageVisitSums(into: StageVisitSums, from: Readonly<StageVisitSums>): void {
  for (const [stage, [s, s2, n]] of Object.entries(from)) {
    const acc = into[stage] ?? [0, 0, 0];
    acc[0] += s;
    acc[1] += s2;
    acc[2] += n;
    into[stage] = acc;
  }
}

/** Values, visits and standard errors from visit sums; stages never visited keep `fallback` (else their position). */
export function stageValuesFromSums(
  ladder: readonly string[],
  sums: Readonly<StageVisitSums>,
  fallback?: Readonly<Record<string, number>>,
): StageValueEstimate {
  const values: Record<string, number> = {};
  const visits: Record<string, number> = {};
  const standardErrors: Record<string, number> = {};
  ladder.forEach((stage, i) => {
    const [sum, sumSq, n] = sums[stage] ?? [0, 0, 0];
    visits[stage] = n;
    if (n === 0) {
      values[stage] = fallback?.[stage] ?? i;
      standardErrors[stage] = Number.NaN;
      return;
    }
    const mean = sum / n;
    values[stage] = mean;
    const variance = n > 1 ? Math.max(0, (sumSq - n * mean * mean) / (n - 1)) : Number.NaN;
    standardErrors[stage] = Math.sqrt(variance / n);
  });
  return { values, visits, standardErrors };
}

export function estimateStageValues(
  ladder: readonly string[],
  trajectories: Iterable<Trajectory>,
  opts: { horizonMs?: number; fallback?: Readonly<Record<string, number>> } = {},
): StageValueEstimate {
  return stageValuesFromSums(ladder, stageVisitSums(ladder, trajectories, opts), opts.fallback);
}

function upperBound(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
