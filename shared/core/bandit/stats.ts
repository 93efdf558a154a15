/**
 * Per-action sufficient statistics of the hybrid linear bandit.
 *
 * Because an action's feature vector c_a is fixed, every observation of action a has shared feature z = x ⊗ c_a, so
 * the whole hybrid posterior (shared β and per-action θ_a) is a function of these per-action sums alone (see
 * `posterior.ts`). A write therefore touches only the statistics of the actions it concerns: there is no global
 * item for every writer to contend on. All fields are plain sums, so statistics from independent writers merge by
 * addition ({@link mergeStats}) in any order and grouping.
 */
import { DimensionMismatchError, InvalidArgumentError, StatsFormatError } from './errors.ts';
import { packedSize, symRank1Packed } from './linalg.ts';

/** Sufficient statistics of one action over context dimension d. */
export interface ActionStats {
  /** Number of impressions (a real number once importance-weighted by {@link scaleStats}). */
  n: number;
  /** Σ r. */
  sumR: number;
  /** Σ r² (see {@link addReward} for what it means when one decision gets several rewards). */
  sumR2: number;
  /** Σ x xᵀ, packed upper triangle, d(d+1)/2 entries. */
  sxx: Float64Array;
  /** Σ x r, d entries. */
  sxr: Float64Array;
}

/** Current binary layout of {@link encodeStats}. */
export const STATS_FORMAT_VERSION = 1;
const HEADER_BYTES = 8;

/** Zero statistics for context dimension d. */
export function emptyStats(d: number): ActionStats {
  if (!Number.isInteger(d) || d < 1 || d > 0xffff) throw new InvalidArgumentError(`d must be in 1..65535, got ${d}`);
  return { n: 0, sumR: 0, sumR2: 0, sxx: new Float64Array(packedSize(d)), sxr: new Float64Array(d) };
}

/** A deep copy, so a cached posterior input cannot be mutated through a later update. */
export function cloneStats(s: ActionStats): ActionStats {
  return { n: s.n, sumR: s.sumR, sumR2: s.sumR2, sxx: s.sxx.slice(), sxr: s.sxr.slice() };
}

function checkX(s: ActionStats, x: Float64Array): void {
  if (x.length !== s.sxr.length) throw new DimensionMismatchError('context length', s.sxr.length, x.length);
}

function checkReward(r: number): void {
  if (!Number.isFinite(r)) throw new InvalidArgumentError(`reward must be finite, got ${r}`);
}

/** Records one impression of the action in context x with reward r (r = 0 when the reward is still unknown). */
export function addObservation(s: ActionStats, x: Float64Array, r: number): void {
  addWeightedObservation(s, x, r, 1);
}

/**
 * Records one observation (x, r) that carries weight w ≥ 0 (an importance weight, core/importance.ts): n += w,
 * Σxxᵀ += w xxᵀ, Σxr += w x r, Σr += w r, Σr² += w r². With w = 1 this is {@link addObservation}, exactly.
 */
export function addWeightedObservation(s: ActionStats, x: Float64Array, r: number, w: number): void {
  checkX(s, x);
  checkReward(r);
  if (!(w >= 0) || !Number.isFinite(w)) throw new InvalidArgumentError(`weight must be finite and >= 0, got ${w}`);
  s.n += w;
  symRank1Packed(s.sxx, s.sxr.length, x, w);
  const wr = w * r;
  const sxr = s.sxr;
  for (let i = 0; i < sxr.length; i++) sxr[i] = (sxr[i] as number) + (x[i] as number) * wr;
  s.sumR += wr;
  s.sumR2 += wr * r;
}

/**
 * Adds a reward r for a decision whose impression was already counted (with reward 0) by {@link addObservation}:
 * Σ x r and Σ r gain exactly what a single observation with the total reward would have had, so the posterior mean
 * is exact. Σ r² gains r², so when one decision receives several rewards r₁…r_j it holds Σ r_i² rather than
 * (Σ r_i)²: it underestimates that decision's squared reward, which only affects the noise-variance estimate, and
 * only slightly when most decisions get at most one reward.
 */
export function addReward(s: ActionStats, x: Float64Array, r: number): void {
  checkX(s, x);
  checkReward(r);
  const sxr = s.sxr;
  for (let i = 0; i < sxr.length; i++) sxr[i] = (sxr[i] as number) + (x[i] as number) * r;
  s.sumR += r;
  s.sumR2 += r * r;
}

/** into += from. Addition of sums: associative and commutative, so partial aggregates combine in any order. */
export function mergeStats(into: ActionStats, from: ActionStats): void {
  if (into.sxr.length !== from.sxr.length) {
    throw new DimensionMismatchError('merged stats dimension', into.sxr.length, from.sxr.length);
  }
  into.n += from.n;
  into.sumR += from.sumR;
  into.sumR2 += from.sumR2;
  const a = into.sxx;
  const b = from.sxx;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) + (b[i] as number);
  const u = into.sxr;
  const v = from.sxr;
  for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) + (v[i] as number);
}

