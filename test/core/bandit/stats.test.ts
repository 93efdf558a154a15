import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DimensionMismatchError, InvalidArgumentError, StatsFormatError } from '../../../shared/core/bandit/errors.ts';
import { packedIndex } from '../../../shared/core/bandit/linalg.ts';
import {
  type ActionStats,
  addObservation,
  addReward,
  addWeightedObservation,
  cloneStats,
  decodeStats,
  emptyStats,
  encodedStatsLength,
  encodeStats,
  mergeStats,
  scaleStats,
  statsEqual,
} from '../../../shared/core/bandit/stats.ts';

const D = 4;
const finite = fc.double({ min: -10, max: 10, noNaN: true });
const observation = fc.record({
  x: fc.array(finite, { minLength: D, maxLength: D }).map((a) => Float64Array.from(a)),
  r: finite,
});

function statsOf(obs: { x: Float64Array; r: number }[]): ActionStats {
  const s = emptyStats(D);
  for (const o of obs) addObservation(s, o.x, o.r);
  return s;
}

describe('ActionStats updates', () => {
  it('accumulates n, Σr, Σr², Σxxᵀ and Σxr', () => {
    const s = emptyStats(2);
    addObservation(s, new Float64Array([1, 2]), 3);
    addObservation(s, new Float64Array([1, -1]), 0);
    expect(s.n).toBe(2);
    expect(s.sumR).toBe(3);
    expect(s.sumR2).toBe(9);
    expect(Array.from(s.sxx)).toEqual([2, 1, 5]); // [1+1, 2−1, 4+1]
    expect(Array.from(s.sxr)).toEqual([3, 6]);
  });

  it('addReward after a zero-reward impression equals one observation with that reward', () => {
    fc.assert(
      fc.property(observation, (o) => {
        const late = emptyStats(D);
        addObservation(late, o.x, 0);
        addReward(late, o.x, o.r);
        const direct = emptyStats(D);
        addObservation(direct, o.x, o.r);
        expect(statsEqual(late, direct, 1e-12)).toBe(true);
      }),
    );
  });

  it('sums r_i² (not (Σ r_i)²) when one decision gets several rewards, as documented', () => {
    const s = emptyStats(1);
    const x = new Float64Array([1]);
    addObservation(s, x, 0);
    addReward(s, x, 1);
    addReward(s, x, 2);
    expect(s.sumR).toBe(3);
    expect(s.sumR2).toBe(5);
  });

  it('a weighted observation adds w times what one observation adds, and w = 1 is addObservation exactly', () => {
    fc.assert(
      fc.property(observation, fc.double({ min: 0, max: 50, noNaN: true }), (o, w) => {
        const weighted = emptyStats(D);
        addWeightedObservation(weighted, o.x, o.r, w);
        const scaled = statsOf([o]);
        scaleStats(scaled, w);
        expect(statsEqual(weighted, scaled, 1e-9)).toBe(true);
        const one = emptyStats(D);
        addWeightedObservation(one, o.x, o.r, 1);
        expect(one).toEqual(statsOf([o]));
      }),
    );
    expect(() => addWeightedObservation(emptyStats(D), new Float64Array(D), 1, -1)).toThrow(InvalidArgumentError);
    expect(() => addWeightedObservation(emptyStats(D), new Float64Array(D), 1, Number.NaN)).toThrow(
      InvalidArgumentError,
    );
  });

  it('rejects a context of the wrong length and a non-finite reward', () => {
    const s = emptyStats(3);
    expect(() => addObservation(s, new Float64Array(2), 1)).toThrow(DimensionMismatchError);
    expect(() => addObservation(s, new Float64Array(3), Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => addReward(s, new Float64Array(3), Number.POSITIVE_INFINITY)).toThrow(InvalidArgumentError);
  });
});

describe('mergeStats', () => {
  it('sum of partial aggregates equals the single-writer statistics, in any grouping and order', () => {
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 30 }), fc.nat(), fc.nat(), (obs, cut1, cut2) => {
        const i = obs.length === 0 ? 0 : cut1 % (obs.length + 1);
        const j = i + (obs.length - i === 0 ? 0 : cut2 % (obs.length - i + 1));
        const a = statsOf(obs.slice(0, i));
        const b = statsOf(obs.slice(i, j));
        const c = statsOf(obs.slice(j));
        const single = statsOf(obs);
        // (a + b) + c
        const left = cloneStats(a);
        mergeStats(left, b);
        mergeStats(left, c);
        // c + (b + a)
        const inner = cloneStats(b);
        mergeStats(inner, a);
        const right = cloneStats(c);
        mergeStats(right, inner);
        expect(statsEqual(left, single, 1e-12)).toBe(true);
        expect(statsEqual(right, single, 1e-12)).toBe(true);
        expect(statsEqual(left, right, 1e-12)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to merge statistics of different dimensions', () => {
    expect(() => mergeStats(emptyStats(2), emptyStats(3))).toThrow(DimensionMismatchError);
  });
});

describe('scaleStats', () => {
  it('scaling by w equals adding every observation with weight w', () => {
    const s = statsOf([
      { x: Float64Array.from([1, 2, 3, 4]), r: 1 },
      { x: Float64Array.from([0, 1, 0, 1]), r: 2 },
    ]);
    const t = cloneStats(s);
    scaleStats(t, 0.5);
    expect(t.n).toBe(1);
    expect(t.sumR).toBe(1.5);
    expect(t.sumR2).toBe(2.5);
    expect(t.sxx[packedIndex(1, 3, D)]).toBe(0.5 * (2 * 4 + 1));
    expect(t.sxr[3]).toBe(0.5 * (4 + 2));
    expect(() => scaleStats(t, -1)).toThrow(InvalidArgumentError);
  });
});

describe('encodeStats / decodeStats', () => {
  it('round-trips exactly', () => {
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 10 }), (obs) => {
        const s = statsOf(obs);
        const bytes = encodeStats(s);
        expect(bytes.length).toBe(encodedStatsLength(D));
        expect(statsEqual(decodeStats(bytes, D), s)).toBe(true);
      }),
    );
  });

  it('writes a version byte and d in the header, little-endian float64 after it', () => {
    const s = emptyStats(2);
    s.n = 1.5;
    const bytes = encodeStats(s);
    expect(bytes[0]).toBe(1);
    expect(bytes[2]).toBe(2);
    expect(bytes[3]).toBe(0);
    expect(new DataView(bytes.buffer).getFloat64(8, true)).toBe(1.5);
  });

  it('decodes from a view into a larger buffer (as a storage SDK may hand it over)', () => {
    const s = statsOf([{ x: Float64Array.from([1, 2, 3, 4]), r: 1 }]);
    const bytes = encodeStats(s);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(statsEqual(decodeStats(big.subarray(3), D), s)).toBe(true);
  });

  it('rejects another version, another d, a truncated or padded blob, and non-finite content', () => {
    const bytes = encodeStats(statsOf([{ x: Float64Array.from([1, 2, 3, 4]), r: 1 }]));
    const v2 = bytes.slice();
    v2[0] = 2;
    expect(() => decodeStats(v2, D)).toThrow(StatsFormatError);
    expect(() => decodeStats(bytes, D + 1)).toThrow(StatsFormatError);
    expect(() => decodeStats(bytes.subarray(0, bytes.length - 8), D)).toThrow(StatsFormatError);
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes);
    expect(() => decodeStats(padded, D)).toThrow(StatsFormatError);
    expect(() => decodeStats(new Uint8Array(3), D)).toThrow(StatsFormatError);
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat64(8 + 24, Number.NaN, true);
    expect(() => decodeStats(nan, D)).toThrow(StatsFormatError);
  });
});
