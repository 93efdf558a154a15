/**
 * Thompson-sampling selection and its exact (numerically integrated) propensities.
 *
 * The policy for one request: with probability ε the first slot is drawn uniformly among the candidates;
 * otherwise each candidate's score is drawn independently, s_i ~ N(μ_i, σ_i²), and the largest wins. Each further
 * slot is drawn the same way among the candidates not yet chosen: with probability ε uniformly, otherwise the argmax
 * of a fresh draw of their scores. So the probability of an action in slot k given the slots above it is the slot-1
 * probability over the remaining candidates, exact like slot 1's ({@link nextSlotProbabilities}), and a slate's
 * probability is the product of its slots' (issue 16). Off-policy evaluation needs the probability with which the
 * logged first-slot action was chosen, which {@link argmaxProbabilities} computes for all candidates at once.
 */

import type { Rng } from '../random.ts';
import { InvalidArgumentError } from './errors.ts';
import { LOG_CDF_TABLE, logNormalCdf, TABLE_DENSITY, TABLE_Z_MIN } from './normal.ts';

// Module-level scratch, grown on demand: the request path reuses it instead of allocating per call. Safe because
// these functions run synchronously to completion.
let sampleBuf = new Float64Array(64);
let takenBuf = new Uint8Array(64);

function validateScores(mean: ArrayLike<number>, sd: ArrayLike<number>, count: number, epsilon: number): void {
  if (!Number.isInteger(count) || count < 0) throw new InvalidArgumentError(`count must be a non-negative integer`);
  if (mean.length < count || sd.length < count) throw new InvalidArgumentError('mean/sd shorter than count');
  if (!(epsilon >= 0 && epsilon <= 1)) throw new InvalidArgumentError(`epsilon must be in [0, 1], got ${epsilon}`);
  for (let i = 0; i < count; i++) {
    const m = mean[i] as number;
    const s = sd[i] as number;
    if (!Number.isFinite(m) || !Number.isFinite(s) || s < 0) {
      throw new InvalidArgumentError(`candidate ${i}: mean must be finite and sd finite and >= 0`);
    }
  }
}

/**
 * Chooses up to `slots` distinct candidates (positions into `mean`/`sd`) by the policy described in this module.
 * Exact ties between sampled scores (only possible with sd = 0) are broken uniformly at random, which is what
 * {@link argmaxProbabilities} assumes. Writes into `outChosen` when given (entries past min(slots, count) are set
 * to −1) and returns it; otherwise allocates an Int32Array of length min(slots, count).
 */
export function selectThompson(
  mean: ArrayLike<number>,
  sd: ArrayLike<number>,
  count: number,
  rng: Rng,
  epsilon: number,
  slots: number,
  outChosen?: Int32Array,
): Int32Array {
  validateScores(mean, sd, count, epsilon);
  if (!Number.isInteger(slots) || slots < 0) throw new InvalidArgumentError(`slots must be a non-negative integer`);
  const nSel = Math.min(slots, count);
  let chosen: Int32Array;
  if (outChosen === undefined) {
    chosen = new Int32Array(nSel);
  } else {
    if (outChosen.length < nSel) throw new InvalidArgumentError(`outChosen needs length >= ${nSel}`);
    chosen = outChosen;
    chosen.fill(-1);
  }
  if (sampleBuf.length < count) {
    sampleBuf = new Float64Array(Math.max(count, 2 * sampleBuf.length));
    takenBuf = new Uint8Array(sampleBuf.length);
  }
  const samples = sampleBuf;
  const taken = takenBuf;
  taken.fill(0, 0, count);
  for (let slot = 0; slot < nSel; slot++) {
    let pick = -1;
    if (epsilon > 0 && rng.next() < epsilon) {
      let r = rng.int(count - slot);
      for (let i = 0; i < count; i++) {
        if (taken[i] === 1) continue;
        if (r === 0) {
          pick = i;
          break;
        }
        r--;
      }
    } else {
      // A fresh draw of the remaining candidates' scores, for every slot.
      for (let i = 0; i < count; i++) {
        if (taken[i] === 1) continue;
        const s = sd[i] as number;
        samples[i] = s > 0 ? (mean[i] as number) + s * rng.normal() : (mean[i] as number);
      }
      let best = Number.NEGATIVE_INFINITY;
      let ties = 0;
      for (let i = 0; i < count; i++) {
        if (taken[i] === 1) continue;
        const v = samples[i] as number;
        if (v > best) {
          best = v;
          pick = i;
          ties = 1;
        } else if (v === best) {
          ties++;
          if (rng.next() * ties < 1) pick = i;
        }
      }
    }
    taken[pick] = 1;
    chosen[slot] = pick;
  }
  return chosen;
}

