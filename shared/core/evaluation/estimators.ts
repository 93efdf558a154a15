import { InvalidOptionError } from './errors.ts';
import { meanAndVariance, normalQuantile } from './stats.ts';
import type { Estimate, PointEstimate } from './types.ts';

/**
 * Per-round quantities of the rounds that carry a logged propensity, in reward units:
 * weight w = π(a|x)/μ(a|x) for the logged action a, reward r, qChosen = q̂(x, a), qTarget = Σ_b π(b|x) q̂(x, b).
 * Every IPS-family estimator is a function of these four columns alone.
 */
export interface RoundTerms {
  readonly weight: Float64Array;
  readonly reward: Float64Array;
  readonly qChosen: Float64Array;
  readonly qTarget: Float64Array;
}

export interface IntervalOptions {
  /** Two-sided confidence level of the interval; 0.95 by default. */
  readonly confidence?: number;
}

export function zFor(confidence = 0.95): number {
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidOptionError(`confidence must be in (0, 1), got ${confidence}`);
  return normalQuantile(1 - (1 - confidence) / 2);
}

/** Mean of per-round terms with a normal (CLT) interval: mean ± z·s/√n, s the sample standard deviation. */
export function cltEstimate(
  terms: ArrayLike<number>,
  options: IntervalOptions = {},
): Estimate & { standardError: number } {
  const n = terms.length;
  const { mean: value, variance } = meanAndVariance(terms);
  const standardError = n > 1 ? Math.sqrt(variance / n) : 0;
  const half = zFor(options.confidence) * standardError;
  return { value, lower: value - half, upper: value + half, standardError };
}

/**
 * Inverse propensity scoring (Horvitz–Thompson): mean of w·r. Unbiased when propensities are right and the logger
 * covers the target's support. Its CLT interval is only as good as the sample variance of w·r, which heavy-tailed
 * weights make unreliable: large weights that happened to earn no reward leave no trace in that variance.
 */
export function ipsEstimate(t: RoundTerms, options: IntervalOptions = {}): Estimate {
  const n = t.weight.length;
  const terms = new Float64Array(n);
  for (let i = 0; i < n; i++) terms[i] = t.weight[i]! * t.reward[i]!;
  const { value, lower, upper } = cltEstimate(terms, options);
  return { value, lower, upper };
}

/**
 * Self-normalised IPS: Σw·r / Σw, a weighted mean of observed rewards, so it stays inside the reward range and is
 * invariant to a common rescaling of the propensities. Slightly biased (O(1/n)). Interval by the delta method:
 * Var ≈ Σ w²(r − V)² / (Σw)² · n/(n−1), which counts every large weight, rewarded or not.
 * Returns null when the target puts no mass on any logged action (Σw = 0).
 */
export function snipsEstimate(t: RoundTerms, options: IntervalOptions = {}): Estimate | null {
  const n = t.weight.length;
  let sw = 0;
  let swr = 0;
  for (let i = 0; i < n; i++) {
    sw += t.weight[i]!;
    swr += t.weight[i]! * t.reward[i]!;
  }
  if (!(sw > 0)) return null;
  const value = swr / sw;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = t.weight[i]! * (t.reward[i]! - value);
    s += e * e;
  }
  const variance = n > 1 ? ((s / (sw * sw)) * n) / (n - 1) : 0;
  const half = zFor(options.confidence) * Math.sqrt(variance);
  return { value, lower: value - half, upper: value + half };
}

/**
 * Direct method: mean over rounds of Σ_b π(b|x) q̂(x, b). It carries no interval on purpose: its error is the reward
 * model's bias on the actions the target favours and the logger neglected, which nothing in the log measures
 * without propensities; a CLT interval over contexts would only describe context sampling and look falsely sure.
 */
export function dmEstimate(qTarget: Float64Array): PointEstimate {
  let s = 0;
  for (let i = 0; i < qTarget.length; i++) s += qTarget[i]!;
  return { value: s / qTarget.length, lower: null, upper: null };
}

function drTerms(t: RoundTerms, shrink: (w: number) => number): Float64Array {
  const n = t.weight.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = t.qTarget[i]! + shrink(t.weight[i]!) * (t.reward[i]! - t.qChosen[i]!);
  return out;
}

