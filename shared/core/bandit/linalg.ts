/**
 * Small dense linear algebra on `Float64Array`s with explicit dimensions.
 *
 * Symmetric matrices that are stored or shipped (per-action statistics, posterior covariances) use the *packed upper
 * triangle, row-major* layout: entry (i, j) with i ≤ j lives at {@link packedIndex}(i, j, n), for n(n+1)/2 numbers
 * instead of n². Factorisations work on full row-major n×n buffers, where the inner loops are contiguous.
 * Nothing here allocates unless its documentation says so; callers pass the buffers they reuse.
 */
import { NotPositiveDefiniteError } from './errors.ts';

/** Number of entries of an n×n symmetric matrix in packed storage. */
export function packedSize(n: number): number {
  return (n * (n + 1)) / 2;
}

/** Offset of entry (i, j), i ≤ j, of an n×n packed upper triangle: rows are stored one after another. */
export function packedIndex(i: number, j: number, n: number): number {
  return (i * (2 * n - i - 1)) / 2 + j;
}

/** Offset of entry (i, j) for any order of i and j (symmetric access). */
export function packedIndexSym(i: number, j: number, n: number): number {
  return i <= j ? packedIndex(i, j, n) : packedIndex(j, i, n);
}

/** Expands a packed symmetric matrix into a full row-major n×n buffer. */
export function unpackSymmetric(p: Float64Array, n: number, out: Float64Array): Float64Array {
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = p[o++] as number;
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
  return out;
}

/** Packs the upper triangle of a full row-major symmetric matrix. */
export function packSymmetric(a: Float64Array, n: number, out: Float64Array): Float64Array {
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) out[o++] = a[i * n + j] as number;
  }
  return out;
}

/** `p += alpha · x xᵀ` on a packed upper triangle (the per-observation statistics update). */
export function symRank1Packed(p: Float64Array, n: number, x: Float64Array, alpha: number): void {
  let o = 0;
  for (let i = 0; i < n; i++) {
    const axi = alpha * (x[i] as number);
    for (let j = i; j < n; j++) {
      p[o] = (p[o] as number) + axi * (x[j] as number);
      o++;
    }
  }
}

/** `xᵀ P x` for a packed symmetric P. */
export function quadFormPacked(p: Float64Array, n: number, x: Float64Array, pOffset = 0): number {
  let o = pOffset;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i] as number;
    const diag = (p[o++] as number) * xi;
    let off = 0;
    for (let j = i + 1; j < n; j++) off += (p[o++] as number) * (x[j] as number);
    total += xi * (diag + 2 * off);
  }
  return total;
}

/** `out = P x` for a packed symmetric P. */
export function symMatVecPacked(p: Float64Array, n: number, x: Float64Array, out: Float64Array): Float64Array {
  out.fill(0, 0, n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i] as number;
    let acc = (p[o++] as number) * xi;
    for (let j = i + 1; j < n; j++) {
      const v = p[o++] as number;
      acc += v * (x[j] as number);
      out[j] = (out[j] as number) + v * xi;
    }
    out[i] = (out[i] as number) + acc;
  }
  return out;
}

/**
 * In-place Cholesky factorisation A = L Lᵀ of a full row-major n×n symmetric matrix: on return the lower triangle
 * (diagonal included) holds L and the strict upper triangle is zeroed, so `a` can be used as L directly.
 * Only the lower triangle of the input is read. Throws {@link NotPositiveDefiniteError} on a non-positive or
 * non-finite pivot rather than returning NaNs that would silently spread into every score.
 */
export function choleskyInPlace(a: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j] as number;
    for (let k = 0; k < j; k++) {
      const v = a[rj + k] as number;
      s -= v * v;
    }
    if (!(s > 0) || !Number.isFinite(s)) throw new NotPositiveDefiniteError(n, j, s);
    const ljj = Math.sqrt(s);
    a[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j] as number;
      for (let k = 0; k < j; k++) t -= (a[ri + k] as number) * (a[rj + k] as number);
      a[ri + j] = t * inv;
    }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = 0;
  return a;
}

/** Solves L y = b in place (forward substitution), L lower triangular row-major n×n. */
export function solveLowerInPlace(l: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[ri + k] as number) * (b[k] as number);
    b[i] = s / (l[ri + i] as number);
  }
  return b;
}

/** Solves Lᵀ x = y in place (back substitution) with the same lower-triangular L. */
export function solveLowerTransposeInPlace(l: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (b[k] as number);
    b[i] = s / (l[i * n + i] as number);
  }
  return b;
}

/** Solves A x = b in place given the Cholesky factor L of A. */
export function choleskySolveInPlace(l: Float64Array, n: number, b: Float64Array): Float64Array {
  solveLowerInPlace(l, n, b);
  return solveLowerTransposeInPlace(l, n, b);
}

/**
 * Full symmetric inverse A⁻¹ = L⁻ᵀ L⁻¹ from the Cholesky factor, written to `out` (row-major n×n, both triangles).
 * `l` is overwritten with L⁻¹. Cost n³/3 + n³/3 flops; `out` must not alias `l`.
 */
export function inverseFromCholesky(l: Float64Array, n: number, out: Float64Array): Float64Array {
  // L⁻¹ in place, column by column of the result: lower triangular inverse by forward substitution.
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    l[ri + i] = 1 / (l[ri + i] as number);
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= (l[ri + k] as number) * (l[k * n + j] as number);
      l[ri + j] = s * (l[ri + i] as number);
    }
  }
  // (L⁻¹)ᵀ L⁻¹: out[i][j] = Σ_{k ≥ max(i,j)} Linv[k][i] Linv[k][j].
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = j; k < n; k++) s += (l[k * n + i] as number) * (l[k * n + j] as number);
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/**
 * Inverse of a symmetric positive definite matrix given in full row-major storage. `work` (n², overwritten) and
 * `out` (n²) are caller buffers; `a` is left untouched. Throws {@link NotPositiveDefiniteError}.
 */
export function invertSpd(a: Float64Array, n: number, out: Float64Array, work: Float64Array): Float64Array {
  work.set(a.subarray(0, n * n));
  choleskyInPlace(work, n);
  return inverseFromCholesky(work, n, out);
}

/**
 * Largest eigenvalue of a packed symmetric positive semi-definite matrix by power iteration (Rayleigh quotient after
 * `iterations` steps from a fixed start, so the result is deterministic). Converges from below; allocates 2n.
 */
export function largestEigenvaluePacked(p: Float64Array, n: number, iterations = 50): number {
  let v = new Float64Array(n);
  let w = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 1 + i / (2 * n);
  let lambda = 0;
  for (let it = 0; it < iterations; it++) {
    let norm = 0;
    for (let i = 0; i < n; i++) norm += (v[i] as number) * (v[i] as number);
    norm = Math.sqrt(norm);
    if (!(norm > 0)) return 0;
    for (let i = 0; i < n; i++) v[i] = (v[i] as number) / norm;
    symMatVecPacked(p, n, v, w);
    lambda = 0;
    for (let i = 0; i < n; i++) lambda += (v[i] as number) * (w[i] as number);
    [v, w] = [w, v];
  }
  return lambda;
}