let restMean = new Float64Array(64);
let restSd = new Float64Array(64);
let restOut = new Float64Array(64);
let restIdx = new Int32Array(64);

/**
 * The probability of each candidate being chosen next, given the candidates `above` (positions, in slot order)
 * already chosen: 0 for those, and for the others their slot-1 probability among the remaining ones (ε floor over
 * the remaining count included), which is what {@link selectThompson} draws the next slot from. Written to `out`.
 */
export function nextSlotProbabilities(
  mean: ArrayLike<number>,
  sd: ArrayLike<number>,
  count: number,
  epsilon: number,
  above: ArrayLike<number>,
  out: Float64Array,
): void {
  if (out.length < count) throw new InvalidArgumentError(`out needs length >= ${count}`);
  if (restMean.length < count) {
    const size = Math.max(count, 2 * restMean.length);
    restMean = new Float64Array(size);
    restSd = new Float64Array(size);
    restOut = new Float64Array(size);
    restIdx = new Int32Array(size);
  }
  out.fill(0, 0, count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    let chosen = false;
    for (let k = 0; k < above.length && !chosen; k++) chosen = above[k] === i;
    if (chosen) continue;
    restMean[n] = mean[i] as number;
    restSd[n] = sd[i] as number;
    restIdx[n] = i;
    n++;
  }
  if (n === 0) return;
  argmaxProbabilities(restMean, restSd, n, epsilon, restOut);
  for (let j = 0; j < n; j++) out[restIdx[j] as number] = restOut[j] as number;
}

/**
 * Each chosen slot's probability given the slots above it (`chosen`: positions in slot order), slot 1's being its
 * plain probability; `slot1` (each candidate's slot-1 probability, when already computed) spares that integration.
 */
export function slotPropensities(
  mean: ArrayLike<number>,
  sd: ArrayLike<number>,
  count: number,
  epsilon: number,
  chosen: Int32Array,
  slot1?: ArrayLike<number>,
): number[] {
  const out: number[] = [];
  const next = new Float64Array(count);
  for (let k = 0; k < chosen.length; k++) {
    const pick = chosen[k] as number;
    if (k === 0 && slot1) {
      out.push(slot1[pick] as number);
      continue;
    }
    nextSlotProbabilities(mean, sd, count, epsilon, chosen.subarray(0, k), next);
    out.push(next[pick] as number);
  }
  return out;
}

// Gauss–Kronrod 7–15 on [−1, 1] (QUADPACK qk15): Kronrod abscissae (descending, last = 0), their weights, and the
// Gauss weights of the 7-point rule whose nodes are XGK[1], XGK[3], XGK[5] and 0.
const XGK = [
  0.9914553711208126, 0.9491079123427585, 0.8648644233597691, 0.7415311855993945, 0.5860872354676911,
  0.4058451513773972, 0.20778495500789848, 0,
];
const WGK = [
  0.022935322010529224, 0.06309209262997856, 0.10479001032225019, 0.14065325971552592, 0.1690047266392679,
  0.19035057806478542, 0.20443294007529889, 0.20948214108472782,
];
const WG = [0.1294849661688697, 0.27970539148927664, 0.3818300505051189, 0.4179591836734694];
// Per-node tables in ascending order of abscissa (−XGK[0] … 0 … XGK[0]), so that a candidate can stop at the first
// node beyond its upper cut-off; Gauss weights are 0 at the Kronrod-only nodes.
const NODE_X = new Float64Array(15);
const NODE_WK = new Float64Array(15);
const NODE_WG = new Float64Array(15);
for (let i = 0; i < 8; i++) {
  const wg = i % 2 === 1 ? (WG[(i - 1) / 2] as number) : 0;
  NODE_X[i] = -(XGK[i] as number);
  NODE_X[14 - i] = XGK[i] as number;
  NODE_WK[i] = WGK[i] as number;
  NODE_WK[14 - i] = WGK[i] as number;
  NODE_WG[i] = wg;
  NODE_WG[14 - i] = wg;
}

