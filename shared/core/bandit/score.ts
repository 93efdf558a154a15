/**
 * Request-path scoring: posterior mean and standard deviation of each candidate's score for one context.
 */
import { DimensionMismatchError, InvalidArgumentError } from './errors.ts';
import type { HybridPosterior } from './posterior.ts';

/**
 * Writes, for each candidate position p (candidates[p] is an index into `post`), the posterior mean score
 * outMean[p] = xᵀw_a and the sampling standard deviation outSd[p] = sqrt(explorationScale · σ² · xᵀV_a x).
 * `explorationScale` multiplies the variance: 1 is plain Thompson sampling, 0 is greedy, values above 1 explore more.
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
  const varScale = explorationScale * post.sigma2;
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
    outSd[p] = q > 0 ? Math.sqrt(varScale * q) : 0;
  }
}
