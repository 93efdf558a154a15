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
 * Σ_{t<len} x[xo + t]·y[yo + t], with four partial sums so the additions do not wait on each other (the loops of
 * the factorisations below are bound by that chain, not by the multiplications).
 */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < len; t += 4) {
    s0 += (x[xo + t] as number) * (y[yo + t] as number);
    s1 += (x[xo + t + 1] as number) * (y[yo + t + 1] as number);
    s2 += (x[xo + t + 2] as number) * (y[yo + t + 2] as number);
    s3 += (x[xo + t + 3] as number) * (y[yo + t + 3] as number);
  }
  for (; t < len; t++) s0 += (x[xo + t] as number) * (y[yo + t] as number);
  return s0 + s1 + (s2 + s3);
}

/**
 * In-place Cholesky factorisation A = L Lᵀ of a full row-major n×n symmetric matrix: on return the lower triangle
 * (diagonal included) holds L and the strict upper triangle is zeroed, so `a` can be used as L directly.
 * Only the lower triangle of the input is read. Throws {@link NotPositiveDefiniteError} on a non-positive or
 * non-finite pivot rather than returning NaNs that would silently spread into every score.
 */
export function choleskyInPlace(a: Float64Array, n: number): Float64Array {
  const failed = factorLower(a, n);
  if (failed >= 0) throw new NotPositiveDefiniteError(n, failed, a[failed * n + failed] as number);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = 0;
  return a;
}

/**
 * Whether the symmetric matrix in `a` (full row-major n×n, lower triangle read) is positive definite: the same
 * factorisation as {@link choleskyInPlace}, which it overwrites `a` with, stopping at the first pivot that is not
 * positive and finite. n³/6 multiply-adds at most, and exact where an eigenvalue estimate would not be.
 */
export function isPositiveDefinite(a: Float64Array, n: number): boolean {
  return factorLower(a, n) < 0;
}

/** Cholesky on the lower triangle; returns −1, or the index of the first bad pivot (its value left at a[j][j]). */
function factorLower(a: Float64Array, n: number): number {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    const s = (a[rj + j] as number) - dot(a, rj, a, rj, j);
    if (!(s > 0) || !Number.isFinite(s)) {
      a[rj + j] = s;
      return j;
    }
    const ljj = Math.sqrt(s);
    a[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      a[ri + j] = ((a[ri + j] as number) - dot(a, ri, a, rj, j)) * inv;
    }
  }
  return -1;
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
 * `l` is overwritten: its upper triangle (diagonal included) then holds U = L⁻ᵀ. Cost n³/3 multiply-adds;
 * `out` must not alias `l`.
 *
 * Row j of U is column j of L⁻¹, found by forward substitution (L x = e_j, x_i = 0 for i < j), and
 * A⁻¹[i][j] = Σ_k U[i][k] U[j][k]: both steps are dot products of contiguous rows. Column j only needs the diagonal
 * L[i][i] for i ≥ j, which column j' < j has not overwritten (it writes U[j'][j'] in its own place).
 */
export function inverseFromCholesky(l: Float64Array, n: number, out: Float64Array): Float64Array {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    l[rj + j] = 1 / (l[rj + j] as number);
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      // x_i = −Σ_{j ≤ k < i} L[i][k] x_k / L[i][i], with x_k = U[j][k].
      l[rj + i] = -dot(l, ri + j, l, rj + j, i - j) / (l[ri + i] as number);
    }
  }
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = i; j < n; j++) {
      const rj = j * n;
      const v = dot(l, ri + j, l, rj + j, n - j);
      out[ri + j] = v;
      out[rj + i] = v;
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
 * Smallest eigenvalue of a symmetric matrix (full row-major n×n, lower triangle read): Householder reduction to a
 * tridiagonal T with the same eigenvalues (4n³/3 multiply-adds, in `work`, n², overwritten), then bisection on
 * Sturm counts of T to full precision (O(n) per step). No eigenvector iteration, so no dependence on a start vector
 * or on the gap to the next eigenvalue (Golub & Van Loan, "Matrix Computations", §8.3 and §8.4.1).
 */
export function smallestEigenvalue(a: Float64Array, n: number, work: Float64Array): number {
  work.set(a.subarray(0, n * n));
  const diag = new Float64Array(n);
  const off = new Float64Array(Math.max(0, n - 1));
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // Reflect column k below the diagonal onto its first entry: H = I − 2vvᵀ on rows and columns k+1…n−1.
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += (work[i * n + k] as number) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = (work[(k + 1) * n + k] as number) > 0 ? -norm : norm;
    let vnorm = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = (work[i * n + k] as number) - (i === k + 1 ? alpha : 0);
      vnorm += (v[i] as number) ** 2;
    }
    vnorm = Math.sqrt(vnorm);
    if (vnorm === 0) continue;
    for (let i = k + 1; i < n; i++) v[i] = (v[i] as number) / vnorm;
    // p = A v on the trailing block (lower triangle read), c = vᵀp, q = p − c v, A ← A − 2(v qᵀ + q vᵀ).
    let c = 0;
    for (let i = k + 1; i < n; i++) {
      let acc = 0;
      for (let j = k + 1; j < n; j++) acc += (work[i >= j ? i * n + j : j * n + i] as number) * (v[j] as number);
      p[i] = acc;
      c += (v[i] as number) * acc;
    }
    for (let i = k + 1; i < n; i++) p[i] = (p[i] as number) - c * (v[i] as number);
    for (let i = k + 1; i < n; i++) {
      const vi = v[i] as number;
      const pi = p[i] as number;
      const ri = i * n;
      for (let j = k + 1; j <= i; j++)
        work[ri + j] = (work[ri + j] as number) - 2 * (vi * (p[j] as number) + pi * (v[j] as number));
    }
    work[(k + 1) * n + k] = alpha;
    for (let i = k + 2; i < n; i++) work[i * n + k] = 0;
  }
  for (let i = 0; i < n; i++) diag[i] = work[i * n + i] as number;
  for (let i = 0; i < n - 1; i++) off[i] = work[(i + 1) * n + i] as number;
  // Gershgorin bounds, then bisection: μ > λmin exactly when T − μI has a negative pivot.
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const radius = (i > 0 ? Math.abs(off[i - 1] as number) : 0) + (i < n - 1 ? Math.abs(off[i] as number) : 0);
    lo = Math.min(lo, (diag[i] as number) - radius);
    hi = Math.min(hi, diag[i] as number);
  }
  const below = (mu: number): boolean => {
    let q = (diag[0] as number) - mu;
    for (let i = 1; i < n && q >= 0; i++) {
      q = (diag[i] as number) - mu - (off[i - 1] as number) ** 2 / (q === 0 ? Number.MIN_VALUE : q);
    }
    return q < 0;
  };
  for (let it = 0; it < 200; it++) {
    const mid = 0.5 * (lo + hi);
    if (!(mid > lo && mid < hi)) break;
    if (below(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
