import { createRng, shuffledIndices } from '../random.ts';
import { InvalidOptionError } from './errors.ts';
import { meanAndVariance } from './stats.ts';
import type { RewardRange } from './types.ts';

/**
 * One-sided empirical-Bernstein lower bound (Maurer & Pontil 2009, Thm 4, in the form of Thomas et al. 2015, Thm 1)
 * on the mean of i.i.d. values in [0, c]: with probability ≥ 1 − δ,
 *   E[Y] ≥ Ȳ − √(2 s² ln(2/δ) / n) − 7 c ln(2/δ) / (3(n − 1)),
 * s² the unbiased sample variance. Needs n ≥ 2; returns −Infinity otherwise (no information).
 */
export function empiricalBernsteinLowerBound(values: ArrayLike<number>, c: number, delta: number): number {
  const n = values.length;
  if (n < 2) return Number.NEGATIVE_INFINITY;
  const { mean: m, variance: s2 } = meanAndVariance(values);
  const l = Math.log(2 / delta);
  return m - Math.sqrt((2 * s2 * l) / n) - (7 * c * l) / (3 * (n - 1));
}

/** One-sided Hoeffding lower bound on the mean of i.i.d. values in [0, c]: Ȳ − c √(ln(1/δ) / (2n)). */
export function hoeffdingLowerBound(values: ArrayLike<number>, c: number, delta: number): number {
  const n = values.length;
  if (n < 1) return Number.NEGATIVE_INFINITY;
  const { mean: m } = meanAndVariance(values);
  return m - c * Math.sqrt(Math.log(1 / delta) / (2 * n));
}

/**
 * The clipping level c that maximises the empirical-Bernstein bound predicted for `boundSize` rounds from the
 * selection rounds' returns (Thomas et al. 2015, §4): the selection sample's clipped mean and variance stand in for
 * those of the bound sample. Candidates are the distinct positive returns (the breakpoints of min(X, c)); with no
 * positive return every c gives a trivial bound and c = 1 is returned.
 */
export function chooseClip(selectionReturns: ArrayLike<number>, boundSize: number, delta: number): number {
  const sorted = Float64Array.from(selectionReturns).sort();
  const m = sorted.length;
  if (m === 0 || boundSize < 2 || !(sorted[m - 1]! > 0)) return 1;
  const p1 = new Float64Array(m + 1);
  const p2 = new Float64Array(m + 1);
  for (let i = 0; i < m; i++) {
    p1[i + 1] = p1[i]! + sorted[i]!;
    p2[i + 1] = p2[i]! + sorted[i]! * sorted[i]!;
  }
  const l = Math.log(2 / delta);
  let bestC = sorted[m - 1]!;
  let best = Number.NEGATIVE_INFINITY;
  // k = number of returns strictly below c; returns at or above c are clipped to c.
  let k = 0;
  for (let i = 0; i < m; i++) {
    const c = sorted[i]!;
    if (!(c > 0) || (i > 0 && c === sorted[i - 1])) continue;
    while (k < m && sorted[k]! < c) k++;
    const clipped = m - k;
    const mu = (p1[k]! + c * clipped) / m;
    const second = (p2[k]! + c * c * clipped) / m;
    const s2 = m > 1 ? Math.max(0, ((second - mu * mu) * m) / (m - 1)) : 0;
    const predicted = mu - Math.sqrt((2 * s2 * l) / boundSize) - (7 * c * l) / (3 * (boundSize - 1));
    if (predicted > best) {
      best = predicted;
      bestC = c;
    }
  }
  return bestC;
}

export interface HcopeOptions {
  readonly range: RewardRange;
  /** Probability that the bound is wrong; 0.05 by default. */
  readonly delta?: number;
  /** Share of rounds used to choose the clipping level; 0.2 by default. */
  readonly selectionShare?: number;
  readonly seed?: number;
}