/** Φ(−8): the mass a normal puts beyond 8 standard deviations on one side. */
const TAIL8 = 6.22096057427178e-16;
/** At z > 8.3, log Φ(z) > −6e-17 and φ(z) < 1e-15: such a candidate is skipped at that node. */
const Z_SKIP = 8.3;
/** F(lo) target when moving the lower limit up: the max falls below lo with probability ≤ 1e-16. */
const LOG_LO_MASS = Math.log(1e-16);
const LOG_HALF = Math.log(0.5);

/** Tuning of {@link argmaxProbabilities}. */
export interface ArgmaxOptions {
  /** Absolute error target of the quadrature, summed over panels (default 1e-9). */
  tolerance?: number;
  /** Maximum number of Gauss–Kronrod panels evaluated (default 2000); past it the estimate is returned as is. */
  maxPanels?: number;
}

let cap = 0;
let aMu = new Float64Array(0);
let aInv = new Float64Array(0);
let aIdx = new Int32Array(0);
let hz = new Float64Array(0);
let accK = new Float64Array(0);
let accG = new Float64Array(0);
let res = new Float64Array(0);
let stack = new Float64Array(256);
let breaks = new Float64Array(64);

function ensureCapacity(n: number): void {
  if (n <= cap) return;
  cap = Math.max(n, 2 * cap, 16);
  aMu = new Float64Array(cap);
  aInv = new Float64Array(cap);
  aIdx = new Int32Array(cap);
  hz = new Float64Array(15 * cap);
  accK = new Float64Array(cap);
  accG = new Float64Array(cap);
  res = new Float64Array(cap);
}

/**
 * log F(t) = Σ log Φ_j(t) over the active candidates (table-based, as in {@link panel}); leaves
 * Σ_j φ_j/(σ_j Φ_j) = d/dt log F in `dLogF`. Only called at t ≥ lo, where every z ≥ −8 up to rounding.
 */
let dLogF = 0;
function logF(t: number, nAct: number): number {
  const mu = aMu;
  const invSd = aInv;
  let lf = 0;
  let dl = 0;
  for (let j = 0; j < nAct; j++) {
    const inv = invSd[j] as number;
    const z = (t - (mu[j] as number)) * inv;
    if (z > Z_SKIP) continue;
    const u = Math.max(0, (z - TAB_Z_MIN) * TAB_SCALE);
    const k = u | 0;
    const s = u - k;
    const o = 6 * k;
    const c1 = TAB[o + 1] as number;
    const c2 = TAB[o + 2] as number;
    const c3 = TAB[o + 3] as number;
    const c4 = TAB[o + 4] as number;
    const c5 = TAB[o + 5] as number;
    lf += (TAB[o] as number) + s * (c1 + s * (c2 + s * (c3 + s * (c4 + s * c5))));
    dl += (c1 + s * (2 * c2 + s * (3 * c3 + s * (4 * c4 + s * 5 * c5)))) * TAB_SCALE * inv;
  }
  dLogF = dl;
  return lf;
}

const TAB = LOG_CDF_TABLE;
const TAB_SCALE = TABLE_DENSITY;
const TAB_Z_MIN = TABLE_Z_MIN;

/**
 * One GK15 panel of the vector integrand f_i(t) = φ_i(t)·Π_{j≠i} Φ_j(t) = F(t)·φ_i(t)/Φ_i(t) on [a, b]:
 * K15 sums land in accK, G7 sums in accG (both unscaled by the half-width). Candidates are the outer loop and the
 * 15 nodes the inner one: log Φ_j and φ_j/(σ_j Φ_j) go to a candidate-major node table, log F is summed per node,
 * then each component is a 15-term dot product with the node weights times F. A candidate stops at the first
 * node where z > 8.3 (Φ ≈ 1 and φ ≈ 0 from there on, nodes being ascending).
 */
