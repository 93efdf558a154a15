/**
 * Off-policy evaluation of slates: decisions that fill several slots, valued by their whole-page reward (the sum of
 * what each slot's action earned), from the per-slot propensities the engine logs (issue 16, item 3).
 *
 * **What is logged.** A slate round has a context, its candidates, the candidate shown in each slot j = 1…L
 * (`chosen[j]`), each slot's logged propensity μ_j = μ(a_j | x, a_1 … a_{j−1}), the probability that the logging
 * policy put that action in that slot given the slots above (the engine's `slots[j].propensity`), and each slot's
 * reward r_j. The slate's value is Σ_j r_j.
 *
 * **The target, slot by slot.** A target fills slot j from the candidates the slots above left, by its ordinary
 * distribution over them: the engine's own rule ("each lower slot is drawn like slot 1 among the candidates left",
 * core/bandit/thompson.ts), so any {@link TargetPolicy} gives its conditional π_j = π(a_j | x, a_<j) by being asked
 * for its distribution over the remaining candidates. w_j = π_j / μ_j and W_j = Π_{i ≤ j} w_i.
 *
 * **Estimators** (each the mean of one term per round, with a normal interval):
 * - `slateIps`, standard slate IPS: (Σ_j r_j) · W_L, where W_L = π(s | x) / μ(s | x) is the whole slate's
 *   probability ratio. Unbiased whatever the reward depends on; its weight is a product of L ratios, so its variance
 *   grows fast with L, and the normal interval on such heavy-tailed terms undercovers (measured: 91% for a nominal
 *   95% at n = 3,000 and L = 3, test/core/evaluation/slate.test.ts). Read it as a check of RIPS's assumption.
 * - `rips`, reward-interaction IPS (McInerney et al. 2020, "Counterfactual Evaluation of Slate Recommendations with
 *   Sequential Reward Interactions"): Σ_j r_j · W_j. Unbiased when slot j's reward depends on the context and the
 *   slots down to j only (the cascade assumption: a user reads from the top), which position-based click models
 *   satisfy. Slot j's reward carries only the ratios of the slots that can have caused it, so its variance is never
 *   above slate IPS's by construction of the terms.
 * - `snrips`, self-normalised RIPS: Σ_j (Σ_n W_nj r_nj / Σ_n W_nj). Each slot's cumulative weights are normalised
 *   over the rounds, so a common error in the weights cancels; biased by O(1/n). Interval by the delta method on its
 *   influence terms ψ_n = Σ_j W_nj (r_nj − V̂_j) / W̄_j.
 *
 * **Why not the pseudo-inverse estimator** (Swaminathan et al. 2017): it needs the logging policy's pairwise slot
 * marginals, Γ = E_μ[1_s 1_sᵀ | x] over every (slot, action) pair, which a log of conditional propensities does not
 * carry and which cost K^{L−1} slot-1 integrations per round to compute from the model. RIPS needs only what the
 * engine logs, and under a position-based click model it is unbiased as the pseudo-inverse estimator is.
 *
 * A round with fewer slots than another contributes 0 for the slots it does not have. A logged propensity of 0 or
 * none makes the round unusable: such rounds are rejected, since dropping them would bias every estimate.
 */
import { effectiveSampleSize, weightSums } from '../importance.ts';
import { InvalidOptionError } from './errors.ts';
import { cltEstimate, type IntervalOptions, zFor } from './estimators.ts';
import { boundInRewardUnits, type HcopeOptions, type HcopeResult, rewardScale } from './hcope.ts';
import type { Candidate, Estimate, Features, Round, TargetPolicy } from './types.ts';

export interface SlateRound {
  readonly context: Features;
  readonly candidates: readonly Candidate[];
  /** Candidate index shown in each slot, top first; no index twice. */
  readonly chosen: readonly number[];
  /** μ(chosen[j] | x, slots above), per slot. */
  readonly propensities: readonly number[];
  /** What slot j's action earned, per slot. */
  readonly rewards: readonly number[];
}

/** Per round and slot (row-major, `slots` per round): the cumulative weight W_j and the reward r_j. */
export interface SlateTerms {
  readonly n: number;
  readonly slots: number;
  /** Each round's own number of slots. */
  readonly length: Int32Array;
  readonly cumulative: Float64Array;
  readonly reward: Float64Array;
}

