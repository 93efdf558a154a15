/**
 * Posterior of the hybrid linear Gaussian contextual bandit (Li et al. 2010, "A Contextual-Bandit Approach to
 * Personalized News Article Recommendation", hybrid LinUCB model, here treated as a Bayesian linear model).
 *
 * Model: r = zᵀβ + xᵀθ_a + ε, ε ~ N(0, σ²), with x ∈ ℝ^d the encoded context, c_a ∈ ℝ^m the encoded action
 * features and z = (P x) ⊗ c_a ∈ ℝ^k, k = s·m, indexed (i, j) ↦ i·m + j. Priors β ~ N(0, σ²/λs I),
 * θ_a ~ N(0, σ²/λa I). P (s×d) is the shared part's view of the context (see {@link sharedSketch}): the identity
 * (s = d, z = x ⊗ c_a, the hybrid model of Li et al.) whenever d·m ≤ {@link MAX_SHARED_DIM}; above that a count
 * sketch of x into s = ⌊256/m⌋ slots, so the shared part's k×k factorisation stays at k ≤ 256 however large d is.
 * Each action's own coefficients θ_a always see the whole context exactly.
 *
 * Why only per-action statistics are needed: c_a is fixed, so z = Z_a x with Z_a[(i,j), i'] = P[i,i'] c_aj, and every
 * sum over action a's observations that involves z is Z_a times a sum over x: Σ z zᵀ = Z_a Sxx_a Z_aᵀ,
 * Σ z xᵀ = Z_a Sxx_a, Σ z r = Z_a Sxr_a. Eliminating each θ_a (Schur complement, A_a = λa I + Sxx_a) leaves
 *
 *   A0 = λs I + Σ_a Z_a M_a Z_aᵀ,  M_a = Sxx_a − Sxx_a A_a⁻¹ Sxx_a = λa I − λa² A_a⁻¹,
 *   b0 = Σ_a Z_a (λa A_a⁻¹ Sxr_a),  β̂ = A0⁻¹ b0,
 *   θ̂_a = A_a⁻¹ (Sxr_a − Sxx_a Z_aᵀ β̂),
 *
 * and the score xᵀZ_aᵀβ + xᵀθ_a has mean xᵀw_a and variance σ² xᵀV_a x with
 *
 *   w_a = Z_aᵀβ̂ + θ̂_a = A_a⁻¹ (Sxr_a + λa Z_aᵀβ̂)   (using Sxx_a = A_a − λa I),
 *   V_a = λa² A_a⁻¹ Q_a A_a⁻¹ + A_a⁻¹,  Q_a = Z_aᵀ A0⁻¹ Z_a,
 *
 * because the score is λa xᵀA_a⁻¹Z_aᵀ β plus a part independent of β with covariance A_a⁻¹. With T_a = A_a⁻¹Pᵀ
 * (d×s) and Q̃_a[i,i'] = Σ_{j,l} c_aj c_al A0⁻¹[(i,j),(i',l)] (s×s), V_a = λa² T_a Q̃_a T_aᵀ + A_a⁻¹. Building costs
 * O(K (d³ + d²s + s²m²) + k³); scoring a request then costs one length-d dot product and one d×d quadratic form per
 * action, never a k×k form. A cold action (no statistics) has A_a = λa I: w_a = Z_aᵀβ̂ and V_a = Q_a + I/λa,
 * i.e. it is scored from its features with its own, larger, uncertainty.
 *
 * σ² is a plug-in estimate: the pooled within-action residual variance shrunk towards a prior guess (see
 * {@link Priors}), floored at 1e-6.
 */
import { DimensionMismatchError, InvalidArgumentError } from './errors.ts';
import {
  choleskyInPlace,
  choleskySolveInPlace,
  inverseFromCholesky,
  isPositiveDefinite,
  packedSize,
  packSymmetric,
  smallestEigenvalue,
  solveLowerInPlace,
  unpackSymmetric,
} from './linalg.ts';
import type { ActionStats } from './stats.ts';

/**
 * The largest number of shared coefficients k = s·m the build factorises (k³/3 multiply-adds and k² numbers, once
 * per build): 256 costs a few milliseconds.
 */
export const MAX_SHARED_DIM = 256;

