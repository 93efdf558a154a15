import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../shared/core/bandit/errors.ts';
import { logNormalCdf, normalCdf } from '../../../shared/core/bandit/normal.ts';
import { argmaxProbabilities, selectThompson } from '../../../shared/core/bandit/thompson.ts';
import { createRng } from '../../../shared/core/random.ts';

function probs(mean: number[], sd: number[], epsilon = 0) {
  const out = new Float64Array(mean.length);
  const { maxAbsError } = argmaxProbabilities(
    Float64Array.from(mean),
    Float64Array.from(sd),
    mean.length,
    epsilon,
    out,
  );
  return { p: Array.from(out), maxAbsError };
}

/** P(i = argmax) by a dense 200,000-point trapezoid rule with the exact log Φ (slow, obvious, independent). */
function bruteForce(mean: number[], sd: number[]): number[] {
  const K = mean.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < K; j++) {
    lo = Math.min(lo, (mean[j] as number) - 12 * (sd[j] as number));
    hi = Math.max(hi, (mean[j] as number) + 12 * (sd[j] as number));
  }
  const N = 200_000;
  const h = (hi - lo) / N;
  const acc = new Array(K).fill(0);
  const logs = new Array(K).fill(0);
  for (let n = 0; n <= N; n++) {
    const t = lo + n * h;
    const w = n === 0 || n === N ? 0.5 : 1;
    let lf = 0;
    for (let j = 0; j < K; j++) {
      logs[j] = logNormalCdf((t - (mean[j] as number)) / (sd[j] as number));
      lf += logs[j];
    }
    for (let i = 0; i < K; i++) {
      const z = (t - (mean[i] as number)) / (sd[i] as number);
      const logPdf = -0.5 * z * z - Math.log((sd[i] as number) * Math.sqrt(2 * Math.PI));
      acc[i] += w * Math.exp(logPdf + lf - logs[i]);
    }
  }
  return acc.map((v) => v * h);
}