export interface SlateReport {
  readonly target: string;
  readonly n: number;
  readonly slots: number;
  readonly estimates: { readonly slateIps: Estimate; readonly rips: Estimate; readonly snrips: Estimate | null };
  /** Per slot: the RIPS mean of that slot's terms (its share of `rips`) and the effective sample size of W_j. */
  readonly perSlot: readonly { readonly slot: number; readonly value: number; readonly ess: number }[];
}

/**
 * The round of slot `j` of a slate: the candidates left by the slots above, the slot's action among them, its logged
 * propensity and reward. A target's distribution over this round is its conditional for the slot.
 */
export function slotRound(s: SlateRound, j: number): Round {
  const above = new Set(s.chosen.slice(0, j));
  const candidates = s.candidates.filter((_, i) => !above.has(i));
  const id = s.candidates[s.chosen[j]!]!.id;
  return {
    context: s.context,
    candidates,
    chosenIndex: candidates.findIndex((c) => c.id === id),
    propensity: s.propensities[j]!,
    reward: s.rewards[j]!,
    position: j + 1,
  };
}

/** Checks one slate round's shape; throws {@link InvalidOptionError} naming the problem. */
export function checkSlate(s: SlateRound, at: number): void {
  const L = s.chosen.length;
  if (L === 0) throw new InvalidOptionError(`slate ${at}: no slots`);
  if (s.propensities.length !== L || s.rewards.length !== L)
    throw new InvalidOptionError(
      `slate ${at}: ${L} slots but ${s.propensities.length} propensities and ${s.rewards.length} rewards`,
    );
  if (new Set(s.chosen).size !== L) throw new InvalidOptionError(`slate ${at}: an action appears in two slots`);
  for (let j = 0; j < L; j++) {
    const c = s.chosen[j]!;
    if (!(Number.isInteger(c) && c >= 0 && c < s.candidates.length))
      throw new InvalidOptionError(`slate ${at}: slot ${j + 1} names no candidate`);
    const p = s.propensities[j]!;
    if (!(p > 0 && p <= 1))
      throw new InvalidOptionError(
        `slate ${at}: slot ${j + 1} has propensity ${p}; slate estimators need one in (0, 1]`,
      );
  }
}

/**
 * W_j and r_j for every round and slot under `target`: its conditional for slot j from `nextSlot` when it has one
 * (over all the round's candidates, the slots above given), else its distribution over the candidates left.
 */
export function slateTerms(rounds: readonly SlateRound[], target: TargetPolicy): SlateTerms {
  const n = rounds.length;
  let slots = 0;
  let widest = 0;
  rounds.forEach((s, i) => {
    checkSlate(s, i + 1);
    slots = Math.max(slots, s.chosen.length);
    widest = Math.max(widest, s.candidates.length);
  });
  const length = Int32Array.from(rounds, (s) => s.chosen.length);
  const cumulative = new Float64Array(n * slots);
  const reward = new Float64Array(n * slots);
  const out = new Float64Array(widest);
  for (let i = 0; i < n; i++) {
    const s = rounds[i]!;
    let w = 1;
    for (let j = 0; j < s.chosen.length; j++) {
      let p: number;
      if (target.nextSlot) {
        const round = {
          context: s.context,
          candidates: s.candidates,
          chosenIndex: s.chosen[j]!,
          reward: s.rewards[j]!,
        };
        target.nextSlot(round, s.chosen.slice(0, j), out);
        p = out[s.chosen[j]!]!;
      } else {
        const round = slotRound(s, j);
        target.distribution(round, out);
        p = out[round.chosenIndex]!;
      }
      w *= p / s.propensities[j]!;
      cumulative[i * slots + j] = w;
      reward[i * slots + j] = s.rewards[j]!;
    }
  }
  return { n, slots, length, cumulative, reward };
}

/** Standard slate IPS: the mean of (Σ_j r_j) · W_L. */
export function slateIpsEstimate(t: SlateTerms, options: IntervalOptions = {}): Estimate {
  const terms = new Float64Array(t.n);
  for (let i = 0; i < t.n; i++) {
    let r = 0;
    for (let j = 0; j < t.slots; j++) r += t.reward[i * t.slots + j]!;
    terms[i] = r * t.cumulative[i * t.slots + t.length[i]! - 1]!;
  }
  const { value, lower, upper } = cltEstimate(terms, options);
  return { value, lower, upper };
}