/**
 * The shared part's view of the context, P (s×d), stored as the slot and sign of each context entry: P[slot[u], u] =
 * sign[u] and every other entry 0.
 *
 * The rule: when d·m ≤ {@link MAX_SHARED_DIM}, s = d and P = I. Otherwise s = ⌊{@link MAX_SHARED_DIM}/m⌋ and P is a
 * count sketch (Charikar, Chen & Farach-Colton 2002; the same signed hashing the feature encoder uses, Weinberger
 * et al. 2009): the bias (entry 0) stays in slot 0 with sign +1, so each action feature's own effect is learned
 * exactly (what a new action is scored from), and entry u ≥ 1 goes to slot 1 + ((u − 1) mod (s − 1)) with sign +1 when
 * bit 16 of (u · 0x9E3779B1 mod 2³²) is 0, else −1. Colliding entries add with independent-looking signs, so
 * (Px)ᵀ(Px') estimates xᵀx' without bias. Only the posterior build uses P: the statistics are sums over the full
 * context x, so the rule can change without touching anything stored.
 */
export interface SharedSketch {
  /** s: the number of context slots the shared part sees. */
  readonly s: number;
  /** Per context entry u (d of them), its slot in 0…s−1. */
  readonly slot: Int32Array;
  /** Per context entry u, its sign ±1. */
  readonly sign: Float64Array;
}

/** The {@link SharedSketch} of dimensions d and m (see there for the rule). */
export function sharedSketch(d: number, m: number): SharedSketch {
  const slot = new Int32Array(d);
  const sign = new Float64Array(d).fill(1);
  if (d * m <= MAX_SHARED_DIM) {
    for (let u = 0; u < d; u++) slot[u] = u;
    return { s: d, slot, sign };
  }
  const s = Math.max(2, Math.floor(MAX_SHARED_DIM / m));
  for (let u = 1; u < d; u++) {
    slot[u] = 1 + ((u - 1) % (s - 1));
    sign[u] = (Math.imul(u, 0x9e3779b1) >>> 16) & 1 ? -1 : 1;
  }
  return { s, slot, sign };
}

/** Prior hyper-parameters. */
export interface Priors {
  /** λs: prior precision of the shared coefficients β, in units of 1/σ² (larger = shrink harder towards 0). */
  lambdaShared: number;
  /** λa: prior precision of each action's own coefficients θ_a around the shared prediction. */
  lambdaAction: number;
  /** s0²: prior guess of the reward noise variance (0.25 is the largest variance of a 0/1 reward). */
  noisePriorVariance: number;
  /**
   * ν0: how many observations' worth of weight the prior guess s0² carries. With ν0 = 0, σ² is s0² until some action
   * has two observations, then the pure pooled estimate.
   */
  noisePriorWeight: number;
}

/**
 * Fixed textbook priors (λ = 1, s0² = 0.25, the largest variance of a 0/1 reward, weighing 10 observations): what a
 * model uses that does not learn its priors (hand-built test models, the disjoint baseline). Decision points learn
 * theirs (hyperparameters.ts).
 */
export const DEFAULT_PRIORS: Readonly<Priors> = Object.freeze({
  lambdaShared: 1,
  lambdaAction: 1,
  noisePriorVariance: 0.25,
  noisePriorWeight: 10,
});

/** One action as the posterior builder sees it. */
export interface PosteriorAction {
  id: string;
  /** Encoded action features c_a (m entries; by convention entry 0 is the bias 1). */
  features: Float64Array;
  /** Its statistics, or undefined for an action never shown (cold start). */
  stats: ActionStats | undefined;
}

/** Context and action feature dimensions. */
export interface Dims {
  d: number;
  m: number;
}

/** Everything needed to score requests; immutable once built (except the private scratch buffer). */
export interface HybridPosterior {
  readonly d: number;
  readonly m: number;
  /** Number of actions K. */
  readonly size: number;
  readonly ids: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  /** Per-action scoring vectors w_a, K×d row-major: mean score μ_a(x) = xᵀ w_a. */
  readonly w: Float64Array;
  /** Per-action V_a, K × d(d+1)/2 packed upper triangles: score variance σ² xᵀ V_a x. */
  readonly V: Float64Array;
  /** Plug-in noise variance σ² (pooled over contexts; see {@link BuildOptions.compoundEvents} for the per-context one). */
  readonly sigma2: number;
  /**
   * Per action, the factor its sampling variance is multiplied by under the coverage rule (see
   * {@link BuildOptions.coverage}): {@link COVERED_VARIANCE_SHARE} for an action whose data cover the contexts, 1
   * otherwise.
   * All ones when the rule is off.
   */
  readonly explore: Float64Array;
  /**
   * M = Σr² / Σr when the rewards follow the compound-event model (see {@link BuildOptions.compoundEvents}), else 0:
   * the noise variance at a context whose mean reward is μ is then μ(M − μ) rather than σ².
   */
  readonly eventValue: number;
  /** Shared coefficients β̂ (k = s·m, s = sketch.s). */
  readonly beta: Float64Array;
  /** The shared part's view P of the context (the identity unless d·m > {@link MAX_SHARED_DIM}). */
  readonly sketch: SharedSketch;
  /** Impressions per action (0 for cold actions). */
  readonly n: Float64Array;
  /** Action features c_a, K×m row-major (copied from the input). */
  readonly features: Float64Array;
  readonly priors: Readonly<Priors>;
  /** Scratch for scoring (packed x xᵀ with doubled off-diagonal); not part of the model. */
  readonly scratch: Float64Array;
}

