/**
 * Hyper-parameters learned from the data (empirical Bayes), so a decision point needs no tuning.
 *
 * Rule (per objective, i.e. per posterior):
 * - s0², the prior guess of the noise variance, is the variance of the rewards seen so far (Σr²/n − (Σr/n)²), and 1
 *   before any; ν0 = {@link DEFAULT_NOISE_PRIOR_WEIGHT}. Both scale with the reward's unit as a variance should.
 * - λs and λa (prior precisions in units of 1/σ², so unit-free) maximise the log marginal likelihood of the statistics
 *   ({@link logEvidence}: the hybrid linear Gaussian model with σ² integrated out) plus a weak log-normal hyperprior
 *   log λ ~ N(0, (ln 100)²) that only matters when the data cannot tell (e.g. one action: λa and λs trade off).
 *   The search is over ln λ in [ln 1e-3, ln 1e5]: a coarse scan in factors of 10, then golden-section refinement
 *   within a factor of 10 of the best point to an interval of 0.05 in ln λ (5% in λ: the evidence is flat there,
 *   and decisions do not tell λs 10 from 30), one coordinate at a time, two sweeps. From a previous fit (the data
 *   have grown by a tenth since, see REFIT_GROWTH) it only refines within a factor of 3 of it, in one sweep: an
 *   optimum further away is followed over successive refits.
 * - A value the settings give explicitly is used as given and not learned.
 * - Wide contexts: one evidence evaluation costs about d³/6 per action with data. When the actions with data exceed
 *   max({@link MIN_EVIDENCE_ACTIONS}, ⌊100·32³/d³⌋) (what 100 actions cost at d = 32), λs and λa maximise the evidence
 *   of the most-observed ones of that many (ties by id): the exact marginal likelihood of part of the data, so the
 *   fit's cost is bounded by d, not by the catalog: 800 actions at d = 16, 100 at d = 32, 12 at d = 64, 10 from
 *   d = 67 on. Catalogs within the bound use every action.
 *
 * Unit invariance: multiplying every reward by c > 0 multiplies R, s0² and so the evidence's σ² term by c², which
 * shifts the log evidence by a constant: the same λs and λa maximise it. σ² scales by c², posterior means by c and
 * sampling standard deviations by c, so every Thompson draw is c times the original and the argmax, the propensities
 * and the decisions are unchanged.
 */
import { type Dims, evidenceFunction, type PosteriorAction, type Priors, rewardTotals } from './posterior.ts';

/** Hyper-parameters as a decision point's settings give them: any left out is learned from the data. */
export interface PriorSettings {
  lambdaShared?: number | undefined;
  lambdaAction?: number | undefined;
  noisePriorVariance?: number | undefined;
  noisePriorWeight?: number | undefined;
}

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
  const free: ('lambdaShared' | 'lambdaAction')[] = [];
  if (settings.lambdaShared === undefined) free.push('lambdaShared');
  if (settings.lambdaAction === undefined) free.push('lambdaAction');
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

  // From a previous fit the optimum moves little: one sweep of refinement.
  for (let sweep = 0; sweep < (previous === undefined ? 2 : 1); sweep++) {
    for (const key of free) {
      const current = Math.log(point[key]);
      let centre = current;
      let best = objective(key, current);
      if (previous === undefined && sweep === 0) {
        // Coarse scan over the whole range in factors of 10.
        for (let g = LOG_MIN; g <= LOG_MAX + 1e-9; g += LN10) {
          const v = objective(key, g);
          if (v > best) {
            best = v;
            centre = g;
          }
        }
      }
      const half = previous === undefined ? LN10 : LN3;
      const lo = Math.max(LOG_MIN, centre - half);
      const hi = Math.min(LOG_MAX, centre + half);
      const found = goldenMax((u) => objective(key, u), lo, hi, 0.05);
      point[key] = Math.exp(found.value > best ? found.at : centre);
    }
  }
  return point;
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