/** RIPS: the mean of Σ_j r_j · W_j. */
export function ripsEstimate(t: SlateTerms, options: IntervalOptions = {}): Estimate {
  const terms = new Float64Array(t.n);
  for (let i = 0; i < t.n; i++) {
    let s = 0;
    for (let j = 0; j < t.slots; j++) s += t.reward[i * t.slots + j]! * t.cumulative[i * t.slots + j]!;
    terms[i] = s;
  }
  const { value, lower, upper } = cltEstimate(terms, options);
  return { value, lower, upper };
}

/** Self-normalised RIPS, or null when some slot's weights sum to 0 (the target never reaches a logged slate). */
export function snripsEstimate(t: SlateTerms, options: IntervalOptions = {}): Estimate | null {
  const { n, slots } = t;
  const meanW = new Float64Array(slots);
  const value = new Float64Array(slots);
  for (let j = 0; j < slots; j++) {
    let sw = 0;
    let swr = 0;
    for (let i = 0; i < n; i++) {
      sw += t.cumulative[i * slots + j]!;
      swr += t.cumulative[i * slots + j]! * t.reward[i * slots + j]!;
    }
    if (!(sw > 0)) return null;
    meanW[j] = sw / n;
    value[j] = swr / sw;
  }
  let v = 0;
  for (let j = 0; j < slots; j++) v += value[j]!;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    let psi = 0;
    for (let j = 0; j < slots; j++)
      psi += (t.cumulative[i * slots + j]! * (t.reward[i * slots + j]! - value[j]!)) / meanW[j]!;
    ss += psi * psi;
  }
  const half = zFor(options.confidence) * (n > 1 ? Math.sqrt(ss / (n - 1) / n) : 0);
  return { value: v, lower: v - half, upper: v + half };
}

/**
 * HCOPE lower bound (hcope.ts) on a target's whole-page value from its RIPS returns: each slot's reward normalised to
 * [0, 1] by `range`, X = Σ_j W_j r'_j ≥ 0, clipped at the level chosen on a seeded share of the rounds, the
 * empirical-Bernstein bound on the rest; back in reward units as L̄·min + span·bound, L̄ the mean number of slots (the
 * requests', not the policy's choice). Valid under RIPS's assumption, with probability 1 − δ.
 */
export function slateLowerBound(t: SlateTerms, options: HcopeOptions): HcopeResult {
  const { min, span } = rewardScale(options.range);
  const returns = new Float64Array(t.n);
  let slots = 0;
  for (let i = 0; i < t.n; i++) {
    let x = 0;
    for (let j = 0; j < t.length[i]!; j++)
      x += t.cumulative[i * t.slots + j]! * ((t.reward[i * t.slots + j]! - min) / span);
    returns[i] = x;
    slots += t.length[i]! / t.n;
  }
  return boundInRewardUnits(returns, options, slots);
}

/** All three estimators of a target's whole-page value, with each slot's share and effective sample size. */
export function evaluateSlates(
  rounds: readonly SlateRound[],
  target: TargetPolicy,
  options: IntervalOptions = {},
): SlateReport {
  if (rounds.length === 0) throw new InvalidOptionError('no slate rounds to evaluate');
  return slateReport(target.name, slateTerms(rounds, target), options);
}

/** {@link evaluateSlates} from terms already computed. */
export function slateReport(target: string, t: SlateTerms, options: IntervalOptions = {}): SlateReport {
  const perSlot = [];
  for (let j = 0; j < t.slots; j++) {
    const weights = new Float64Array(t.n);
    let s = 0;
    for (let i = 0; i < t.n; i++) {
      weights[i] = t.cumulative[i * t.slots + j]!;
      s += weights[i]! * t.reward[i * t.slots + j]!;
    }
    perSlot.push({ slot: j + 1, value: s / t.n, ess: effectiveSampleSize(weightSums(weights)) });
  }
  return {
    target,
    n: t.n,
    slots: t.slots,
    estimates: {
      slateIps: slateIpsEstimate(t, options),
      rips: ripsEstimate(t, options),
      snrips: snripsEstimate(t, options),
    },
    perSlot,
  };
}