/**
 * Doubly robust: q̂ under the target plus the importance-weighted residual of the logged action. Unbiased when the
 * propensities are right (whatever q̂), and lower-variance than IPS when q̂ is good. CLT interval on the DR terms.
 */
export function drEstimate(t: RoundTerms, options: IntervalOptions = {}): Estimate {
  const { value, lower, upper } = cltEstimate(
    drTerms(t, (w) => w),
    options,
  );
  return { value, lower, upper };
}

export interface DrosResult extends Estimate {
  /** The chosen shrinkage λ (Infinity: no shrinkage, plain DR). */
  readonly lambda: number;
  /** The bias allowance added to the interval's half-width. */
  readonly biasBound: number;
}

/**
 * DR with optimistic shrinkage (Su, Dimakopoulou, Krishnamurthy, Dudík 2020): each weight becomes
 * ŵ = λw / (w² + λ), which leaves small weights nearly untouched and pulls large ones down to about λ/w.
 * Hyper-parameter: λ is chosen on the geometric grid {w_max²·4^-k, k = −4..16} ∪ {∞} (from barely touching the
 * largest weight to shrinking nearly everything) by minimising an estimated MSE, se(λ)² + B(λ)², where
 * B(λ) = |mean(b)| + z·se(b) bounds the bias against unbiased DR with b = (w − ŵ)(r − q̂). The paper leaves the
 * tuning rule open; this pessimistic plug-in (in the spirit of obp's bias upper bound) only shrinks when the
 * variance saved clearly exceeds the bias risked, so on well-covered logs DRos stays close to DR.
 * Because shrinkage trades bias for variance, the interval adds B(λ) to the CLT half-width rather than
 * pretending the estimator is unbiased.
 */
export function drosEstimate(t: RoundTerms, options: IntervalOptions = {}): DrosResult {
  const { weight, reward, qChosen, qTarget } = t;
  const n = weight.length;
  const z = zFor(options.confidence);
  let wMax = 0;
  for (let i = 0; i < n; i++) wMax = Math.max(wMax, weight[i]!);
  const lambdas = [Number.POSITIVE_INFINITY];
  if (wMax > 0) for (let k = -4; k <= 16; k++) lambdas.push(wMax * wMax * 4 ** -k);
  // Two fused passes per λ (means, then squared deviations) and no per-λ arrays: this runs over every round 17 times.
  const stats = (lambda: number) => {
    const finite = Number.isFinite(lambda);
    let sumD = 0;
    let sumB = 0;
    for (let i = 0; i < n; i++) {
      const w = weight[i]!;
      const shrunk = finite ? (lambda * w) / (w * w + lambda) : w;
      const res = reward[i]! - qChosen[i]!;
      sumD += qTarget[i]! + shrunk * res;
      sumB += (w - shrunk) * res;
    }
    const meanD = sumD / n;
    const meanB = sumB / n;
    let ssD = 0;
    let ssB = 0;
    for (let i = 0; i < n; i++) {
      const w = weight[i]!;
      const shrunk = finite ? (lambda * w) / (w * w + lambda) : w;
      const res = reward[i]! - qChosen[i]!;
      const dd = qTarget[i]! + shrunk * res - meanD;
      const db = (w - shrunk) * res - meanB;
      ssD += dd * dd;
      ssB += db * db;
    }
    const seD = n > 1 ? Math.sqrt(ssD / (n - 1) / n) : 0;
    const seB = n > 1 ? Math.sqrt(ssB / (n - 1) / n) : 0;
    const biasBound = finite ? Math.abs(meanB) + z * seB : 0;
    return { lambda, value: meanD, standardError: seD, biasBound, mse: seD * seD + biasBound * biasBound };
  };
  let best = stats(lambdas[0]!);
  for (let k = 1; k < lambdas.length; k++) {
    const s = stats(lambdas[k]!);
    if (s.mse < best.mse) best = s;
  }
  const half = z * best.standardError + best.biasBound;
  return {
    value: best.value,
    lower: best.value - half,
    upper: best.value + half,
    lambda: best.lambda,
    biasBound: best.biasBound,
  };
}