/** Lower bound of σ² relative to the prior guess s0², so a run of identical rewards cannot collapse exploration. */
export const MIN_NOISE_VARIANCE = 1e-6;

function validatePriors(p: Priors): void {
  const positive = (v: number) => Number.isFinite(v) && v > 0;
  if (!positive(p.lambdaShared) || !positive(p.lambdaAction) || !positive(p.noisePriorVariance)) {
    throw new InvalidArgumentError('lambdaShared, lambdaAction and noisePriorVariance must be finite and > 0');
  }
  if (!(p.noisePriorWeight >= 0) || !Number.isFinite(p.noisePriorWeight)) {
    throw new InvalidArgumentError('noisePriorWeight must be finite and >= 0');
  }
}

/** Options of {@link buildPosterior}. */
export interface BuildOptions {
  /**
   * The rewards are non-negative event values, r = V·1[event] with V's law not depending on the context (a click worth
   * 1, a purchase worth its amount): then E[r² | x] / E[r | x] = E[V²]/E[V] = M for every x, estimated by Σr²/Σr, and
   * Var(r | x) = μ(x)·(M − μ(x)). A user who never reaches the event (μ ≈ 0) has a noise variance ≈ 0 instead of the
   * pooled σ², so the model is not explored as if they might. Only additive sums are used, so exactly-once and
   * merging are unchanged.
   */
  compoundEvents?: boolean;
  /**
   * The coverage rule (exploration that calibrates itself): an action whose own observations cover the context space
   * about as well as the traffic does keeps only {@link COVERED_VARIANCE_SHARE} of its Thompson variance (it is served
   * nearly greedily); the others keep all of it.
   * Covered: n_a ≥ d and λmin(Sxx_a)/n_a ≥ ¼ · λmin(Σ_b Sxx_b)/N > 0, eigenvalues exact. When the traffic's contexts
   * do not span the encoded space (λmin = 0: a hashed slot no feature name falls in, or a one-hot group listed whole
   * beside the bias; see {@link SPAN_TOLERANCE}), no action is covered.
   * This is the covariate-diversity test
   * of Greedy-First (Bastani, Bayati & Khosravi 2021, "Mostly exploration-free algorithms for contextual bandits",
   * Management Science 67(3)), applied per action: when the contexts are diverse, acting greedily on a linear model
   * learns each action at the rate exploring would (their greedy regret bound is O(log T), rate-optimal), so
   * exploration is spent only where an action's data do not cover the contexts it may be best in: a new action, or
   * one the history only showed to some users. A cold action is never covered. The ε floor stays.
   */
  coverage?: boolean;
}

/**
 * λmin(S) at most this share of S's mean eigenvalue (trace/d) counts as 0, i.e. the contexts do not span the encoded
 * space: an unused slot gives an exact 0, but indicators that sum to the bias (a one-hot group listed whole) give a
 * rounding residue of either sign, and rounding must not decide whether actions are covered.
 */
export const SPAN_TOLERANCE = 1e-9;

/** The share of the traffic's context coverage an action's data need to count as covered (Greedy-First's λ0/4). */
export const COVERAGE_SHARE = 0.25;

/**
 * The share of its posterior variance a covered action keeps (half its standard deviation), rather than none: pure
 * greedy locks in where the linear model is misspecified (in the objectives benchmark it left intent mode's click
 * policy stuck on the wrong action for non-buyers on one seed in three). Half the standard deviation is also what
 * Chapelle & Li (2011, "An empirical evaluation of Thompson sampling") found best on display-advertising data.
 */
export const COVERED_VARIANCE_SHARE = 0.25;

/**
 * Per action the variance factor of the coverage rule (see {@link BuildOptions.coverage}), with exact eigenvalues:
 * λmin(S) of the traffic by {@link smallestEigenvalue}, and each action's test λmin(Sxx_a) ≥ n_a·t as "Sxx_a − n_a·t·I
 * is positive definite" (one factorisation, no eigenvector iteration whose answer would depend on a start vector and
 * on the gap between eigenvalues). λmin(S) at most {@link SPAN_TOLERANCE} of S's mean eigenvalue counts as 0.
 */
