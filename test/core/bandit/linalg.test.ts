import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NotPositiveDefiniteError } from '../../../shared/core/bandit/errors.ts';
import {
  choleskyInPlace,
  choleskySolveInPlace,
  invertSpd,
  isPositiveDefinite,
  packedIndex,
  packedIndexSym,
  packedSize,
  packSymmetric,
  quadFormPacked,
  smallestEigenvalue,
  symMatVecPacked,
  symRank1Packed,
  unpackSymmetric,
} from '../../../shared/core/bandit/linalg.ts';
import { createRng } from '../../../shared/core/random.ts';

/** A random SPD matrix G Gᵀ + δ I (row-major, full). */
function randomSpd(n: number, seed: number, delta = 0.1): Float64Array {
  const r = createRng(seed);
  const g = new Float64Array(n * n).map(() => r.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? delta : 0;
      for (let k = 0; k < n; k++) s += (g[i * n + k] as number) * (g[j * n + k] as number);
      a[i * n + j] = s;
    }
  return a;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (b[k * n + j] as number);
      c[i * n + j] = s;
    }
  return c;
}

const dims = fc.integer({ min: 1, max: 12 });
const seeds = fc.integer({ min: 0, max: 2 ** 31 });

describe('packed symmetric storage', () => {
  it('numbers the upper triangle row by row without gaps', () => {
    for (let n = 1; n <= 9; n++) {
      let expected = 0;
      for (let i = 0; i < n; i++)
        for (let j = i; j < n; j++) {
          expect(packedIndex(i, j, n)).toBe(expected++);
          expect(packedIndexSym(j, i, n)).toBe(packedIndex(i, j, n));
        }
      expect(expected).toBe(packedSize(n));
    }
  });

  it('round-trips through pack/unpack and computes quadratic forms, products and rank-1 updates', () => {
    fc.assert(
      fc.property(dims, seeds, (n, seed) => {
        const a = randomSpd(n, seed);
        const p = packSymmetric(a, n, new Float64Array(packedSize(n)));
        expect(Array.from(unpackSymmetric(p, n, new Float64Array(n * n)))).toEqual(Array.from(a));
        const r = createRng(seed + 1);
        const x = new Float64Array(n).map(() => r.normal());
        let q = 0;
        const ax = new Float64Array(n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            q += (x[i] as number) * (a[i * n + j] as number) * (x[j] as number);
            ax[i] = (ax[i] as number) + (a[i * n + j] as number) * (x[j] as number);
          }
        expect(quadFormPacked(p, n, x)).toBeCloseTo(q, 8);
        const y = symMatVecPacked(p, n, x, new Float64Array(n));
        for (let i = 0; i < n; i++) expect(y[i]).toBeCloseTo(ax[i] as number, 8);
        symRank1Packed(p, n, x, 2);
        for (let i = 0; i < n; i++)
          for (let j = i; j < n; j++) {
            const want = (a[i * n + j] as number) + 2 * (x[i] as number) * (x[j] as number);
            expect(p[packedIndex(i, j, n)]).toBeCloseTo(want, 10);
          }
      }),
      { numRuns: 200 },
    );
  });
});