function panel(a: number, b: number, nAct: number): void {
  const c = 0.5 * (a + b);
  const h = 0.5 * (b - a);
  const mu = aMu;
  const invSd = aInv;
  const H = hz;
  const lfNode = LF_NODE;
  lfNode.fill(0);
  for (let j = 0; j < nAct; j++) {
    const inv = invSd[j] as number;
    const z0 = (c - (mu[j] as number)) * inv;
    const dz = h * inv;
    const base = 15 * j;
    let node = 0;
    for (; node < 15; node++) {
      const z = z0 + dz * (NODE_X[node] as number);
      if (z > Z_SKIP) break;
      // Inlined logCdfTable: log Φ and its derivative φ/Φ from the quintic Hermite table.
      // Nodes are strictly inside [lo, hi], where every z ≥ −8 up to rounding, hence the clamp at the table start.
      const u = Math.max(0, (z - TAB_Z_MIN) * TAB_SCALE);
      const k = u | 0;
      const s = u - k;
      const o = 6 * k;
      const c1 = TAB[o + 1] as number;
      const c2 = TAB[o + 2] as number;
      const c3 = TAB[o + 3] as number;
      const c4 = TAB[o + 4] as number;
      const c5 = TAB[o + 5] as number;
      lfNode[node] = (lfNode[node] as number) + (TAB[o] as number) + s * (c1 + s * (c2 + s * (c3 + s * (c4 + s * c5))));
      H[base + node] = (c1 + s * (2 * c2 + s * (3 * c3 + s * (4 * c4 + s * 5 * c5)))) * TAB_SCALE * inv;
    }
    for (; node < 15; node++) H[base + node] = 0;
  }
  combineNodes(nAct);
}

/** Second half of {@link panel}; a separate function so each loop is optimised with its own type feedback. */
function combineNodes(nAct: number): void {
  const H = hz;
  const lfNode = LF_NODE;
  const wk = WK_F;
  const wg = WG_F;
  for (let node = 0; node < 15; node++) {
    // Below e^−745, F underflows to 0, correctly: every component is below 1e-300 at that node.
    const F = Math.exp(lfNode[node] as number);
    wk[node] = (NODE_WK[node] as number) * F;
    wg[node] = (NODE_WG[node] as number) * F;
  }
  const k0 = wk[0] as number;
  const k1 = wk[1] as number;
  const k2 = wk[2] as number;
  const k3 = wk[3] as number;
  const k4 = wk[4] as number;
  const k5 = wk[5] as number;
  const k6 = wk[6] as number;
  const k7 = wk[7] as number;
  const k8 = wk[8] as number;
  const k9 = wk[9] as number;
  const k10 = wk[10] as number;
  const k11 = wk[11] as number;
  const k12 = wk[12] as number;
  const k13 = wk[13] as number;
  const k14 = wk[14] as number;
  const g1 = wg[1] as number;
  const g3 = wg[3] as number;
  const g5 = wg[5] as number;
  const g7 = wg[7] as number;
  const g9 = wg[9] as number;
  const g11 = wg[11] as number;
  const g13 = wg[13] as number;
  const ak = accK;
  const ag = accG;
  for (let j = 0; j < nAct; j++) {
    const o = 15 * j;
    const v1 = H[o + 1] as number;
    const v3 = H[o + 3] as number;
    const v5 = H[o + 5] as number;
    const v7 = H[o + 7] as number;
    const v9 = H[o + 9] as number;
    const v11 = H[o + 11] as number;
    const v13 = H[o + 13] as number;
    const gauss = g1 * v1 + g3 * v3 + g5 * v5 + g7 * v7 + g9 * v9 + g11 * v11 + g13 * v13;
    ak[j] =
      k0 * (H[o] as number) +
      k1 * v1 +
      k2 * (H[o + 2] as number) +
      k3 * v3 +
      k4 * (H[o + 4] as number) +
      k5 * v5 +
      k6 * (H[o + 6] as number) +
      k7 * v7 +
      k8 * (H[o + 8] as number) +
      k9 * v9 +
      k10 * (H[o + 10] as number) +
      k11 * v11 +
      k12 * (H[o + 12] as number) +
      k13 * v13 +
      k14 * (H[o + 14] as number);
    ag[j] = gauss;
  }
}