function coverageFactors(actions: readonly PosteriorAction[], warm: Uint8Array, d: number): Float64Array {
  const K = actions.length;
  const dp = packedSize(d);
  const explore = new Float64Array(K).fill(1);
  const total = new Float64Array(dp);
  let N = 0;
  for (let a = 0; a < K; a++) {
    const s = actions[a]!.stats;
    if (warm[a] !== 1 || !s) continue;
    N += s.n;
    for (let i = 0; i < dp; i++) total[i] = (total[i] as number) + (s.sxx[i] as number);
  }
  if (!(N > 0)) return explore;
  const dense = unpackSymmetric(total, d, new Float64Array(d * d));
  const trafficMin = smallestEigenvalue(dense, d, new Float64Array(d * d));
  let trace = 0;
  for (let i = 0; i < d; i++) trace += dense[i * d + i] as number;
  if (!(trafficMin > (SPAN_TOLERANCE * trace) / d)) return explore;
  const threshold = (COVERAGE_SHARE * trafficMin) / N;
  for (let a = 0; a < K; a++) {
    const s = actions[a]!.stats;
    if (warm[a] !== 1 || !s || s.n < d) continue;
    unpackSymmetric(s.sxx, d, dense);
    for (let i = 0; i < d; i++) dense[i * d + i] = (dense[i * d + i] as number) - s.n * threshold;
    if (isPositiveDefinite(dense, d)) explore[a] = COVERED_VARIANCE_SHARE;
  }
  return explore;
}

function checkInputs(dims: Dims, actions: readonly PosteriorAction[]): void {
  const { d, m } = dims;
  if (!Number.isInteger(d) || d < 1 || !Number.isInteger(m) || m < 1) {
    throw new InvalidArgumentError(`dims must be positive integers, got d = ${d}, m = ${m}`);
  }
  const dp = packedSize(d);
  const seen = new Set<string>();
  for (const act of actions) {
    if (seen.has(act.id)) throw new InvalidArgumentError(`duplicate action id ${act.id}`);
    seen.add(act.id);
    if (act.features.length !== m) throw new DimensionMismatchError(`features of ${act.id}`, m, act.features.length);
    for (const v of act.features) {
      if (!Number.isFinite(v)) throw new InvalidArgumentError(`features of ${act.id} are not finite`);
    }
    if (act.stats !== undefined) {
      if (act.stats.sxr.length !== d) throw new DimensionMismatchError(`sxr of ${act.id}`, d, act.stats.sxr.length);
      if (act.stats.sxx.length !== dp) throw new DimensionMismatchError(`sxx of ${act.id}`, dp, act.stats.sxx.length);
    }
  }
}

/**
 * σ² of the normal–inverse-gamma model: (ν0·s0² + R) / (ν0 + n), R = yᵀy − bᵀA⁻¹b the regularised residual sum of
 * squares (what the context and action model leaves unexplained), floored at {@link MIN_NOISE_VARIANCE} × s0² so
 * that the floor scales with the reward's unit.
 */
function noiseVariance(priors: Priors, f: Pick<Factored, 'n' | 'sumR2' | 'explained'>): number {
  const nu0 = priors.noisePriorWeight;
  const residual = Math.max(0, f.sumR2 - f.explained);
  const denom = nu0 + f.n;
  const v = denom > 0 ? (nu0 * priors.noisePriorVariance + residual) / denom : priors.noisePriorVariance;
  return Math.max(MIN_NOISE_VARIANCE * priors.noisePriorVariance, v);
}

function hasData(s: ActionStats | undefined): s is ActionStats {
  if (s === undefined) return false;
  if (s.n !== 0) return true;
  for (const v of s.sxx) if (v !== 0) return true;
  for (const v of s.sxr) if (v !== 0) return true;
  return false;
}

/**
 * Pass 1 of the build, shared with the evidence: each warm action's A_a⁻¹ (packed into `V`), the Schur complement A0
 * (Cholesky-factored in place) and b0, and the sums the marginal likelihood needs. Cold actions contribute nothing.
 */
interface Factored {
  V: Float64Array;
  warm: Uint8Array;
  /** Cholesky factor of A0 (k×k, lower triangle). */
  A0: Float64Array;
  b0: Float64Array;
  /** Σ_a log|A_a| + log|A0| = log|A| of the joint precision. */
  logDetA: number;
  /** bᵀA⁻¹b = Σ_a Sxrᵀ A_a⁻¹ Sxr + b0ᵀ A0⁻¹ b0 (the explained sum of squares). */
  explained: number;
  /** Number of warm actions (each adds d coefficients to the joint model). */
  warmCount: number;
  /** Σ n, Σ r, Σ r² over every action with statistics. */
  n: number;
  sumR: number;
  sumR2: number;
}

