import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeFeatures,
  FeatureEncodingError,
  hashedSlot,
  murmur3_32,
  SIGN_HASH_SEED,
} from '../../../shared/core/features/encode.ts';

/** Straightforward reference MurmurHash3 x86_32 over bytes, to check the streaming implementation against. */
function murmurReference(bytes: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const nBlocks = bytes.length >> 2;
  for (let b = 0; b < nBlocks; b++) {
    const i = 4 * b;
    let k = (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = nBlocks * 4;
  const rem = bytes.length & 3;
  for (let i = rem - 1; i >= 0; i--) k ^= (bytes[tail + i] ?? 0) << (8 * i);
  if (rem > 0) {
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const utf8 = new TextEncoder();

describe('murmur3_32', () => {
  it('matches the published test vectors', () => {
    expect(murmur3_32('', 0)).toBe(0);
    expect(murmur3_32('', 1)).toBe(0x514e28b7);
    expect(murmur3_32('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3_32('hello', 0)).toBe(0x248bfa47);
    expect(murmur3_32('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });

  it('hashes the UTF-8 bytes (values from an independent Python implementation)', () => {
    expect(murmur3_32('abc', 0)).toBe(0xb3dd93fa);
    expect(murmur3_32('é', 0)).toBe(0x10110787);
    expect(murmur3_32('日本語', 0)).toBe(0xa5a47297);
    expect(murmur3_32('😀', 0)).toBe(0xbeb42efa);
    expect(murmur3_32('hello', SIGN_HASH_SEED)).toBe(0x5d7f56e8);
    expect(murmur3_32('country=FR', 0)).toBe(0xb8d22113);
  });

  it('equals the byte-wise reference on TextEncoder output for any string, lone surrogates included', () => {
    const anyUtf16 = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
      .map((codes) => String.fromCharCode(...codes));
    fc.assert(
      fc.property(fc.oneof(anyUtf16, fc.string({ unit: 'grapheme' })), fc.integer(), (s, seed) => {
        expect(murmur3_32(s, seed)).toBe(murmurReference(utf8.encode(s), seed));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encodeFeatures', () => {
  it('puts the bias 1 in slot 0 and dense arrays in slots 1…', () => {
    expect(Array.from(encodeFeatures([2, -3], 4))).toEqual([1, 2, -3, 0]);
    expect(Array.from(encodeFeatures([], 1))).toEqual([1]);
  });

  it('rejects a dense array that does not fit, and non-finite values', () => {
    expect(() => encodeFeatures([1, 2, 3], 3)).toThrow(FeatureEncodingError);
    expect(() => encodeFeatures([Number.NaN], 3)).toThrow(FeatureEncodingError);
    expect(() => encodeFeatures({ a: Number.POSITIVE_INFINITY }, 3)).toThrow(FeatureEncodingError);
    expect(() => encodeFeatures({ a: 1 }, 1)).toThrow(FeatureEncodingError);
    expect(() => encodeFeatures([1], 0)).toThrow(FeatureEncodingError);
  });

  it('hashes numeric, boolean and categorical features by the documented rule', () => {
    const dim = 16;
    const v = encodeFeatures({ age: 0.5, premium: true, churned: false, country: 'FR' }, dim);
    const expected = new Float64Array(dim);
    expected[0] = 1;
    const add = (key: string, x: number) => {
      const { slot, sign } = hashedSlot(key, dim);
      expected[slot] = (expected[slot] ?? 0) + sign * x;
    };
    add('age', 0.5);
    add('premium', 1);
    add('country=FR', 1);
    expect(Array.from(v)).toEqual(Array.from(expected));
  });

  it('derives slot and sign from the two MurmurHash3 seeds', () => {
    const key = 'country=FR';
    const { slot, sign } = hashedSlot(key, 16);
    expect(slot).toBe(1 + (0xb8d22113 % 15));
    // murmur3_32('country=FR', 0x9747b28c) = 0x65ec53bc has bit 31 clear: positive sign.
    expect(sign).toBe(1);
  });

  it('is linear in numeric values and deterministic', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.integer({ min: 2, max: 64 }),
        (rec, scale, dim) => {
          const a = encodeFeatures(rec, dim);
          const scaled: Record<string, number> = {};
          for (const [k, x] of Object.entries(rec)) scaled[k] = x * scale;
          const b = encodeFeatures(scaled, dim);
          for (let i = 1; i < dim; i++) {
            const want = (a[i] as number) * scale;
            expect(Math.abs((b[i] as number) - want)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(want)) * 1e3);
          }
          expect(Array.from(encodeFeatures(rec, dim))).toEqual(Array.from(a));
        },
      ),
    );
  });

  it('reuses the out buffer: zeroes previous content and returns the same object', () => {
    const out = new Float64Array(8).fill(7);
    const r = encodeFeatures({ x: 2 }, 8, out);
    expect(r).toBe(out);
    const fresh = encodeFeatures({ x: 2 }, 8);
    expect(Array.from(out)).toEqual(Array.from(fresh));
    expect(() => encodeFeatures({ x: 2 }, 8, new Float64Array(7))).toThrow(FeatureEncodingError);
  });

  it('keeps the expected squared norm under collisions thanks to the random sign', () => {
    // With many one-hot categories in few buckets, E[‖v‖²] = 1 + number of features because signs cancel cross terms.
    const dim = 9;
    let total = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const rec: Record<string, string> = {};
      for (let f = 0; f < 6; f++) rec[`f${f}`] = `v${t}-${f}`;
      const v = encodeFeatures(rec, dim);
      let sq = 0;
      for (let i = 1; i < dim; i++) sq += (v[i] as number) ** 2;
      total += sq;
    }
    expect(total / trials).toBeGreaterThan(5.6);
    expect(total / trials).toBeLessThan(6.4);
  });
});
