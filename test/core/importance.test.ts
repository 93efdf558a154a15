import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLIP, effectiveSampleSize, importanceWeight, weightSums } from '../../shared/core/importance.ts';

describe('importanceWeight', () => {
  it('is the target-to-logging probability ratio below the clip and the clip above it', () => {
    expect(importanceWeight(0.8, 0.5, 10)).toBeCloseTo(1.6, 12);
    expect(importanceWeight(0.5, 0.1, 3)).toBe(3);
    expect(importanceWeight(0.5, 0.001, Number.POSITIVE_INFINITY)).toBeCloseTo(500, 9);
    // The learning default: uniform over 2 candidates, logged at 0.001, would be 500.
    expect(importanceWeight(1 / 2, 0.001)).toBe(DEFAULT_CLIP);
    expect(DEFAULT_CLIP).toBe(20);
  });

  it('never exceeds the clip, is positive, and is the exact ratio when the clip does not bind (100,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1, noNaN: true }),
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        fc.double({ min: 1, max: 1e4, noNaN: true }),
        (target, p, clip) => {
          const w = importanceWeight(target, p, clip);
          return w > 0 && w <= clip && (target / p > clip || w === target / p);
        },
      ),
      { numRuns: 100_000 },
    );
  });
});

describe('effectiveSampleSize', () => {
  it("is Kish's (Σw)²/Σw²", () => {
    // Weights 1.6, 0.4, 2, 0.25, 4, 0.8: Σw = 9.05, Σw² = 23.4225, ESS = 81.9025 / 23.4225.
    expect(effectiveSampleSize(weightSums([1.6, 0.4, 2, 0.25, 4, 0.8]))).toBeCloseTo(3.496745, 6);
    expect(effectiveSampleSize({ sumW: 12, sumW2: 102 })).toBeCloseTo(144 / 102, 12);
    expect(effectiveSampleSize(weightSums([]))).toBe(0);
  });

  it('lies in [1, n], equals n when all weights are equal and falls below n when they differ', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 1, maxLength: 50 }), (ws) => {
        const ess = effectiveSampleSize(weightSums(ws));
        expect(ess).toBeGreaterThanOrEqual(1 - 1e-9);
        expect(ess).toBeLessThanOrEqual(ws.length + 1e-9);
        // Weights that differ materially cost effective samples (float rounding blurs nearly equal ones).
        if (Math.max(...ws) > 1.01 * Math.min(...ws)) expect(ess).toBeLessThan(ws.length);
        expect(effectiveSampleSize(weightSums(ws.map(() => ws[0]!)))).toBeCloseTo(ws.length, 9);
      }),
      { numRuns: 1000 },
    );
  });
});
