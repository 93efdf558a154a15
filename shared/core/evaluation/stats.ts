import { InvalidOptionError } from './errors.ts';

/**
 * Mean and unbiased sample variance (n − 1 denominator) of `xs`, in two passes for accuracy. The variance is 0 for
 * fewer than two values; the mean of no values is NaN.
 */
export function meanAndVariance(xs: ArrayLike<number>): { mean: number; variance: number } {
  const n = xs.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i]!;
  const mean = n === 0 ? Number.NaN : s / n;
  if (n < 2) return { mean, variance: 0 };
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i]! - mean;
    ss += d * d;
  }
  return { mean, variance: ss / (n - 1) };
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9),
 * so the confidence level is an option rather than a hard-coded 1.96.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new InvalidOptionError(`normal quantile needs 0 < p < 1, got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lowTail = 0.02425;
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  if (p < lowTail) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - lowTail) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}