describe('argmaxProbabilities', () => {
  it('is exact for two candidates: P(1 wins) = Φ((μ1 − μ2)/√(σ1² + σ2²))', () => {
    const cases: [number, number, number, number][] = [
      [0, 1, 1, 2],
      [0.3, 0.1, 0.29, 0.05],
      [0, 0.5, 1e-5, 3], // tiny against huge sd
      [5, 1e-6, 4.9999, 1e-6],
      [0, 1, 6, 1], // far apart: deep tail
      [0, 1000, 1, 0.001],
    ];
    for (const [m1, s1, m2, s2] of cases) {
      const { p, maxAbsError } = probs([m1, m2], [s1, s2]);
      const want = normalCdf((m1 - m2) / Math.hypot(s1, s2));
      expect(Math.abs((p[0] as number) - want), `${[m1, s1, m2, s2]}`).toBeLessThan(1e-9);
      expect(Math.abs((p[0] as number) + (p[1] as number) - 1)).toBeLessThan(1e-12);
      expect(maxAbsError).toBeLessThan(1e-8);
    }
  });

  it('agrees with a dense brute-force quadrature within 1e-7', () => {
    const configs: [number[], number[]][] = [
      [
        [0.1, 0.2, 0.15, -0.3, 0.12],
        [0.05, 0.1, 0.02, 0.5, 0.3],
      ],
      [
        [0, 0, 0.01, 0.5],
        [1, 0.5, 2, 0.7],
      ],
      [
        [1, 2, 3],
        [1, 1, 1],
      ],
    ];
    for (const [mean, sd] of configs) {
      const { p } = probs(mean, sd);
      const want = bruteForce(mean, sd);
      for (let i = 0; i < mean.length; i++) expect(Math.abs((p[i] as number) - (want[i] as number))).toBeLessThan(1e-7);
    }
  });

  it('resolves very narrow and very wide candidates together (mpmath references at 30 digits)', () => {
    const refs: [number[], number[], number[]][] = [
      [
        [0, 0.5, 0.3],
        [1, 1e-4, 2],
        [0.20276735213142455, 0.37327068521712164, 0.4239619626514538],
      ],
      [
        [0.1, 0.2, 0.15, -0.3, 0.12],
        [0.05, 0.1, 0.02, 0.5, 0.3],
        [0.031853946427796875, 0.38675406927783423, 0.11840113205199179, 0.1242130824983709, 0.3387777697440062],
      ],
      [
        [1, 1.0001, 0.9, 5],
        [0.001, 0.002, 10, 100],
        [0.11762996028872513, 0.12634445846352477, 0.2557655997473119, 0.5002599815004382],
      ],
    ];
    for (const [mean, sd, want] of refs) {
      const { p, maxAbsError } = probs(mean, sd);
      expect(maxAbsError).toBeLessThan(1e-8);
      for (let i = 0; i < mean.length; i++) {
        expect(Math.abs((p[i] as number) - (want[i] as number)), `${mean} #${i}`).toBeLessThan(
          Math.max(1e-9, maxAbsError),
        );
      }
    }
  });

  it('sums to 1 and respects the ε floor for any means and sds, tiny and huge (property)', () => {
    const sdArb = fc.oneof(
      fc.constant(0),
      fc.double({ min: 1e-9, max: 1e-6, noNaN: true }),
      fc.double({ min: 1e-3, max: 10, noNaN: true }),
      fc.double({ min: 10, max: 1e4, noNaN: true }),
    );
    const cand = fc.record({ mean: fc.double({ min: -5, max: 5, noNaN: true }), sd: sdArb });
    fc.assert(
      fc.property(
        fc.array(cand, { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (cands, epsilon) => {
          const K = cands.length;
          const mean = Float64Array.from(cands.map((c) => c.mean));
          const sd = Float64Array.from(cands.map((c) => c.sd));
          const out = new Float64Array(K);
          const { maxAbsError } = argmaxProbabilities(mean, sd, K, epsilon, out);
          let sum = 0;
          for (const v of out) {
            expect(v).toBeGreaterThanOrEqual(epsilon / K - 1e-15);
            expect(v).toBeLessThanOrEqual(1 + 1e-12);
            sum += v;
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
          // With σ/|μ| near machine precision, t − μ itself is rounded: z carries an error of ulp(μ)/σ, which the
          // returned bound (through the deficit of the sum) reports honestly.
          let limit = 0;
          for (let i = 0; i < K; i++) {
            const s = sd[i] as number;
            if (s > 0) limit = Math.max(limit, (2.3e-16 * Math.max(Math.abs(mean[i] as number), 1)) / s);
          }
          expect(maxAbsError).toBeLessThan(1e-7 + 100 * limit);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives exactly 1/K to identical candidates and 1 to a single one', () => {
    expect(probs([0.2, 0.2, 0.2], [0.1, 0.1, 0.1]).p).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(probs([7], [0]).p).toEqual([1]);
    expect(argmaxProbabilities([], [], 0, 0, new Float64Array(0)).maxAbsError).toBe(0);
  });

  it('treats sd = 0 as a point mass: the top ones share, lower ones never win', () => {
    // Two tied point masses at 1 and one at 0: the continuous candidate beats them with P(X > 1).
    const { p } = probs([1, 1, 0, 0.5], [0, 0, 0, 0.3]);
    const cont = 1 - normalCdf((1 - 0.5) / 0.3);
    expect(p[3]).toBeCloseTo(cont, 10);
    expect(p[0]).toBeCloseTo((1 - cont) / 2, 10);
    expect(p[1]).toBe(p[0]);
    expect(p[2]).toBe(0);
    expect(probs([1, 2, 2], [0, 0, 0]).p).toEqual([0, 0.5, 0.5]);
  });

  it('mixes in ε/K', () => {
    const { p } = probs([0, 1], [1, 1], 0.3);
    const low = normalCdf(-1 / Math.SQRT2);
    expect(Math.abs((p[0] as number) - (0.15 + 0.7 * low))).toBeLessThan(1e-10);
    expect(Math.abs((p[1] as number) - (0.15 + 0.7 * (1 - low)))).toBeLessThan(1e-10);
  });

  it('matches the empirical first-slot frequencies of selectThompson (4 binomial standard errors)', () => {
    const configs: { mean: number[]; sd: number[]; epsilon: number }[] = [
      { mean: [0.1, 0.2, 0.15, -0.3, 0.12], sd: [0.05, 0.1, 0.02, 0.5, 0.3], epsilon: 0 },
      { mean: [0.1, 0.2, 0.15, -0.3, 0.12], sd: [0.05, 0.1, 0.02, 0.5, 0.3], epsilon: 0.2 },
      { mean: [1, 1, 0.5, 0.9], sd: [0, 0, 0.3, 0.1], epsilon: 0.05 },
      {
        mean: Array.from({ length: 30 }, (_, i) => Math.sin(i) * 0.2),
        sd: Array.from({ length: 30 }, (_, i) => 0.05 + 0.01 * (i % 7)),
        epsilon: 0.1,
      },
    ];
    const rng = createRng('empirical');
    const N = 200_000;
    for (const { mean, sd, epsilon } of configs) {
      const K = mean.length;
      const { p } = probs(mean, sd, epsilon);
      const counts = new Array(K).fill(0);
      const chosen = new Int32Array(1);
      const m = Float64Array.from(mean);
      const s = Float64Array.from(sd);
      for (let n = 0; n < N; n++) {
        selectThompson(m, s, K, rng, epsilon, 1, chosen);
        counts[chosen[0] as number]++;
      }
      let chi2 = 0;
      let df = 0;
      for (let i = 0; i < K; i++) {
        const pi = p[i] as number;
        const se = Math.sqrt((pi * (1 - pi)) / N);
        expect(Math.abs(counts[i] / N - pi), `config ${mean.length}/${epsilon} #${i}`).toBeLessThanOrEqual(
          4 * se + 1e-12,
        );
        if (pi * N > 5) {
          chi2 += (counts[i] - pi * N) ** 2 / (pi * N);
          df++;
        }
      }
      // χ² against the computed propensities: mean df − 1, sd √(2(df − 1)); 6 sd is far in the tail.
      expect(chi2).toBeLessThan(df - 1 + 6 * Math.sqrt(2 * Math.max(df - 1, 1)));
    }
  });

  it('handles a thousand candidates within the error target', () => {
    const r = createRng(1000);
    const K = 1000;
    const mean = new Float64Array(K).map(() => 0.1 * r.normal());
    const sd = new Float64Array(K).map(() => 0.05 + 0.1 * r.next());
    const out = new Float64Array(K);
    const { maxAbsError } = argmaxProbabilities(mean, sd, K, 0, out);
    expect(maxAbsError).toBeLessThan(1e-8);
    expect(Math.abs(out.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
  });

  it('rejects invalid input', () => {
    const out = new Float64Array(2);
    expect(() => argmaxProbabilities([0, 1], [1, -1], 2, 0, out)).toThrow(InvalidArgumentError);
    expect(() => argmaxProbabilities([0, Number.NaN], [1, 1], 2, 0, out)).toThrow(InvalidArgumentError);
    expect(() => argmaxProbabilities([0, 1], [1, 1], 2, 1.5, out)).toThrow(InvalidArgumentError);
    expect(() => argmaxProbabilities([0, 1], [1, 1], 3, 0, out)).toThrow(InvalidArgumentError);
    expect(() => argmaxProbabilities([0, 1], [1, 1], 2, 0, new Float64Array(1))).toThrow(InvalidArgumentError);
  });
});

describe('selectThompson', () => {
  it('returns distinct positions, min(slots, count) of them', () => {
    const rng = createRng(1);
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (means, slots, epsilon) => {
          const sd = means.map(() => 0.1);
          const chosen = selectThompson(means, sd, means.length, rng, epsilon, slots);
          expect(chosen.length).toBe(Math.min(slots, means.length));
          expect(new Set(chosen).size).toBe(chosen.length);
          for (const c of chosen) expect(c >= 0 && c < means.length).toBe(true);
        },
      ),
    );
  });

  it('with ε = 0 fills later slots in descending sampled order', () => {
    const rng = createRng(2);
    const chosen = selectThompson([0.1, 0.5, 0.3, 0.9], [0, 0, 0, 0], 4, rng, 0, 4);
    expect(Array.from(chosen)).toEqual([3, 1, 2, 0]);
  });

  it('with ε = 1 picks uniformly (slot 1 frequencies)', () => {
    const rng = createRng(3);
    const counts = [0, 0, 0, 0];
    const out = new Int32Array(2);
    const N = 40_000;
    let repeated = 0;
    for (let n = 0; n < N; n++) {
      selectThompson([0, 0, 0, 100], [0, 0, 0, 0], 4, rng, 1, 2, out);
      const first = out[0] as number;
      counts[first] = (counts[first] ?? 0) + 1;
      if (out[1] === first) repeated++;
    }
    expect(repeated).toBe(0);
    for (const c of counts) expect(Math.abs(c / N - 0.25)).toBeLessThan(4 * Math.sqrt((0.25 * 0.75) / N));
  });

  it('breaks exact ties uniformly, as argmaxProbabilities assumes', () => {
    const rng = createRng(4);
    const counts = [0, 0, 0];
    const N = 30_000;
    for (let n = 0; n < N; n++) {
      const first = selectThompson([1, 1, 1], [0, 0, 0], 3, rng, 0, 1)[0] as number;
      counts[first] = (counts[first] ?? 0) + 1;
    }
    for (const c of counts) expect(Math.abs(c / N - 1 / 3)).toBeLessThan(4 * Math.sqrt(2 / 9 / N));
  });

  it('reuses outChosen and marks unused entries with −1', () => {
    const out = new Int32Array(5).fill(9);
    const r = selectThompson([1, 2], [0, 0], 2, createRng(5), 0, 3, out);
    expect(r).toBe(out);
    expect(Array.from(out)).toEqual([1, 0, -1, -1, -1]);
    expect(() => selectThompson([1, 2], [0, 0], 2, createRng(5), 0, 3, new Int32Array(1))).toThrow(
      InvalidArgumentError,
    );
  });
});