const LF_NODE = new Float64Array(15);
const WK_F = new Float64Array(15);
const WG_F = new Float64Array(15);

/**
 * The probability that each candidate is chosen for the first slot by {@link selectThompson}:
 * p_i = (1 − ε)·P(i = argmax_j s_j) + ε/count, written to out[0…count−1].
 *
 * P(i = argmax) = ∫ φ_i(t) Π_{j≠i} Φ_j(t) dt is computed for all i with one vector-valued adaptive Gauss–Kronrod
 * 7–15 quadrature: at each node, log F(t) = Σ_j log Φ_j(t) is evaluated once and each component is
 * F(t)·φ_i(t)/Φ_i(t), so a node costs O(K); log Φ and φ/Φ come from a quintic Hermite table of the erfc-based
 * functions (`LOG_CDF_TABLE`), a few multiply-adds instead of an exp and a log. The integration range is [lo, hi] with hi = max_j(μ_j + 8σ_j) and lo
 * the larger of max_j(μ_j − 8σ_j) and the point where F(lo) = P(max < lo) reaches 1e-16 (found by Newton's method
 * on the concave log F). Candidates with μ_i + 8σ_i < lo are pruned (P_i < Φ(−8) + 1e-16). Candidates with σ = 0
 * are point masses: those at the highest such mean M share Π_j Φ_j(M) equally, lower ones get 0, and the
 * continuous candidates are integrated from max(lo, M) only. Identical candidates get exactly 1/count.
 *
 * Error bound (the returned `maxAbsError`, for every component after the ε-mixing): the sum over accepted panels
 * of max_i |G7_i − K15_i| (a conservative estimate of the K15 error, since K15 is far more accurate than G7), plus
 * the truncated mass (count·Φ(−8) + 1e-16), plus |1 − Σ_i P_i| before normalisation, plus the error of the
 * interpolated log Φ (count·3e-14 + 1e-11), all times (1 − ε). The
 * quadrature refines panels until the first term is below `tolerance` (1e-9) or `maxPanels` is reached, so the bound
 * is about 1e-9 unless the budget ran out. The probabilities are normalised to sum to 1.
 */