/** The λa-dependent half of pass 1: everything but λs (A0 without its λs·I, upper triangle only). */
interface ActionPart extends Omit<Factored, 'A0' | 'logDetA' | 'explained'> {
  shared: Float64Array;
  logDetActions: number;
  explainedActions: number;
  k: number;
}

/**
 * The λs half: A0 = shared + λs·I factored (into `A0`, a copy, so `part` serves other λs), log|A| and bᵀA⁻¹b.
 */
function factorShared(part: ActionPart, ls: number, A0 = new Float64Array(part.k * part.k)): Factored {
  const k = part.k;
  A0.set(part.shared);
  for (let p = 0; p < k; p++) {
    A0[p * k + p] = (A0[p * k + p] as number) + ls;
    for (let q = p + 1; q < k; q++) A0[q * k + p] = A0[p * k + q] as number;
  }
  choleskyInPlace(A0, k);
  let logDetA = part.logDetActions;
  for (let p = 0; p < k; p++) logDetA += 2 * Math.log(A0[p * k + p] as number);
  // b0ᵀ A0⁻¹ b0 = ‖L⁻¹ b0‖².
  let explained = part.explainedActions;
  const y = solveLowerInPlace(A0, k, part.b0.slice());
  for (let p = 0; p < k; p++) explained += (y[p] as number) * (y[p] as number);
  const { V, warm, b0, warmCount, n, sumR, sumR2 } = part;
  return { V, warm, A0, b0, logDetA, explained, warmCount, n, sumR, sumR2 };
}

function factorActions(
  d: number,
  m: number,
  la: number,
  actions: readonly PosteriorAction[],
  sketch: SharedSketch,
  inverses: boolean,
  shared?: Float64Array,
): ActionPart {
  const K = actions.length;
  const { s: sd, slot, sign } = sketch;
  const k = sd * m;
  const dp = packedSize(d);
  const V = new Float64Array(inverses ? K * dp : 0);
  const warm = new Uint8Array(K);
  // The Schur complement's sum, into the caller's buffer when it passes one (a search's previous λa's).
  const A0 = shared?.fill(0) ?? new Float64Array(k * k);
  const b0 = new Float64Array(k);
  const dense = new Float64Array(d * d);
  const ainv = new Float64Array(d * d);
  const u = new Float64Array(d);
  const pu = new Float64Array(sd);
  const mf = new Float64Array(sd * sd);
  // Column f of Pᵀ is nonzero from entry first[f] on (the slot's first context entry), so L⁻¹Pᵀ is too.
  const first = new Int32Array(sd).fill(d);
  for (let i = d - 1; i >= 0; i--) first[slot[i] as number] = i;
  const y = new Float64Array(sd * d);
  const cc = new Float64Array(m * m);
  let logDetA = 0;
  let explained = 0;
  let warmCount = 0;
  let n = 0;
  let sumR = 0;
  let sumR2 = 0;

  for (let a = 0; a < K; a++) {
    const act = actions[a] as PosteriorAction;
    const st = act.stats;
    if (!hasData(st)) continue;
    warm[a] = 1;
    warmCount++;
    n += st.n;
    sumR += st.sumR;
    sumR2 += st.sumR2;
    unpackSymmetric(st.sxx, d, dense);
    for (let i = 0; i < d; i++) dense[i * d + i] = (dense[i * d + i] as number) + la;
    choleskyInPlace(dense, d);
    for (let i = 0; i < d; i++) logDetA += 2 * Math.log(dense[i * d + i] as number);
    // u = λa A⁻¹ Sxr, and Sxrᵀ A⁻¹ Sxr = Sxrᵀ u / λa.
    const sxr = st.sxr;
    u.set(sxr);
    choleskySolveInPlace(dense, d, u);
    let quad = 0;
    for (let i = 0; i < d; i++) {
      quad += (sxr[i] as number) * (u[i] as number);
      u[i] = la * (u[i] as number);
    }
    explained += quad;
    // b0 += (P u) ⊗ c.
    pu.fill(0);
    for (let i = 0; i < d; i++) {
      pu[slot[i] as number] = (pu[slot[i] as number] as number) + (sign[i] as number) * (u[i] as number);
    }
    const c = act.features;
    for (let i = 0; i < sd; i++) {
      const pi = pu[i] as number;
      for (let j = 0; j < m; j++) b0[i * m + j] = (b0[i * m + j] as number) + pi * (c[j] as number);
    }
    // P M Pᵀ with M = λa I − λa² A⁻¹: P A⁻¹ Pᵀ = YᵀY with Y = L⁻¹Pᵀ (forward substitution from each column's first
    // nonzero: s·d²/2 at most, d³/6 when P = I), and P Pᵀ is diagonal (each entry in one slot, signs squared).
    y.fill(0);
    for (let i = 0; i < d; i++) y[(slot[i] as number) * d + i] = sign[i] as number;
    for (let f = 0; f < sd; f++) {
      const col = f * d;
      for (let i = first[f] as number; i < d; i++) {
        const ri = i * d;
        let acc = y[col + i] as number;
        for (let q = first[f] as number; q < i; q++) acc -= (dense[ri + q] as number) * (y[col + q] as number);
        y[col + i] = acc / (dense[ri + i] as number);
      }
    }
    mf.fill(0);
    for (let i = 0; i < d; i++)
      mf[(slot[i] as number) * (sd + 1)] = (mf[(slot[i] as number) * (sd + 1)] as number) + la;
    for (let f = 0; f < sd; f++) {
      for (let g = f; g < sd; g++) {
        let acc = 0;
        for (let i = Math.max(first[f] as number, first[g] as number); i < d; i++) {
          acc += (y[f * d + i] as number) * (y[g * d + i] as number);
        }
        mf[f * sd + g] = (mf[f * sd + g] as number) - la * la * acc;
      }
    }
    if (inverses) {
      inverseFromCholesky(dense, d, ainv);
      packSymmetric(ainv, d, V.subarray(a * dp, (a + 1) * dp));
    }
    for (let j = 0; j < m; j++) for (let l = 0; l < m; l++) cc[j * m + l] = (c[j] as number) * (c[l] as number);
    // A0[(i,j),(i',l)] += (PMPᵀ)[i,i'] c_j c_l; upper triangle of A0 only (mirrored below).
    for (let i = 0; i < sd; i++) {
      for (let i2 = i; i2 < sd; i2++) {
        const mii = mf[i * sd + i2] as number;
        if (mii === 0) continue;
        for (let j = 0; j < m; j++) {
          const row = (i * m + j) * k + i2 * m;
          const lStart = i === i2 ? j : 0;
          const ccRow = j * m;
          for (let l = lStart; l < m; l++) A0[row + l] = (A0[row + l] as number) + mii * (cc[ccRow + l] as number);
        }
      }
    }
  }
  return {
    V,
    warm,
    shared: A0,
    b0,
    logDetActions: logDetA,
    explainedActions: explained,
    warmCount,
    n,
    sumR,
    sumR2,
    k,
  };
}

