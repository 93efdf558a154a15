/**
 * Deterministic feature encoding: turns a context or an action's attributes into the fixed-length vector the
 * bandit learns on.
 *
 * **The encoding rule** (stable: changing it invalidates every learned model, so it is part of the public contract):
 *
 * - The output has `dim` slots. Slot 0 is always the bias, `1.0`, so every model has an intercept.
 * - An **array** of numbers is dense: element `i` goes to slot `1 + i`; remaining slots are 0. An array longer than
 *   `dim − 1` is an error, never silently truncated.
 * - An **object** is encoded by signed feature hashing (Weinberger et al., 2009, "Feature Hashing for Large Scale
 *   Multitask Learning") into slots `1 … dim − 1`:
 *   - a numeric feature `name: v` hashes the key `name` and adds `sign · v`;
 *   - a boolean feature adds `sign · 1` under the key `name` when true and nothing when false;
 *   - a string feature hashes the key `name=value` and adds `sign · 1` (a one-hot of the category);
 *   - where `h = murmur3_32(utf8(key), 0)` gives the slot `1 + (h mod (dim − 1))` and
 *     `murmur3_32(utf8(key), 0x9747b28c)` gives the sign: `+1` if its bit 31 is 0, else `−1`.
 *
 *   Colliding features add up; the random sign makes collisions cancel in expectation instead of biasing a slot
 *   upwards, which is why the inner products the bandit relies on are preserved on average.
 * - NaN and ±Infinity are rejected with {@link FeatureEncodingError} (boundary schemas should have caught them; a
 *   non-finite value would poison every statistic it touches forever).
 *
 * Hashing needs no shared vocabulary, so new categories need no deployment, and the encoding of a request depends
 * only on the request: the serving path, the reward path and offline replays all see the same vector.
 */

/** Raised when values cannot be encoded under the rule above; `feature` names the offending input when known. */
export class FeatureEncodingError extends Error {
  override readonly name = 'FeatureEncodingError';
  readonly feature: string | undefined;

  constructor(message: string, feature?: string, options?: ErrorOptions) {
    super(message, options);
    this.feature = feature;
  }
}

/** Seed of the second hash that decides the sign (the classic MurmurHash seed constant). */
export const SIGN_HASH_SEED = 0x9747b28c;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

// Streaming MurmurHash3 state. Module-level so hashing a key never allocates (no TextEncoder buffer, no
// concatenated `name=value` string); safe because JavaScript runs this synchronously on one thread.
let mH = 0;
let mK = 0;
let mLen = 0;

function mReset(seed: number): void {
  mH = seed >>> 0;
  mK = 0;
  mLen = 0;
}

function mByte(b: number): void {
  mK |= b << ((mLen & 3) << 3);
  mLen++;
  if ((mLen & 3) === 0) {
    let k = Math.imul(mK, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    let h = mH ^ k;
    h = (h << 13) | (h >>> 19);
    mH = (Math.imul(h, 5) + 0xe6546b64) | 0;
    mK = 0;
  }
}

/** Feeds the UTF-8 bytes of `s`; lone surrogates become U+FFFD, exactly as `TextEncoder` does. */
function mString(s: string): void {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      mByte(c);
      continue;
    }
    if (c < 0x800) {
      mByte(0xc0 | (c >> 6));
      mByte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        mByte(0xf0 | (c >> 18));
        mByte(0x80 | ((c >> 12) & 0x3f));
        mByte(0x80 | ((c >> 6) & 0x3f));
        mByte(0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    mByte(0xe0 | (c >> 12));
    mByte(0x80 | ((c >> 6) & 0x3f));
    mByte(0x80 | (c & 0x3f));
  }
}

function mFinish(): number {
  let h = mH;
  if ((mLen & 3) !== 0) {
    let k = Math.imul(mK, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= mLen;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of `a` (or of `a=b` when `b` is given) without building the concatenated string. */
function hashKey(a: string, b: string | undefined, seed: number): number {
  mReset(seed);
  mString(a);
  if (b !== undefined) {
    mByte(0x3d); // '='
    mString(b);
  }
  return mFinish();
}

/**
 * MurmurHash3 x86_32 of the UTF-8 encoding of `key`, as an unsigned 32-bit integer. Matches the reference
 * implementation (and `mmh3.hash(key, seed, signed=False)`), so other languages can reproduce the encoding.
 */
export function murmur3_32(key: string, seed: number): number {
  return hashKey(key, undefined, seed);
}

/** Where a hashed key lands and with which sign; exported so documentation and tests can show the mapping. */
export function hashedSlot(key: string, dim: number): { slot: number; sign: 1 | -1 } {
  if (!Number.isInteger(dim) || dim < 2) throw new FeatureEncodingError(`hashing needs dim >= 2, got ${dim}`, key);
  const slot = 1 + (murmur3_32(key, 0) % (dim - 1));
  const sign = (murmur3_32(key, SIGN_HASH_SEED) & 0x80000000) === 0 ? 1 : -1;
  return { slot, sign };
}

function addHashed(out: Float64Array, buckets: number, name: string, category: string | undefined, v: number): void {
  const slot = 1 + (hashKey(name, category, 0) % buckets);
  const negative = (hashKey(name, category, SIGN_HASH_SEED) & 0x80000000) !== 0;
  out[slot] = (out[slot] ?? 0) + (negative ? -v : v);
}

/**
 * Encodes `values` into a vector of length `dim` following the rule in this module's documentation.
 * When `out` is given (its length must be `dim`) it is zeroed and filled in place and nothing is allocated, which
 * is what the request path does with a buffer it reuses.
 */
export function encodeFeatures(
  values: Readonly<Record<string, number | string | boolean>> | readonly number[],
  dim: number,
  out?: Float64Array,
): Float64Array {
  if (!Number.isInteger(dim) || dim < 1) throw new FeatureEncodingError(`dim must be a positive integer, got ${dim}`);
  let target: Float64Array;
  if (out === undefined) {
    target = new Float64Array(dim);
  } else {
    if (out.length !== dim) throw new FeatureEncodingError(`out has length ${out.length}, expected dim = ${dim}`);
    target = out;
    target.fill(0);
  }
  target[0] = 1;

  if (Array.isArray(values)) {
    const arr = values as readonly number[];
    if (arr.length > dim - 1) {
      throw new FeatureEncodingError(`${arr.length} dense features do not fit in dim − 1 = ${dim - 1} slots`);
    }
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new FeatureEncodingError(`dense feature ${i} is not a finite number: ${String(v)}`, String(i));
      }
      target[1 + i] = v;
    }
    return target;
  }

  const record = values as Readonly<Record<string, number | string | boolean>>;
  const buckets = dim - 1;
  for (const name in record) {
    if (!Object.hasOwn(record, name)) continue;
    const v = record[name];
    if (buckets === 0) throw new FeatureEncodingError('hashing needs dim >= 2', name);
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new FeatureEncodingError(`feature ${name} is not finite: ${v}`, name);
      addHashed(target, buckets, name, undefined, v);
    } else if (typeof v === 'boolean') {
      if (v) addHashed(target, buckets, name, undefined, 1);
    } else if (typeof v === 'string') {
      addHashed(target, buckets, name, v, 1);
    } else {
      throw new FeatureEncodingError(`feature ${name} has unsupported type ${typeof v}`, name);
    }
  }
  return target;
}
