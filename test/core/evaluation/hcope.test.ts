import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chooseClip,
  empiricalBernsteinLowerBound,
  hcope,
  hoeffdingLowerBound,
  InvalidOptionError,
} from '../../../shared/core/evaluation/index.ts';

describe('concentration bounds, by hand', () => {
  // 50 zeros and 50 ones, c = 1, δ = 0.05: mean 0.5, s² = 100·0.25/99 = 0.252525, ln(2/δ) = ln 40 = 3.688879.
  const values = [...new Array(50).fill(0), ...new Array(50).fill(1)];

  it('empirical Bernstein: 0.5 − √(2·0.252525·3.688879/100) − 7·3.688879/(3·99) = 0.276562', () => {
    // √0.0186307 = 0.136494; 7·3.688879/297 = 0.086943.
    expect(empiricalBernsteinLowerBound(values, 1, 0.05)).toBeCloseTo(0.276562, 5);
  });

  it('Hoeffding: 0.5 − √(ln 20 / 200) = 0.5 − 0.122387 = 0.377613', () => {
    expect(hoeffdingLowerBound(values, 1, 0.05)).toBeCloseTo(0.377613, 5);
  });

  it('empirical Bernstein beats Hoeffding when the clipped returns have small variance', () => {
    // 1,000 returns, 10% at 0.2, the rest 0: mean 0.02, s² ≈ 0.0036; clip c = 0.2.
    const xs = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 0.2 : 0));
    expect(empiricalBernsteinLowerBound(xs, 0.2, 0.05)).toBeGreaterThan(hoeffdingLowerBound(xs, 0.2, 0.05));
  });

  it('gives no information below two values', () => {
    expect(empiricalBernsteinLowerBound([0.3], 1, 0.05)).toBe(Number.NEGATIVE_INFINITY);
  });
});

const returnsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 80 });

describe('concentration bound properties', () => {
  it('both bounds lie below the sample mean and fall as δ shrinks', () => {
    fc.assert(
      fc.property(returnsArb, fc.double({ min: 0.001, max: 0.5, noNaN: true }), (xs, delta) => {
        const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
        const eb = empiricalBernsteinLowerBound(xs, 1, delta);
        const h = hoeffdingLowerBound(xs, 1, delta);
        expect(eb).toBeLessThanOrEqual(mean + 1e-12);
        expect(h).toBeLessThanOrEqual(mean + 1e-12);
        expect(empiricalBernsteinLowerBound(xs, 1, delta / 2)).toBeLessThanOrEqual(eb + 1e-12);
        expect(hoeffdingLowerBound(xs, 1, delta / 2)).toBeLessThanOrEqual(h + 1e-12);
      }),
      { numRuns: 1000 },
    );
  });

  it('chooseClip picks the breakpoint with the largest predicted bound (brute force check)', () => {
    const predicted = (xs: number[], c: number, nBound: number, delta: number): number => {
      const ys = xs.map((x) => Math.min(x, c));
      const m = ys.reduce((s, y) => s + y, 0) / ys.length;
      const s2 = ys.reduce((s, y) => s + (y - m) ** 2, 0) / (ys.length - 1);
      const l = Math.log(2 / delta);
      return m - Math.sqrt((2 * s2 * l) / nBound) - (7 * c * l) / (3 * (nBound - 1));
    };
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 50, noNaN: true }), { minLength: 2, maxLength: 60 }),
        fc.integer({ min: 2, max: 10_000 }),
        (xs, nBound) => {
          const c = chooseClip(xs, nBound, 0.05);
          const positives = [...new Set(xs.filter((x) => x > 0))];
          if (positives.length === 0) {
            expect(c).toBe(1);
            return;
          }
          expect(positives).toContain(c);
          const best = Math.max(...positives.map((p) => predicted(xs, p, nBound, 0.05)));
          expect(predicted(xs, c, nBound, 0.05)).toBeGreaterThanOrEqual(best - 1e-9);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('hcope', () => {
  // Grid values: subnormal doubles would not survive the affine round trip and test float rounding, not the bound.
  const weightsArb = fc.array(
    fc.record({
      w: fc.integer({ min: 0, max: 3000 }).map((x) => x / 100),
      r: fc.integer({ min: 0, max: 1000 }).map((x) => x / 1000),
    }),
    { minLength: 10, maxLength: 200 },
  );

  it('splits 20% / 80% deterministically by seed and reports the split', () => {
    const w = Float64Array.from({ length: 101 }, (_, i) => (i % 7) / 2);
    const r = Float64Array.from({ length: 101 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const a = hcope(w, r, { range: { min: 0, max: 1 }, seed: 3 });
    expect(a.selectionRounds).toBe(21);
    expect(a.boundRounds).toBe(80);
    expect(hcope(w, r, { range: { min: 0, max: 1 }, seed: 3 })).toEqual(a);
  });

  it('bounds transform with an affine change of reward units', () => {
    fc.assert(
      fc.property(weightsArb, fc.integer({ min: 0, max: 1000 }), (rows, seed) => {
        const w = Float64Array.from(rows.map((x) => x.w));
        const r = Float64Array.from(rows.map((x) => x.r));
        const a = hcope(w, r, { range: { min: 0, max: 1 }, seed });
        const b = hcope(
          w,
          r.map((x) => 5 + 10 * x),
          { range: { min: 5, max: 15 }, seed },
        );
        expect(b.lowerBound).toBeCloseTo(5 + 10 * a.lowerBound, 9);
        expect(b.hoeffdingLowerBound).toBeCloseTo(5 + 10 * a.hoeffdingLowerBound, 9);
        expect(b.clip).toBeCloseTo(a.clip, 12);
      }),
      { numRuns: 300 },
    );
  });

  it('never reports a bound below the reward minimum or above the bound split’s unclipped mean return', () => {
    fc.assert(
      fc.property(weightsArb, (rows) => {
        const w = Float64Array.from(rows.map((x) => x.w));
        const r = Float64Array.from(rows.map((x) => x.r));
        const res = hcope(w, r, { range: { min: 0, max: 1 } });
        const maxReturn = Math.max(...rows.map((x) => x.w * x.r));
        expect(res.lowerBound).toBeGreaterThanOrEqual(0);
        expect(res.lowerBound).toBeLessThanOrEqual(maxReturn + 1e-12);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects δ outside (0, 1)', () => {
    expect(() => hcope(new Float64Array(4), new Float64Array(4), { range: { min: 0, max: 1 }, delta: 1 })).toThrow(
      InvalidOptionError,
    );
  });
});
