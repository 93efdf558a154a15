/**
 * Seeded pseudo-random numbers for the pure core.
 *
 * The core never calls `Math.random`: every random decision (Thompson draws, ε-exploration, simulations) goes
 * through an {@link Rng} so that a test, a replay or an offline simulation can reproduce a decision exactly from its
 * seed. The generator is xoshiro128** (Blackman & Vigna 2018): 128 bits of state, period 2^128 − 1, passes BigCrush,
 * and needs only 32-bit integer arithmetic, which JavaScript does exactly with `Math.imul` and `>>> 0`.
 * It is not cryptographically secure and need not be: it only has to be unpredictable enough that exploration is
 * not steerable by a client, which {@link cryptoRng} gives by seeding from the OS.
 */

/** A source of uniform and standard normal numbers. */
export type Rng = {
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Uniform integer in [0, n); `n` must be a positive safe integer. */
  int(n: number): number;
};

const TWO_PI = 2 * Math.PI;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** splitmix32: spreads a 32-bit seed over the 128-bit state so that nearby seeds give unrelated streams. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units: a string seed only needs to be stable, not well distributed (splitmix mixes). */
function hashSeed(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

function fromState(s0: number, s1: number, s2: number, s3: number): Rng {
  // xoshiro's only forbidden state is all zeros.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  let a = s0 | 0;
  let b = s1 | 0;
  let c = s2 | 0;
  let d = s3 | 0;
  let spare = 0;
  let hasSpare = false;

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };

  const next = (): number => {
    const hi = nextU32() >>> 5;
    const lo = nextU32() >>> 6;
    return (hi * TWO_POW_26 + lo) / TWO_POW_53;
  };

  return {
    next,
    normal(): number {
      // Box–Muller yields two independent normals per pair of uniforms; keep the second for the next call.
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      const u1 = 1 - next(); // (0, 1]: log is finite
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = TWO_PI * u2;
      spare = r * Math.sin(theta);
      hasSpare = true;
      return r * Math.cos(theta);
    },
    int(n: number): number {
      if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive safe integer, got ${n}`);
      // The bias of floor(u·n) is at most n/2^53, far below anything a bandit can notice.
      return Math.floor(next() * n);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A deterministic generator: the same seed always yields the same stream, on every platform.
 * A numeric seed is taken modulo 2^32; a string seed is hashed first (so `'user-42'` is a fine seed).
 */
export function createRng(seed: number | string): Rng {
  const base = typeof seed === 'string' ? hashSeed(seed) : Math.trunc(seed) >>> 0;
  const st = { s: base | 0 };
  return fromState(splitmix32(st), splitmix32(st), splitmix32(st), splitmix32(st));
}

/** A generator seeded from the platform CSPRNG, for serving: streams differ per container and are not guessable. */
export function cryptoRng(): Rng {
  const seed = new Uint32Array(4);
  globalThis.crypto.getRandomValues(seed);
  return fromState(seed[0] ?? 0, seed[1] ?? 0, seed[2] ?? 0, seed[3] ?? 0);
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates), e.g. for seeded folds and sample splits. */
export function shuffledIndices(n: number, rng: Rng): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i] as number;
    out[i] = out[j] as number;
    out[j] = tmp;
  }
  return out;
}