describe('Cholesky', () => {
  it('factors A = L Lᵀ with L lower triangular', () => {
    fc.assert(
      fc.property(dims, seeds, (n, seed) => {
        const a = randomSpd(n, seed);
        const l = choleskyInPlace(a.slice(), n);
        const lt = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            if (j > i) expect(l[i * n + j]).toBe(0);
            lt[j * n + i] = l[i * n + j] as number;
          }
        const back = matmul(l, lt, n);
        for (let i = 0; i < n * n; i++) expect(Math.abs((back[i] as number) - (a[i] as number))).toBeLessThan(1e-9);
      }),
      { numRuns: 200 },
    );
  });

  it('solves A x = b and inverts A', () => {
    fc.assert(
      fc.property(dims, seeds, (n, seed) => {
        const a = randomSpd(n, seed, 1);
        const r = createRng(seed ^ 0x5555);
        const xTrue = new Float64Array(n).map(() => r.normal());
        const b = new Float64Array(n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) b[i] = (b[i] as number) + (a[i * n + j] as number) * (xTrue[j] as number);
        const l = choleskyInPlace(a.slice(), n);
        const x = choleskySolveInPlace(l, n, b);
        for (let i = 0; i < n; i++) expect(Math.abs((x[i] as number) - (xTrue[i] as number))).toBeLessThan(1e-8);
        const inv = invertSpd(a, n, new Float64Array(n * n), new Float64Array(n * n));
        const eye = matmul(a, inv, n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++)
            expect(Math.abs((eye[i * n + j] as number) - (i === j ? 1 : 0))).toBeLessThan(1e-9);
      }),
      { numRuns: 200 },
    );
  });

  it('throws a typed error on an indefinite or NaN matrix instead of returning NaNs', () => {
    const indefinite = new Float64Array([1, 2, 2, 1]);
    expect(() => choleskyInPlace(indefinite, 2)).toThrow(NotPositiveDefiniteError);
    expect(() => choleskyInPlace(new Float64Array([Number.NaN]), 1)).toThrow(NotPositiveDefiniteError);
    try {
      choleskyInPlace(new Float64Array([1, 2, 2, 1]), 2);
    } catch (e) {
      expect((e as NotPositiveDefiniteError).pivot).toBe(1);
      expect((e as NotPositiveDefiniteError).value).toBeCloseTo(-3, 12);
    }
  });
});

describe('smallest eigenvalue and the positive-definiteness test', () => {
  /** Q diag(λ) Qᵀ with Q orthogonal (Gram–Schmidt on a random matrix): a matrix of known spectrum. */
  function withSpectrum(lambdas: readonly number[], seed: number): Float64Array {
    const n = lambdas.length;
    const r = createRng(seed);
    const q: number[][] = [];
    while (q.length < n) {
      const v = Array.from({ length: n }, () => r.normal());
      for (const u of q) {
        const dotUv = u.reduce((acc, ui, i) => acc + ui * v[i]!, 0);
        for (let i = 0; i < n; i++) v[i]! -= dotUv * u[i]!;
      }
      const norm = Math.hypot(...v);
      if (norm > 1e-6) q.push(v.map((x) => x / norm));
    }
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) a[i * n + j] = lambdas.reduce((acc, l, k) => acc + l * q[k]![i]! * q[k]![j]!, 0);
    return a;
  }

  it('finds λmin of a matrix of known spectrum, also when the two smallest are 1e-6 apart', () => {
    fc.assert(
      fc.property(dims, seeds, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (n, seed, smallest) => {
        const r = createRng(seed ^ 0x3333);
        const lambdas = [
          smallest,
          smallest * (1 + 1e-6),
          ...Array.from({ length: n }, () => smallest * (1 + 10 * r.next())),
        ];
        const a = withSpectrum(lambdas.slice(0, Math.max(n, 2)), seed);
        const m = Math.max(n, 2);
        const got = smallestEigenvalue(a, m, new Float64Array(m * m));
        expect(Math.abs(got - smallest) / smallest).toBeLessThan(1e-8);
      }),
      { numRuns: 200 },
    );
  });

  it('says positive definite exactly on the right side of λmin, and returns 0 for a singular matrix', () => {
    const a = withSpectrum([0.5, 2, 3], 7);
    const shifted = (mu: number) => {
      const b = a.slice();
      for (let i = 0; i < 3; i++) b[i * 3 + i]! -= mu;
      return isPositiveDefinite(b, 3);
    };
    expect(shifted(0.5 * (1 - 1e-9))).toBe(true);
    expect(shifted(0.5 * (1 + 1e-9))).toBe(false);
    expect(smallestEigenvalue(withSpectrum([0, 1, 2], 3), 3, new Float64Array(9))).toBeLessThan(1e-12);
  });
});