export interface HcopeResult {
  /** Empirical-Bernstein lower bound on the target's value, in reward units (never below range.min). */
  readonly lowerBound: number;
  /** Hoeffding lower bound on the same clipped returns, for comparison. */
  readonly hoeffdingLowerBound: number;
  /** Clipping level of the importance-weighted normalised returns. */
  readonly clip: number;
  readonly selectionRounds: number;
  readonly boundRounds: number;
  readonly delta: number;
}

/**
 * High-confidence off-policy lower bound (Thomas, Theocharous & Ghavamzadeh 2015). Rewards are normalised to
 * [0, 1]; the returns X = w·r' are clipped at c, which can only lower their mean, so a lower bound on E[min(X, c)]
 * is one on the target's normalised value. c is chosen on a seeded `selectionShare` of the rounds; the bound is
 * computed on the rest, so the choice does not invalidate it. If the target puts mass where the logger never acts,
 * those rounds contribute nothing and the bound stays valid (just lower), since r' ≥ 0.
 */
export function hcope(weight: Float64Array, reward: Float64Array, options: HcopeOptions): HcopeResult {
  const { min, span } = rewardScale(options.range);
  const returns = new Float64Array(weight.length);
  for (let i = 0; i < weight.length; i++) returns[i] = weight[i]! * ((reward[i]! - min) / span);
  return boundInRewardUnits(returns, options);
}

/** min and max − min of a reward range, which must not be empty. */
export function rewardScale(range: RewardRange): { min: number; span: number } {
  if (!(range.max > range.min)) throw new InvalidOptionError(`reward range [${range.min}, ${range.max}] is empty`);
  return { min: range.min, span: range.max - range.min };
}

/**
 * {@link boundOnReturns} on returns built from rewards normalised by `options.range` ((r − min)/span, `slots` of them
 * per round on average), back in reward units: slots·min + span·max(0, bound).
 */
export function boundInRewardUnits(returns: Float64Array, options: HcopeOptions, slots = 1): HcopeResult {
  const { min, span } = rewardScale(options.range);
  const b = boundOnReturns(returns, options);
  const toReward = (v: number): number => slots * min + span * Math.max(0, v);
  return { ...b, lowerBound: toReward(b.lowerBound), hoeffdingLowerBound: toReward(b.hoeffdingLowerBound) };
}

/**
 * The HCOPE bound on the mean of non-negative returns (importance-weighted rewards normalised to [0, 1] per reward,
 * or sums of them): the clip c chosen on a seeded `selectionShare` of the rounds, the empirical-Bernstein and
 * Hoeffding bounds on the rest clipped at c, in return units.
 */
function boundOnReturns(returns: Float64Array, options: Omit<HcopeOptions, 'range'>): HcopeResult {
  const delta = options.delta ?? 0.05;
  const share = options.selectionShare ?? 0.2;
  if (!(delta > 0 && delta < 1)) throw new InvalidOptionError(`delta must be in (0, 1), got ${delta}`);
  if (!(share > 0 && share < 1)) throw new InvalidOptionError(`selectionShare must be in (0, 1), got ${share}`);
  const n = returns.length;
  const perm = shuffledIndices(n, createRng((options.seed ?? 0) ^ 0x4c0b_e5a1));
  const nSelect = Math.min(n, Math.ceil(share * n));
  const selection = new Float64Array(nSelect);
  for (let t = 0; t < nSelect; t++) selection[t] = returns[perm[t]!]!;
  const nBound = n - nSelect;
  const clip = chooseClip(selection, nBound, delta);
  const clipped = new Float64Array(nBound);
  for (let t = 0; t < nBound; t++) clipped[t] = Math.min(returns[perm[nSelect + t]!]!, clip);
  return {
    lowerBound: empiricalBernsteinLowerBound(clipped, clip, delta),
    hoeffdingLowerBound: hoeffdingLowerBound(clipped, clip, delta),
    clip,
    selectionRounds: nSelect,
    boundRounds: nBound,
    delta,
  };
}
