/**
 * Stage values learned from history instead of guessed: the value of being in a lifecycle stage is the expected
 * target-event value a user collects from entering that stage on (within a horizon). Estimated by every-visit Monte
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

export function estimateStageValues(
  ladder: readonly string[],
  trajectories: Iterable<Trajectory>,
  opts: { horizonMs?: number; fallback?: Readonly<Record<string, number>> } = {},
): StageValueEstimate {
  const horizon = opts.horizonMs ?? Number.POSITIVE_INFINITY;
  const sum = new Map<string, number>();
  const sumSq = new Map<string, number>();
  const count = new Map<string, number>();
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
      // Value from this visit on: events at the same instant as the stage change count (the purchase that made a
      // customer is the customer's), except the ones strictly before it.
      const g = suffix[firstAtOrAfter(times, e.at)]! - suffix[stop]!;
      sum.set(e.stage, (sum.get(e.stage) ?? 0) + g);
      sumSq.set(e.stage, (sumSq.get(e.stage) ?? 0) + g * g);
      count.set(e.stage, (count.get(e.stage) ?? 0) + 1);
    }
  }
  const values: Record<string, number> = {};
  const visits: Record<string, number> = {};
  const standardErrors: Record<string, number> = {};
  ladder.forEach((stage, i) => {
    const n = count.get(stage) ?? 0;
    visits[stage] = n;
    if (n === 0) {
      values[stage] = opts.fallback?.[stage] ?? i;
      standardErrors[stage] = Number.NaN;
      return;
    }
    const mean = sum.get(stage)! / n;
    values[stage] = mean;
    const variance = n > 1 ? Math.max(0, (sumSq.get(stage)! - n * mean * mean) / (n - 1)) : Number.NaN;
    standardErrors[stage] = Math.sqrt(variance / n);
  });
  return { values, visits, standardErrors };
}

function firstAtOrAfter(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
