/**
 * Hyper-parameters learned from the data (empirical Bayes), so a decision point needs no tuning.
 *
 * Rule (per objective, i.e. per posterior):
 * - s0², the prior guess of the noise variance, is the variance of the rewards seen so far (Σr²/n − (Σr/n)²), and 1
 *   before any; ν0 = {@link DEFAULT_NOISE_PRIOR_WEIGHT}. Both scale with the reward's unit as a variance should.
 * - λs* and λa (prior precisions in units of 1/σ², so unit-free) maximise the log marginal likelihood of the
 *   statistics ({@link logEvidence}: the hybrid linear Gaussian model with σ² integrated out) plus a weak log-normal
 *   hyperprior log λ ~ N(0, (ln 100)²) that only matters when the data cannot tell (e.g. one action: λa and λs trade
 *   off). Call that sum the objective.
 *   The search is over ln λ in [ln 1e-3, ln 1e5]: a coarse scan in factors of 10, then golden-section refinement
 *   within a factor of 10 of the best point to an interval of 0.05 in ln λ (5% in λ: the evidence is flat there,
 *   and decisions do not tell λs 10 from 30), one coordinate at a time, two sweeps. From a previous fit (the data
 *   have grown by a tenth since, see REFIT_GROWTH) λa only refines within a factor of 3 of it, in one sweep (an
 *   optimum further away is followed over successive refits); λs is searched over the whole range again, before and
 *   after λa's step, because the previous fit holds the λs served, not λs*, and an evaluation at a new λs alone costs
 *   one k×k factorisation (the λa half is kept).
 * - The λs served is not λs* but the lower end of its likelihood interval: the smallest λs ≤ λs* whose objective, λa
 *   held, is within {@link SHARED_INTERVAL_DROP} = 5 of the maximum, found by bisection on ln λs to 0.05. The
 *   objective at two values of λs compares two fixed-prior models of the same data, so the difference is a log Bayes
 *   factor (the hyperprior, weak, moves it little); 5 is where Kass & Raftery (1995, "Bayes factors", JASA 90(430))
 *   put "very strong" evidence (2 ln B > 10). So the λs served is the least shrinking shared prior that the data do
 *   not rule out by very strong evidence. Why the least shrinking: of the shared priors the data cannot tell apart, it
 *   lets the shared part generalise furthest to actions with few observations and leaves the most posterior variance
 *   where the data are thin, which is what a near-greedy policy explores with. Erring towards the more flexible model
 *   among hyper-parameters the data allow is the rule of Berkenkamp, Schoellig & Krause (2019, "No-regret Bayesian
 *   optimization with unknown hyperparameters", JMLR 20(50)): hyper-parameters fitted by maximum likelihood can leave
 *   a bandit stuck, and moving towards the more flexible model keeps a regret bound.
 *   Measured on the quality benchmark's worlds (same worlds and draws, mean reward over 20,000 rounds, paired mean
 *   difference ± its standard error):
 *   - serving the end of the 95% likelihood-ratio interval (drop χ²₁(0.95)/2 ≈ 1.92) against serving λs* (seeds 1–30,
 *     or 1–20 for the last three): 100 actions +5.2 ± 2.1%, churn +1.7 ± 0.8%, skewed history +0.9 ± 0.3%, base
 *     +0.7 ± 2.0%, 20 distractor features +0.4 ± 1.1%, noisy rewards −1.7 ± 3.6%, 5 actions +0.6 ± 1.7%;
 *   - the drop of 5 against 1.92: base +1.4 ± 0.9% (seeds 1–60), 100 actions +0.4 ± 0.9% (1–80), churn +0.6 ± 0.6%,
 *     5 actions +0.8 ± 0.8%, skewed history +0.0 ± 0.3%, noisy rewards +1.3 ± 2.9% (1–40), 20 distractor features
 *     +0.1 ± 1.1% (1–20); on the bake-off's cars defaults ÷ tuned 0.982 → 0.985, the other data sets unchanged. Drops
 *     of 6 and 12 did no better beyond the noise (100 actions: 6 was +2.3 ± 1.0% on seeds 1–40 and −0.7 ± 1.6% on
 *     41–80). Against the grid search's winner on base (λs 30, λa 1000, σ0² 1), seeds 1–200, the defaults were
 *     3.0 ± 0.6% below it with the drop of 1.92 and are 1.7 ± 0.5% below it with 5. No drop at all (λs at the
 *     search's floor, a flat shared prior) lost 0.2 ± 1.4% on base against 1.92: the shared prior does matter, it is
 *     just weaker than its maximiser.
 *   λa stays at its maximum: the upper end of its interval (more pooling) lost 2.6 ± 1.1% on the base world and
 *   10.7 ± 2.3% with 100 actions, the lower end 2.7 ± 2.0% with 100 actions (20 seeds, with the 1.92 rule for λs).
 * - A value the settings give explicitly is used as given and not learned.
 * - Serving may multiply the λs learned here by factors a retraining run certified on held-out days (`PRIOR_GRID`,
 *   shared/app/retrain/evaluate.ts); the fit itself, and so where the next refit starts, is this rule's.
 * - Wide contexts: one evidence evaluation costs about d³/6 per action with data. When the actions with data exceed
 *   max({@link MIN_EVIDENCE_ACTIONS}, ⌊100·32³/d³⌋) (what 100 actions cost at d = 32), the objective is the evidence
 *   of the most-observed ones of that many (ties by id): the exact marginal likelihood of part of the data, so the
 *   fit's cost is bounded by d, not by the catalog: 800 actions at d = 16, 100 at d = 32, 12 at d = 64, 10 from
 *   d = 67 on. Catalogs within the bound use every action.
 *
 * Unit invariance: multiplying every reward by c > 0 multiplies R, s0² and so the evidence's σ² term by c², which
 * shifts the log evidence by a constant: the same λs* and λa maximise it, and the same λs ends its interval. σ² scales
 * by c², posterior means by c and sampling standard deviations by c, so every Thompson draw is c times the original
 * and the argmax, the propensities and the decisions are unchanged.
 */
