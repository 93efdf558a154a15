/**
 * Replay evaluation of a learning policy on a log collected by a uniformly random policy (Li, Chu, Langford, Wang
 * 2011, "Unbiased Offline Evaluation of Contextual-bandit-based News Article Recommendation Algorithms").
 *
 * The log is streamed in time order. For each row the policy chooses among the row's candidates; if it picks the
 * logged action, the row counts (its reward is the policy's reward) and the policy learns from it; otherwise the row
 * is discarded as if it had never happened, and the policy learns nothing. Because the logger was uniform, the
 * matched rows are distributed as if the policy itself had been deployed, so their mean reward estimates the
 * policy's online reward without bias; about 1/K of the rows match. The policy's clock (its refresh cadence) only
 * advances on matched rows.
 */
import { SimOptionError } from './errors.ts';
import type { Policy } from './policies.ts';

export interface ReplayRow {
  /** Encoded context (length d); read during the call only, so a reused buffer is fine. */
  readonly x: Float64Array;
  /** Candidate actions (indices the policy knows). */
  readonly candidates: Int32Array;
  /** Position in `candidates` of the logged action. */
  readonly logged: number;
  /** Logged reward, 0 or 1. */
  readonly reward: number;
}

/** A proportion with its 95% Wilson score interval. */
export interface Proportion {
  readonly successes: number;
  readonly trials: number;
  readonly rate: number;
  readonly lower: number;
  readonly upper: number;
}

/**
 * Wilson score interval for k successes in n trials at normal quantile z (default 1.96, 95%). Unlike the Wald
 * interval it stays inside [0, 1] and keeps its coverage when k is 0 or tiny, which is the regime of click logs.
 */
export function wilson(k: number, n: number, z = 1.959963984540054): Proportion {
  if (!(n >= 0) || !(k >= 0) || k > n) throw new SimOptionError(`wilson needs 0 <= k <= n, got k = ${k}, n = ${n}`);
  if (n === 0) return { successes: 0, trials: 0, rate: Number.NaN, lower: 0, upper: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { successes: k, trials: n, rate: p, lower: Math.max(0, center - half), upper: Math.min(1, center + half) };
}

export interface ReplayResult {
  readonly rows: number;
  readonly matched: number;
  /** The policy's replay reward rate over matched rows, with its 95% Wilson interval. */
  readonly rate: Proportion;
}

/** Replays `rows` (see the module documentation); rewards must be 0/1. */
export function replay(rows: Iterable<ReplayRow>, policy: Policy): ReplayResult {
  let n = 0;
  let matched = 0;
  let clicks = 0;
  for (const row of rows) {
    n++;
    if (row.reward !== 0 && row.reward !== 1)
      throw new SimOptionError(`row ${n}: reward must be 0 or 1, got ${row.reward}`);
    const pos = policy.choose(row.x, row.candidates);
    if (pos !== row.logged) continue;
    matched++;
    clicks += row.reward;
    const action = row.candidates[pos] as number;
    policy.impression(row.x, action);
    policy.reward(row.x, action, row.reward);
    policy.endRound();
  }
  return { rows: n, matched, rate: wilson(clicks, matched) };
}