export function argmaxProbabilities(
  mean: ArrayLike<number>,
  sd: ArrayLike<number>,
  count: number,
  epsilon: number,
  out: Float64Array,
  options?: ArgmaxOptions,
): { maxAbsError: number } {
  validateScores(mean, sd, count, epsilon);
  if (out.length < count) throw new InvalidArgumentError(`out needs length >= ${count}`);
  const tol = options?.tolerance ?? 1e-9;
  const maxPanels = options?.maxPanels ?? 2000;
  if (count === 0) return { maxAbsError: 0 };
  out.fill(0, 0, count);

  // Identical candidates (including count = 1): exactly uniform by symmetry.
  const m0 = mean[0] as number;
  const s0 = sd[0] as number;
  let identical = true;
  for (let i = 1; i < count && identical; i++) identical = mean[i] === m0 && sd[i] === s0;
  if (identical) {
    out.fill(1 / count, 0, count);
    return { maxAbsError: 0 };
  }

  let lo = Number.NEGATIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let pointMax = Number.NEGATIVE_INFINITY;
  let pointTies = 0;
  for (let i = 0; i < count; i++) {
    const m = mean[i] as number;
    const s = sd[i] as number;
    if (m - 8 * s > lo) lo = m - 8 * s;
    if (m + 8 * s > hi) hi = m + 8 * s;
    if (s === 0) {
      if (m > pointMax) {
        pointMax = m;
        pointTies = 1;
      } else if (m === pointMax) {
        pointTies++;
      }
    }
  }

  ensureCapacity(count);
  let nAct = 0;
  for (let i = 0; i < count; i++) {
    const s = sd[i] as number;
    if (s === 0) continue;
    const m = mean[i] as number;
    if (m + 8 * s < lo) continue;
    aMu[nAct] = m;
    aInv[nAct] = 1 / s;
    aIdx[nAct] = i;
    nAct++;
  }
  let truncated = count * TAIL8;

  // Raise lo to where P(max < lo) ≈ 1e-16: with many candidates the max is far above every μ_j − 8σ_j.
  // Newton from below on the concave, increasing log F never overshoots the target.
  if (nAct > 1 && hi > lo) {
    let t = lo;
    let lf = logF(t, nAct);
    for (let it = 0; it < 30 && lf < LOG_LO_MASS - 0.5 && dLogF > 0; it++) {
      const next = t + (LOG_LO_MASS - lf) / dLogF;
      if (!(next > t) || next >= hi) break;
      t = next;
      lf = logF(t, nAct);
    }
    if (t > lo && lf <= LOG_LO_MASS + 1e-9) {
      lo = t;
      truncated += Math.exp(lf);
      let k = 0;
      for (let j = 0; j < nAct; j++) {
        if ((aMu[j] as number) + 8 / (aInv[j] as number) < lo) continue;
        aMu[k] = aMu[j] as number;
        aInv[k] = aInv[j] as number;
        aIdx[k] = aIdx[j] as number;
        k++;
      }
      nAct = k;
    }
  }

  // Point masses at the top share the probability that every continuous candidate falls below them.
  let pointProb = 0;
  if (pointTies > 0) {
    let lfm = 0;
    for (let j = 0; j < nAct; j++) lfm += logNormalCdf((pointMax - (aMu[j] as number)) * (aInv[j] as number));
    pointProb = Math.exp(lfm);
  }

  let quadErr = 0;
  res.fill(0, 0, nAct);
  if (nAct > 0 && hi > lo) {
    // Median of the maximum and the width of its density there, to lay the initial panels where the mass is.
    let t = lo;
    let lf = logF(t, nAct);
    for (let it = 0; it < 30 && lf < LOG_HALF - 1e-3 && dLogF > 0; it++) {
      const next = t + (LOG_HALF - lf) / dLogF;
      if (!(next > t) || next >= hi) break;
      t = next;
      lf = logF(t, nAct);
    }
    const density = Math.exp(lf) * dLogF;
    const s = density > 0 ? 1 / (density * Math.sqrt(2 * Math.PI)) : 0;
    quadErr = integrate(lo, hi, nAct, tol, maxPanels, t, s);
  }

  let sum = pointProb;
  for (let j = 0; j < nAct; j++) sum += res[j] as number;
  const deficit = Math.abs(1 - sum);
  const norm = sum > 0 ? 1 / sum : 0;
  const keep = 1 - epsilon;
  const floor = epsilon / count;
  for (let i = 0; i < count; i++) out[i] = floor;
  for (let j = 0; j < nAct; j++) {
    const i = aIdx[j] as number;
    out[i] = (out[i] as number) + keep * (res[j] as number) * norm;
  }
  if (pointTies > 0) {
    const share = (keep * pointProb * norm) / pointTies;
    for (let i = 0; i < count; i++) {
      if (sd[i] === 0 && mean[i] === pointMax) out[i] = (out[i] as number) + share;
    }
  }
  // The log Φ table's error (< 3e-14 per candidate in log F, < 1e-11 relative in φ/Φ where it matters) is far
  // below the quadrature's, but it is part of the bound.
  const tableErr = nAct * 3e-14 + (nAct > 0 ? 1e-11 : 0);
  return { maxAbsError: keep * (quadErr + truncated + deficit + tableErr) };
}

/**
 * Adaptive GK15 over [lo, hi]. A panel is accepted when its error estimate is at most tol/2 times the larger of
 * its share of the width and its share of the probability mass (Σ_i of its K15 estimates), so the accepted errors
 * add up to at most tol while panels where the maximum rarely lands are not refined for nothing. The initial
 * panels are 1.5 bump-widths s wide around the median t½ of the maximum (s from the density there), widening
 * geometrically towards lo and hi, plus breakpoints at μ_i ± 3σ_i and μ_i ± 8σ_i of every candidate much narrower
 * than the panels it falls in, so no narrow peak or tail falls between nodes unnoticed. Accumulates into `res` and returns the summed error estimate.
 */
