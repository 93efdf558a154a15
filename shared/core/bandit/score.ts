/**
 * Request-path scoring: posterior mean and standard deviation of each candidate's score for one context.
 */
import { DimensionMismatchError, InvalidArgumentError } from './errors.ts';
import type { HybridPosterior } from './posterior.ts';

/** Smallest per-context noise variance under the compound-event model, as a share of the pooled σ². */
export const MIN_CONTEXT_NOISE_SHARE = 0.01;

/** max μ(M − μ) over μ ∈ [mean − s, mean + s] ∩ [0, M] (the nearest point of [0, M] when they do not meet), floored. */
function contextNoise(mean: number, s: number, M: number, floor: number): number {
  const lo = Math.min(M, Math.max(0, mean - s));
  const hi = Math.max(0, Math.min(M, mean + s));
  const half = M / 2;
  const mu = hi < half ? hi : Math.max(lo, half);
  return Math.max(floor, mu * (M - mu));
}

/**
 * Writes, for each candidate position p (candidates[p] is an index into `post`), the posterior mean score
 * outMean[p] = xᵀw_a and the sampling standard deviation outSd[p] = sqrt(explorationScale · σ²(x) · xᵀV_a x).
 * `explorationScale` multiplies the variance: 1 is plain Thompson sampling, 0 is greedy, values above 1 explore more.
 *
 * σ²(x) is the pooled σ², except under the compound-event model (`post.eventValue` = M > 0, see
 * `BuildOptions.compoundEvents`), where the noise of a context whose mean reward is μ is μ(M − μ): there σ²(x) is the
 * largest μ(M − μ) over μ within one posterior standard deviation s = sqrt(σ² xᵀV_a x) of the mean, clamped to
 * [0, M] (so it stays positive while the mean is uncertain, and only reaches 0 where the model is sure the event
 * never happens), floored at {@link MIN_CONTEXT_NOISE_SHARE}·σ². Each action's variance is also multiplied by its
 * coverage factor `post.explore[a]` (1 unless the coverage rule is on; see `BuildOptions.coverage`).
 *
 * Cost per candidate: d + d(d+1)/2 multiply-adds, because x xᵀ (packed, off-diagonal doubled) is formed once per
 * call and each V_a quadratic form becomes one contiguous dot product. Allocates nothing.
 */
export function scoreInto(
  post: HybridPosterior,
  x: Float64Array,
  candidates: Int32Array | readonly number[],
  explorationScale: number,
  outMean: Float64Array,
  outSd: Float64Array,
): void {
  const d = post.d;
  if (x.length !== d) throw new DimensionMismatchError('context length', d, x.length);
  const count = candidates.length;
  if (outMean.length < count || outSd.length < count) {
    throw new DimensionMismatchError('output buffers length', count, Math.min(outMean.length, outSd.length));
  }
  if (!(explorationScale >= 0) || !Number.isFinite(explorationScale)) {
    throw new InvalidArgumentError(`explorationScale must be finite and >= 0, got ${explorationScale}`);
  }
  const xx = post.scratch;
  let o = 0;
  for (let i = 0; i < d; i++) {
    const xi = x[i] as number;
    xx[o++] = xi * xi;
    const xi2 = 2 * xi;
    for (let j = i + 1; j < d; j++) xx[o++] = xi2 * (x[j] as number);
  }
  const dp = o;
  const w = post.w;
  const V = post.V;
  const K = post.size;
  const sigma2 = post.sigma2;
  const varScale = explorationScale * sigma2;
  const M = post.eventValue;
  const floor = MIN_CONTEXT_NOISE_SHARE * sigma2;
  const explore = post.explore;
  for (let p = 0; p < count; p++) {
    const a = candidates[p] as number;
    if (!(a >= 0 && a < K) || (a | 0) !== a) throw new InvalidArgumentError(`candidate index ${a} out of range`);
    const wo = a * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += (w[wo + i] as number) * (x[i] as number);
    const vo = a * dp;
    let q = 0;
    for (let i = 0; i < dp; i++) q += (V[vo + i] as number) * (xx[i] as number);
    outMean[p] = mean;
    // Rounding can push a tiny quadratic form below 0; a variance is never negative.
    if (!(q > 0)) outSd[p] = 0;
    else if (M > 0) {
      outSd[p] = Math.sqrt(explore[a]! * explorationScale * contextNoise(mean, Math.sqrt(sigma2 * q), M, floor) * q);
    } else outSd[p] = Math.sqrt(explore[a]! * varScale * q);
  }
}