/**
 * Multiplies every sum by w ≥ 0: the statistics of a sample whose observations all carry weight w (importance
 * weighting for offline retraining, or exponential forgetting with w < 1).
 */
export function scaleStats(s: ActionStats, w: number): void {
  if (!(w >= 0) || !Number.isFinite(w)) throw new InvalidArgumentError(`weight must be finite and >= 0, got ${w}`);
  s.n *= w;
  s.sumR *= w;
  s.sumR2 *= w;
  const a = s.sxx;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) * w;
  const u = s.sxr;
  for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) * w;
}

/**
 * Serializes statistics: an 8-byte header (byte 0: format version, byte 1: 0, bytes 2–3: d as little-endian
 * uint16, bytes 4–7: 0) followed by little-endian float64s n, sumR, sumR2, sxx (d(d+1)/2), sxr (d).
 * Fixed width per d, so a reader can reject a blob written for another dimension before trusting any number.
 */
export function encodeStats(s: ActionStats): Uint8Array {
  const d = s.sxr.length;
  const dp = packedSize(d);
  if (s.sxx.length !== dp) throw new DimensionMismatchError('sxx length', dp, s.sxx.length);
  const bytes = new Uint8Array(HEADER_BYTES + 8 * (3 + dp + d));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, STATS_FORMAT_VERSION);
  view.setUint16(2, d, true);
  let o = HEADER_BYTES;
  view.setFloat64(o, s.n, true);
  view.setFloat64(o + 8, s.sumR, true);
  view.setFloat64(o + 16, s.sumR2, true);
  o += 24;
  for (let i = 0; i < dp; i++, o += 8) view.setFloat64(o, s.sxx[i] as number, true);
  for (let i = 0; i < d; i++, o += 8) view.setFloat64(o, s.sxr[i] as number, true);
  return bytes;
}

/** Byte length of {@link encodeStats} output for dimension d. */
export function encodedStatsLength(d: number): number {
  return HEADER_BYTES + 8 * (3 + packedSize(d) + d);
}

/**
 * Inverse of {@link encodeStats}. Rejects with {@link StatsFormatError} an unknown version, a header dimension other
 * than `d`, a length that does not match, or a non-finite number (corruption must not reach the posterior).
 */
export function decodeStats(bytes: Uint8Array, d: number): ActionStats {
  const expected = encodedStatsLength(d);
  if (bytes.length < HEADER_BYTES) throw new StatsFormatError(`stats blob too short: ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== STATS_FORMAT_VERSION) throw new StatsFormatError(`unknown stats format version ${version}`);
  const headerD = view.getUint16(2, true);
  if (headerD !== d) throw new StatsFormatError(`stats encoded for d = ${headerD}, expected d = ${d}`);
  if (bytes.length !== expected) {
    throw new StatsFormatError(`stats blob has ${bytes.length} bytes, expected ${expected} for d = ${d}`);
  }
  const s = emptyStats(d);
  let o = HEADER_BYTES;
  s.n = view.getFloat64(o, true);
  s.sumR = view.getFloat64(o + 8, true);
  s.sumR2 = view.getFloat64(o + 16, true);
  o += 24;
  for (let i = 0; i < s.sxx.length; i++, o += 8) s.sxx[i] = view.getFloat64(o, true);
  for (let i = 0; i < d; i++, o += 8) s.sxr[i] = view.getFloat64(o, true);
  if (!Number.isFinite(s.n) || !Number.isFinite(s.sumR) || !Number.isFinite(s.sumR2)) {
    throw new StatsFormatError('stats blob holds a non-finite total');
  }
  for (const v of s.sxx) if (!Number.isFinite(v)) throw new StatsFormatError('stats blob holds a non-finite sxx');
  for (const v of s.sxr) if (!Number.isFinite(v)) throw new StatsFormatError('stats blob holds a non-finite sxr');
  return s;
}

function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Equality up to a relative tolerance `tol` (default exact), scaled by max(1, |a|, |b|) per entry. */
export function statsEqual(a: ActionStats, b: ActionStats, tol = 0): boolean {
  if (a.sxr.length !== b.sxr.length || a.sxx.length !== b.sxx.length) return false;
  if (!close(a.n, b.n, tol) || !close(a.sumR, b.sumR, tol) || !close(a.sumR2, b.sumR2, tol)) return false;
  for (let i = 0; i < a.sxx.length; i++) if (!close(a.sxx[i] as number, b.sxx[i] as number, tol)) return false;
  for (let i = 0; i < a.sxr.length; i++) if (!close(a.sxr[i] as number, b.sxr[i] as number, tol)) return false;
  return true;
}