/**
 * Builds the posterior from per-action statistics (see the module documentation for the formulas).
 * Cost O(K·(d³ + d²s + s²m²) + (sm)³); allocates its outputs and O(k² + K·d² + d·s) scratch.
 * Throws {@link DimensionMismatchError} on inconsistent lengths and {@link InvalidArgumentError} on bad priors or
 * duplicate ids; a {@link NotPositiveDefiniteError} means corrupted statistics (e.g. negative weights).
 */
export function buildPosterior(
  dims: Dims,
  priors: Priors,
  actions: readonly PosteriorAction[],
  options: BuildOptions = {},
): HybridPosterior {
  const { d, m } = dims;
  checkInputs(dims, actions);
  validatePriors(priors);
  const K = actions.length;
  const sketch = sharedSketch(d, m);
  const { s: sd, slot, sign } = sketch;
  const k = sd * m;
  const dp = packedSize(d);
  const la = priors.lambdaAction;

  const ids: string[] = new Array(K);
  const index = new Map<string, number>();
  const n = new Float64Array(K);
  const features = new Float64Array(K * m);
  for (let a = 0; a < K; a++) {
    const act = actions[a] as PosteriorAction;
    if (act.stats !== undefined) n[a] = act.stats.n;
    features.set(act.features, a * m);
    ids[a] = act.id;
    index.set(act.id, a);
  }

  // Pass 1: per-action A_a⁻¹ (kept packed in V until pass 2 overwrites it), A0 factored, b0.
  const f = factorShared(factorActions(d, m, la, actions, sketch, true), priors.lambdaShared);
  const { V, warm, A0, b0 } = f;
  const u = new Float64Array(d);
  const ainv = new Float64Array(d * d);
  const beta = b0.slice();
  choleskySolveInPlace(A0, k, beta);
  const A0inv = new Float64Array(k * k);
  inverseFromCholesky(A0, k, A0inv);
  const sigma2 = noiseVariance(priors, f);
  const eventValue = options.compoundEvents && f.sumR > 0 && f.sumR2 > 0 ? f.sumR2 / f.sumR : 0;
  const explore = options.coverage ? coverageFactors(actions, warm, d) : new Float64Array(K).fill(1);

  // Pass 2: w_a and V_a.
  const w = new Float64Array(K * d);
  const g = new Float64Array(d);
  const q = new Float64Array(sd * sd);
  const t = new Float64Array(d * sd);
  const tq = new Float64Array(d * sd);
  const la2 = la * la;
  for (let a = 0; a < K; a++) {
    const act = actions[a] as PosteriorAction;
    const c = act.features;
    sharedWeightsInto(beta, c, sketch, m, g);
    // Q̃[i,i'] = Σ_{j,l} c_j c_l A0⁻¹[(i,j),(i',l)] (s×s), upper triangle then mirrored.
    for (let i = 0; i < sd; i++) {
      for (let i2 = i; i2 < sd; i2++) {
        let acc = 0;
        for (let j = 0; j < m; j++) {
          const cj = c[j] as number;
          if (cj === 0) continue;
          const row = (i * m + j) * k + i2 * m;
          let inner = 0;
          for (let l = 0; l < m; l++) inner += (A0inv[row + l] as number) * (c[l] as number);
          acc += cj * inner;
        }
        q[i * sd + i2] = acc;
        q[i2 * sd + i] = acc;
      }
    }
    const wOff = a * d;
    const vPacked = V.subarray(a * dp, (a + 1) * dp);
    if (warm[a] === 0) {
      // A_a = λa I: w = Pᵀ-lifted shared prediction, V = Pᵀ Q̃ P + I/λa.
      w.set(g, wOff);
      let o = 0;
      for (let i = 0; i < d; i++) {
        const qi = (slot[i] as number) * sd;
        const si = sign[i] as number;
        for (let j = i; j < d; j++) {
          vPacked[o++] = si * (sign[j] as number) * (q[qi + (slot[j] as number)] as number) + (i === j ? 1 / la : 0);
        }
      }
      continue;
    }
    const st = act.stats as ActionStats;
    unpackSymmetric(vPacked, d, ainv);
    // w = A⁻¹ (Sxr + λa g)
    for (let i = 0; i < d; i++) u[i] = (st.sxr[i] as number) + la * (g[i] as number);
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += (ainv[i * d + j] as number) * (u[j] as number);
      w[wOff + i] = acc;
    }
    // T = A⁻¹Pᵀ (d×s), then V = λa² T Q̃ Tᵀ + A⁻¹ (upper triangle, packed).
    t.fill(0);
    for (let i = 0; i < d; i++) {
      const row = i * sd;
      for (let j = 0; j < d; j++) {
        const at = row + (slot[j] as number);
        t[at] = (t[at] as number) + (sign[j] as number) * (ainv[i * d + j] as number);
      }
    }
    for (let i = 0; i < d; i++) {
      const row = i * sd;
      for (let j = 0; j < sd; j++) {
        let acc = 0;
        for (let l = 0; l < sd; l++) acc += (t[row + l] as number) * (q[l * sd + j] as number);
        tq[row + j] = acc;
      }
    }
    let o = 0;
    for (let i = 0; i < d; i++) {
      const ri = i * sd;
      for (let j = i; j < d; j++) {
        const rj = j * sd;
        let acc = 0;
        for (let l = 0; l < sd; l++) acc += (tq[ri + l] as number) * (t[rj + l] as number);
        vPacked[o++] = la2 * acc + (ainv[i * d + j] as number);
      }
    }
  }

  return {
    d,
    m,
    size: K,
    ids,
    index,
    w,
    V,
    sigma2,
    eventValue,
    explore,
    beta,
    sketch,
    n,
    features,
    priors: Object.freeze({ ...priors }),
    scratch: new Float64Array(dp),
  };
}