function integrate(
  lo: number,
  hi: number,
  nAct: number,
  tol: number,
  maxPanels: number,
  tMed: number,
  s: number,
): number {
  const width = hi - lo;
  nb = 0;
  pushBreak(lo);
  pushBreak(hi);
  if (s > 0 && Number.isFinite(s) && tMed > lo && tMed < hi) {
    pushBreak(tMed);
    let step = 1.5 * s;
    let t = tMed + step;
    for (let i = 0; t < hi && i < 40; i++) {
      pushBreak(t);
      if (i >= 1) step *= 1.5;
      t += step;
    }
    step = 1.5 * s;
    t = tMed - step;
    for (let i = 0; t > lo && i < 40; i++) {
      pushBreak(t);
      if (i >= 1) step *= 1.5;
      t -= step;
    }
  } else {
    for (let p = 1; p < 4; p++) pushBreak(lo + (p * width) / 4);
  }
  // A candidate much narrower than a base panel covering part of μ ± 8σ gets breakpoints at μ ± 3σ and μ ± 8σ:
  // its peak, its tails and its Φ step in every other component then lie in panels a few σ wide, where G7 and K15
  // see them. (Base panels strictly inside μ ± 8σ are narrower than 16σ, so checking both ends is enough.)
  const nBase = nb;
  breaks.subarray(0, nBase).sort();
  for (let j = 0; j < nAct; j++) {
    const sd = 1 / (aInv[j] as number);
    const m = aMu[j] as number;
    if (basePanelWidth(m - 8 * sd, nBase, lo, hi) <= 32 * sd && basePanelWidth(m + 8 * sd, nBase, lo, hi) <= 32 * sd) {
      continue;
    }
    for (const q of NARROW_BREAKS) {
      const v = m + q * sd;
      if (v > lo && v < hi) pushBreak(v);
    }
  }
  const sorted = breaks.subarray(0, nb).sort();

  sp = 0;
  for (let p = nb - 1; p >= 1; p--) {
    const a = sorted[p - 1] as number;
    const b = sorted[p] as number;
    if (b > a) pushPanel(a, b);
  }

  let panels = 0;
  let errSum = 0;
  const half = 0.5 * tol;
  while (sp > 0) {
    const b = stack[--sp] as number;
    const a = stack[--sp] as number;
    panel(a, b, nAct);
    panels++;
    const h = 0.5 * (b - a);
    let err = 0;
    let mass = 0;
    for (let j = 0; j < nAct; j++) {
      const kj = accK[j] as number;
      const e = Math.abs(kj - (accG[j] as number));
      if (e > err) err = e;
      mass += kj;
    }
    err *= h;
    mass *= h;
    const mid = 0.5 * (a + b);
    const canSplit = mid > a && mid < b && panels + sp / 2 < maxPanels;
    if (err <= half * Math.max(mass, (b - a) / width) || !canSplit) {
      for (let j = 0; j < nAct; j++) res[j] = (res[j] as number) + h * (accK[j] as number);
      errSum += err;
    } else {
      pushPanel(mid, b);
      pushPanel(a, mid);
    }
  }
  lastPanels = panels;
  return errSum;
}

/** Panels evaluated by the last call (diagnostics and tests). */
let lastPanels = 0;
export function lastPanelCount(): number {
  return lastPanels;
}

const NARROW_BREAKS = [-8, -3, 3, 8] as const;

/** Width of the base panel (sorted breaks[0…nBase−1]) that contains t clamped to [lo, hi]. */
function basePanelWidth(t: number, nBase: number, lo: number, hi: number): number {
  const at = Math.min(Math.max(t, lo), hi);
  let a = 0;
  let b = nBase - 1;
  while (b - a > 1) {
    const mid = (a + b) >> 1;
    if ((breaks[mid] as number) <= at) a = mid;
    else b = mid;
  }
  return (breaks[b] as number) - (breaks[a] as number);
}

let nb = 0;
function pushBreak(v: number): void {
  if (nb >= breaks.length) {
    const grown = new Float64Array(breaks.length * 2);
    grown.set(breaks);
    breaks = grown;
  }
  breaks[nb++] = v;
}

let sp = 0;
function pushPanel(a: number, b: number): void {
  if (sp + 2 > stack.length) {
    const grown = new Float64Array(stack.length * 2);
    grown.set(stack);
    stack = grown;
  }
  stack[sp++] = a;
  stack[sp++] = b;
}