import { type Dims, evidenceFunction, type PosteriorAction, type Priors, rewardTotals } from './posterior.ts';

/** Hyper-parameters as a decision point's settings give them: any left out is learned from the data. */
export interface PriorSettings {
  lambdaShared?: number | undefined;
  lambdaAction?: number | undefined;
  noisePriorVariance?: number | undefined;
  noisePriorWeight?: number | undefined;
}

/**
 * How far below its maximum the objective may fall at the λs served: a log Bayes factor of 5 (2 ln B = 10, the start
 * of Kass & Raftery's "very strong" evidence), so λs is the least shrinking value the data do not rule out by very
 * strong evidence (see the module documentation).
 */
export const SHARED_INTERVAL_DROP = 5;

/** ν0 when the settings give none: the guess s0² weighs as much as ten observations. */
export const DEFAULT_NOISE_PRIOR_WEIGHT = 10;

const LOG_MIN = Math.log(1e-3);
const LOG_MAX = Math.log(1e5);
const HYPER_SD = Math.log(100);
const GOLDEN = (Math.sqrt(5) - 1) / 2;
const LN10 = Math.log(10);
const LN3 = Math.log(3);

/** The fewest actions the evidence is computed over when a wide context makes it subsample (see the rule above). */
export const MIN_EVIDENCE_ACTIONS = 10;
const EVIDENCE_BUDGET = 100 * 32 ** 3;

/** The actions whose evidence the fit maximises (see the rule in the module documentation). */
export function evidenceActions(d: number, actions: readonly PosteriorAction[]): readonly PosteriorAction[] {
  const cap = Math.max(MIN_EVIDENCE_ACTIONS, Math.floor(EVIDENCE_BUDGET / d ** 3));
  const observed = actions.filter((a) => a.stats !== undefined && a.stats.n > 0);
  if (observed.length <= cap) return actions;
  return observed.sort((a, b) => b.stats!.n - a.stats!.n || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, cap);
}

/** A fit to start from: refinement only, within a factor of 3 of its λs. */
export interface PreviousFit {
  lambdaShared: number;
  lambdaAction: number;
}