/** g = Z_aᵀβ: g[u] = sign[u] Σ_j β[(slot[u], j)] c_j, the shared model's weights on the full context. */
function sharedWeightsInto(
  beta: Float64Array,
  c: Float64Array,
  sketch: SharedSketch,
  m: number,
  out: Float64Array,
): Float64Array {
  const { slot, sign } = sketch;
  for (let u = 0; u < out.length; u++) {
    const base = (slot[u] as number) * m;
    let acc = 0;
    for (let j = 0; j < m; j++) acc += (beta[base + j] as number) * (c[j] as number);
    out[u] = (sign[u] as number) * acc;
  }
  return out;
}

/** Diagnostics of one action's posterior, for dashboards and debugging (allocates; not for the request path). */
export interface PosteriorSummary {
  id: string;
  n: number;
  /** w_a: the mean score of context x is xᵀw_a. */
  weights: Float64Array;
  /** ‖w_a‖₂. */
  weightNorm: number;
  /** Z_aᵀβ̂: the part of w_a explained by the shared model from the action's features alone. */
  sharedWeights: Float64Array;
  /** σ²·trace(V_a): total posterior score variance over a unit-norm context basis (shrinks as data arrives). */
  varianceTrace: number;
  sigma2: number;
}

/** Summary of action `id`, or undefined when the posterior does not know it. */
export function posteriorSummary(post: HybridPosterior, id: string): PosteriorSummary | undefined {
  const a = post.index.get(id);
  if (a === undefined) return undefined;
  const { d, m } = post;
  const weights = post.w.slice(a * d, (a + 1) * d);
  let norm = 0;
  for (const v of weights) norm += v * v;
  const sharedWeights = sharedWeightsInto(
    post.beta,
    post.features.subarray(a * m, (a + 1) * m),
    post.sketch,
    m,
    new Float64Array(d),
  );
  const dp = packedSize(d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += post.V[a * dp + (i * (2 * d - i - 1)) / 2 + i] as number;
  return {
    id,
    n: post.n[a] as number,
    weights,
    weightNorm: Math.sqrt(norm),
    sharedWeights,
    varianceTrace: post.sigma2 * trace,
    sigma2: post.sigma2,
  };
}

/**
 * The log marginal likelihood of the statistics under `priors`, up to a constant that does not depend on λs or λa:
 * with σ² integrated out under its inverse-gamma prior (ν0/2, ν0·s0²/2),
 *
 *   log p(y | λs, λa) = ½ (k log λs + d·W log λa) − ½ log|A| − ½ (ν0 + n) log(ν0·s0² + R) + const,
 *
 * where A is the joint posterior precision of [β; θ_1 … θ_W] over the W actions with statistics, log|A| =
 * Σ_a log|A_a| + log|A0| by the Schur complement the build already uses, and R = yᵀy − bᵀA⁻¹b with
 * bᵀA⁻¹b = Σ_a Sxr_aᵀ A_a⁻¹ Sxr_a + b0ᵀ A0⁻¹ b0. Everything comes from the per-action sums (MacKay 1992, "Bayesian
 * interpolation"; Bishop 2006, §3.5). One evaluation costs one pass 1 of the build. Returns −∞ when a factorisation
 * fails or nothing constrains σ² (all rewards 0).
 */
export function logEvidence(dims: Dims, priors: Priors, actions: readonly PosteriorAction[]): number {
  return evidenceFunction(dims, actions)(priors);
}

/**
 * {@link logEvidence} as a function of the priors for fixed statistics, for a search: the λa-dependent half of the
 * factorisation is kept for the last λa, so a change of λs alone costs one k×k Cholesky factorisation.
 */
export function evidenceFunction(dims: Dims, actions: readonly PosteriorAction[]): (priors: Priors) => number {
  const { d, m } = dims;
  checkInputs(dims, actions);
  const sketch = sharedSketch(d, m);
  let cachedLa = Number.NaN;
  let part: ActionPart | undefined;
  // The two k×k buffers every evaluation reuses (A0 factored, and the Schur sum of the last λa): a search evaluates
  // dozens of λ pairs.
  const k = sketch.s * m;
  const A0 = new Float64Array(k * k);
  const sharedSum = new Float64Array(k * k);
  return (priors) => {
    validatePriors(priors);
    let f: Factored;
    try {
      if (part === undefined || cachedLa !== priors.lambdaAction) {
        part = undefined;
        part = factorActions(d, m, priors.lambdaAction, actions, sketch, false, sharedSum);
        cachedLa = priors.lambdaAction;
      }
      f = factorShared(part, priors.lambdaShared, A0);
    } catch {
      return Number.NEGATIVE_INFINITY;
    }
    const scale = priors.noisePriorWeight * priors.noisePriorVariance + Math.max(0, f.sumR2 - f.explained);
    if (!(scale > 0)) return Number.NEGATIVE_INFINITY;
    const logDetPrior = k * Math.log(priors.lambdaShared) + d * f.warmCount * Math.log(priors.lambdaAction);
    return 0.5 * logDetPrior - 0.5 * f.logDetA - 0.5 * (priors.noisePriorWeight + f.n) * Math.log(scale);
  };
}

/** Σ n, Σ r and Σ r² over the actions that have statistics. */
export function rewardTotals(actions: readonly PosteriorAction[]): { n: number; sumR: number; sumR2: number } {
  let n = 0;
  let sumR = 0;
  let sumR2 = 0;
  for (const a of actions) {
    if (!a.stats) continue;
    n += a.stats.n;
    sumR += a.stats.sumR;
    sumR2 += a.stats.sumR2;
  }
  return { n, sumR, sumR2 };
}