/** The priors to build with: the settings' explicit values, the rest learned (see the module documentation). */
export function learnPriors(
  dims: Dims,
  settings: PriorSettings,
  actions: readonly PosteriorAction[],
  previous?: PreviousFit,
): Priors {
  const t = rewardTotals(actions);
  const variance = t.n > 0 ? t.sumR2 / t.n - (t.sumR / t.n) ** 2 : 0;
  const base: Priors = {
    lambdaShared: settings.lambdaShared ?? previous?.lambdaShared ?? 1,
    lambdaAction: settings.lambdaAction ?? previous?.lambdaAction ?? 1,
    noisePriorVariance: settings.noisePriorVariance ?? (variance > 0 ? variance : t.sumR2 > 0 ? t.sumR2 / t.n : 1),
    noisePriorWeight: settings.noisePriorWeight ?? DEFAULT_NOISE_PRIOR_WEIGHT,
  };
  const sharedFree = settings.lambdaShared === undefined;
  const actionFree = settings.lambdaAction === undefined;
  const free: ('lambdaShared' | 'lambdaAction')[] = [];
  if (sharedFree) free.push('lambdaShared');
  if (actionFree) free.push('lambdaAction');
  if (free.length === 0 || t.n === 0) return base;

  const point = { ...base };
  const evidence = evidenceFunction(dims, evidenceActions(dims.d, actions));
  const objective = (key: 'lambdaShared' | 'lambdaAction', logLambda: number): number => {
    point[key] = Math.exp(logLambda);
    let penalty = 0;
    for (const k of free) penalty += Math.log(point[k]) ** 2 / (2 * HYPER_SD * HYPER_SD);
    return evidence(point) - penalty;
  };
  if (!Number.isFinite(evidence(point))) return base;

  /** One coordinate's step: a coarse scan of the whole range first when `scan`, then refinement within `half`. */
  const step = (key: 'lambdaShared' | 'lambdaAction', scan: boolean, half: number): void => {
    const current = Math.log(point[key]);
    let centre = current;
    let best = objective(key, current);
    if (scan) {
      for (let g = LOG_MIN; g <= LOG_MAX + 1e-9; g += LN10) {
        const v = objective(key, g);
        if (v > best) {
          best = v;
          centre = g;
        }
      }
    }
    const lo = Math.max(LOG_MIN, centre - half);
    const hi = Math.min(LOG_MAX, centre + half);
    const found = goldenMax((u) => objective(key, u), lo, hi, 0.05);
    point[key] = Math.exp(found.value > best ? found.at : centre);
  };
  if (previous === undefined) {
    for (let sweep = 0; sweep < 2; sweep++) for (const key of free) step(key, sweep === 0, LN10);
  } else {
    // λa's optimum moves little between refits; λs* is searched again because `previous` holds the λs served.
    if (sharedFree) step('lambdaShared', true, LN10);
    if (actionFree) step('lambdaAction', false, LN3);
    if (sharedFree) step('lambdaShared', false, LN3);
  }
  if (sharedFree)
    point.lambdaShared = Math.exp(intervalLowerEnd((u) => objective('lambdaShared', u), Math.log(point.lambdaShared)));
  return point;
}

/**
 * The smallest u ≤ top with f(u) ≥ f(top) − {@link SHARED_INTERVAL_DROP}, by bisection on [ln 1e-3, top] to 0.05.
 * Bisection finds that point when f rises towards its maximum `top` on that side; where f dips and rises again it
 * returns a crossing of the target, not necessarily the smallest one, which is still a λs the data do not rule out.
 */
function intervalLowerEnd(f: (u: number) => number, top: number): number {
  const target = f(top) - SHARED_INTERVAL_DROP;
  if (f(LOG_MIN) >= target) return LOG_MIN;
  let lo = LOG_MIN;
  let hi = top;
  while (hi - lo > 0.05) {
    const mid = (lo + hi) / 2;
    if (f(mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Golden-section search for the maximum of a unimodal f on [lo, hi], to an interval width of `tol`. */
function goldenMax(f: (u: number) => number, lo: number, hi: number, tol: number): { at: number; value: number } {
  let a = lo;
  let b = hi;
  let c = b - GOLDEN * (b - a);
  let d = a + GOLDEN * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tol) {
    if (fc >= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - GOLDEN * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + GOLDEN * (b - a);
      fd = f(d);
    }
  }
  return fc >= fd ? { at: c, value: fc } : { at: d, value: fd };
}
