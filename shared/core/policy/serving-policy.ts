/**
 * The serving policy of a decision point: the distribution its model puts on the first slot for one context and one
 * candidate list. `decide` draws from it and logs the chosen action's probability as the propensity; the retraining
 * gate evaluates it off-policy. Both call {@link scoreServingPolicy}, so the gate certifies the policy that serves.
 *
 * Every candidate a gets a Gaussian score s_a ~ N(μ_a, σ_a²), independent across candidates (each from
 * `scoreInto`, i.e. posterior mean and exploration-scaled sampling sd):
 * - no objectives: the global (`default`) posterior's score;
 * - `weighted`: s_a = Σ_k w_k g_k(x) s_{k,a} over the objectives' posteriors, sampled independently, so
 *   μ_a = Σ_k w_k g_k μ_{k,a} and σ_a² = Σ_k (w_k g_k)² σ_{k,a}². A sum of independent Gaussians is Gaussian, so this
 *   is the exact law of the combination, not an approximation, and drawing s_a once is the same as drawing each term
 *   and adding. g_k(x) = clamp(p_k(x) / p̄_k, 0, 1) is objective k's reach share ({@link reachShare}): the intent
 *   model's probability p_k(x) that a user like x reaches k, against its rate p̄_k over all decisions (1 until it has
 *   `minOutcomes` outcomes). The rule it implements: a target event that users like x never reach adds neither value
 *   nor exploration to their scores. Why: objective k's posterior is linear in the context and fitted on every user,
 *   so where some users never reach k (non-buyers and purchases) its mean for them is the leak of other users'
 *   effects, not zero, and on k's scale (a purchase worth 20 clicks) that noise outweighs the objectives they do reach.
 *   Measured on the objectives benchmark (12,000 decisions, 3 seeds): non-buyers sent to an action they click 56.3%
 *   of decisions without the share, 89.1% with it, and more value for buyers too (BENCHMARKS "Several objectives").
 *   Users at least as likely as the average to reach k (g = 1) are scored as before. g_k depends on x and the model
 *   only, so the propensities stay exact;
 * - `intent`: the score of one objective's posterior, k* = argmax_k clamp(xᵀβ_k, 0, 1) × v_k × w_k over the
 *   objectives whose intent model has at least `minOutcomes` outcomes (first configured wins a tie), else `default`.
 *   xᵀβ_k is the intent model's ridge mean, not a draw, so which posterior serves is a deterministic function of x.
 *
 * Slot 1 is uniform over the K candidates with probability ε, otherwise the argmax of one draw of every score, so
 * p_a = (1 − ε) P(a = argmax_b s_b) + ε / K, from `argmaxProbabilities` (quadrature error about 1e-9). This is what
 * `selectThompson` samples from, given the same means, sds and ε. ε is the settings' when they give one, else
 * {@link explorationFloor} of the decisions the model has learned from and K.
 *
 * Every posterior's priors are learned from its own statistics where the settings leave them out
 * (core/bandit/hyperparameters.ts), and objectives whose rewards are non-negative event values use the compound-event
 * noise model (core/bandit/score.ts).
 *
 * Pure: no I/O, and the model is read, never changed. Output buffers are the caller's, reused across calls.
 */
import { InvalidArgumentError } from '../bandit/errors.ts';
import { learnPriors, type PriorSettings } from '../bandit/hyperparameters.ts';
import { choleskyInPlace, choleskySolveInPlace, unpackSymmetric } from '../bandit/linalg.ts';
import { buildPosterior, type Dims, type HybridPosterior, type Priors } from '../bandit/posterior.ts';
import { scoreInto } from '../bandit/score.ts';
import type { ActionStats } from '../bandit/stats.ts';
import { argmaxProbabilities } from '../bandit/thompson.ts';
import {
  DEFAULT_OBJECTIVE,
  INTENT_ACTION,
  intentObjective,
  type PriorScale,
  type PromotedFit,
  type PromotedSettings,
} from '../domain.ts';

/** What `decide` reports as `servedBy` / `objective` in weighted mode. */
export const WEIGHTED = 'weighted';

/** One objective's intent model: P(the user reaches the objective within its window | context). */
export interface IntentModel {
  /** Ridge weights of a linear probability model on the encoded context (d). */
  weights: Float64Array;
  /** Decisions that reached the objective (labels 1). */
  outcomes: number;
  /** Decisions observed (labels 0 or 1). */
  decisions: number;
  /** Mean objective value per decision that reached it: the value_k of P_k × value_k. */
  valuePerOutcome: number;
}

/** The parts of a model the serving policy reads. */
export interface ServingPolicyModel {
  /** One posterior per objective, `default` included, all over the same action list (so an index means one action). */
  posteriors: ReadonlyMap<string, HybridPosterior>;
  /** Intent model per configured objective. */
  intent: ReadonlyMap<string, IntentModel>;
  /** Impressions the global posterior has learned from (Σ n): what the default ε schedule decays with. */
  decisions: number;
  /**
   * Settings a promoted retraining run chose offline, used where the decision point's settings leave them out (the
   * multipliers are already in the posteriors' priors; kept here to report them).
   */
  learned?: Pick<PromotedSettings, 'scale' | 'priorScale'> | undefined;
  /** Per objective, the λs learned and the impressions they were learned on (absent in hand-made models). */
  fits?: ReadonlyMap<string, LearnedFit>;
}

/** The parts of a decision point's settings the serving policy reads. */
export interface ServingPolicySettings {
  objectives: readonly { name: string; weight: number }[];
  combine: { mode: 'weighted' | 'intent'; minOutcomes: number };
  exploration: { epsilon?: number | undefined; scale?: number | undefined };
}

/**
 * Whether the coverage rule applies: when the settings leave the Thompson scale to the engine and the decision point
 * has one objective (its `rewards`). With several objectives it is off: a rare event's value is learned from few
 * outcomes, which context coverage does not measure, and covered actions served nearly greedily stopped `weighted`
 * from finding buyers' offers (objectives world, 500 users, 3,000 decisions: expected value 0.409 with the rule,
 * 0.660 without; clicks alone 0.424). Their rare outcomes are handled by the compound-event noise instead.
 */
export function coverageRule(settings: {
  exploration: { scale?: number | undefined };
  objectives: readonly unknown[];
}): boolean {
  return settings.exploration.scale === undefined && settings.objectives.length === 0;
}

/**
 * The Thompson scale while neither the settings nor a promoted retraining run give one, for a decision point with one
 * objective: near-greedy. Over linear contexts that vary, acting on the posterior mean learns about as fast as
 * exploring (Bastani, Bayati & Khosravi 2021), and greedy-like methods were the strongest defaults of the contextual
 * bandit bake-off (Bietti, Agarwal & Langford 2018, "A contextual bandit bake-off"); the ε floor keeps every live
 * action's propensity ≥ ε/K, and each retraining run may promote a larger scale from {@link SCALE_GRID} where the
 * held-out logs show it pays. Measured (BENCHMARKS "Learning quality", 13 problems, against a grid search): with this
 * scale and the ε schedule below the defaults come within 2% of tuned on 10 of 13, against 3 of 13 with plain Thompson
 * sampling; holding the rest fixed, 0.02 did better than 0.01, 0.05, 0.1 and 1 on those problems.
 */
export const DEFAULT_EXPLORATION_SCALE = 0.02;

/**
 * The Thompson scale with several objectives: plain Thompson sampling. Their target events are rare and worth
 * different amounts, and learning which offers a buyer buys needs the posterior's own exploration: at 0.02 the
 * objectives benchmark lost 8% (`weighted`) and 16% (`intent`) of expected value per decision against 1.
 */
export const OBJECTIVES_EXPLORATION_SCALE = 1;

/**
 * The Thompson scales a retraining run evaluates when the settings leave the scale out (shared/app/retrain/evaluate.ts):
 * from nearly greedy to plain Thompson sampling, both defaults among them. Small on purpose: each point costs one
 * off-policy evaluation and a share of δ.
 */
export const SCALE_GRID: readonly number[] = Object.freeze([0.005, DEFAULT_EXPLORATION_SCALE, 0.1, 1]);

/** The learned λs as they are. */
export const UNIT_PRIOR_SCALE: PriorScale = Object.freeze({ shared: 1, action: 1 });

/**
 * The multipliers on the learned λs a retraining run evaluates where the settings leave them out
 * (shared/app/retrain/evaluate.ts): the learned ones first, then each λ alone ten times weaker and ten times stronger.
 * Ten, because the evidence is flat within a factor of a few (decisions do not tell λs 10 from 30) and a correction
 * the held-out days could show must be larger than that; one λ at a time, because each point costs one off-policy
 * evaluation and a share of δ. Absolute, not relative to what serves: a run may move from one point to another, never
 * compound them.
 */
export const PRIOR_GRID: readonly PriorScale[] = Object.freeze(
  [
    UNIT_PRIOR_SCALE,
    { shared: 0.1, action: 1 },
    { shared: 10, action: 1 },
    { shared: 1, action: 0.1 },
    { shared: 1, action: 10 },
  ].map((p) => Object.freeze(p)),
);

/**
 * The multipliers that apply under `priors` (the decision point's settings): a λ the settings give is used as given,
 * so its multiplier is 1.
 */
export function effectivePriorScale(priors: PriorSettings, scale: PriorScale | undefined): PriorScale {
  return {
    shared: priors.lambdaShared === undefined ? (scale?.shared ?? 1) : 1,
    action: priors.lambdaAction === undefined ? (scale?.action ?? 1) : 1,
  };
}

/**
 * The points of {@link PRIOR_GRID} that change no λ the settings give, i.e. that {@link effectivePriorScale} leaves as
 * they are ({@link UNIT_PRIOR_SCALE} alone when the settings give both).
 */
export function priorGrid(priors: PriorSettings): PriorScale[] {
  return PRIOR_GRID.filter((p) => {
    const applied = effectivePriorScale(priors, p);
    return applied.shared === p.shared && applied.action === p.action;
  });
}

/** The scale that serves while neither the settings nor a promoted retraining run give one. */
export function defaultExplorationScale(settings: { objectives: readonly unknown[] }): number {
  return settings.objectives.length > 0 ? OBJECTIVES_EXPLORATION_SCALE : DEFAULT_EXPLORATION_SCALE;
}

/**
 * The default ε schedule's ceiling, floor and the impressions per candidate before it starts to decay: with one
 * objective and with several.
 */
export const EPSILON_SCHEDULE = Object.freeze({ max: 0.05, min: 0.01, perCandidate: 10, perCandidateObjectives: 100 });

/**
 * The default exploration floor for K candidates after n learned impressions: ε = 0.05 · sqrt(c·K / n), clamped to
 * [0.01, 0.05], with c = 10 impressions per candidate for one objective and 100 with several. Rationale: uniform picks
 * cost at most Δmax each, and Σ_{t ≤ T} 0.05·sqrt(cK/t) ≤ 0.1·sqrt(c)·sqrt(K·T), at most the minimax regret order
 * sqrt(K·T) of a K-armed bandit, so the floor never dominates Thompson sampling's own regret while it decays. The
 * 0.01 floor keeps every live candidate's propensity ≥ 0.01/K, so the promotion gate's importance weights stay ≤ 100·K
 * (its price is at most 1% of decisions spent uniformly). Deterministic in the model and K, so the logged propensity
 * stays exact.
 * Why two constants, measured: with one objective the learning is Thompson sampling's and the floor is for support;
 * at c = 100 the quality benchmark's short runs (1,000–4,000 decisions) spent 2–3% of their reward on it. With
 * objectives the floor is what finds the rare, valuable events: at c = 10 `weighted` stopped finding buyers' offers in
 * the small objectives world (500 users, 3,000 decisions: 0.41 expected per decision against 0.66 at c = 100, below the
 * 0.43 of clicks alone; `test/sim/engine-harness.test.ts`).
 */
export function explorationFloor(decisions: number, candidates: number, objectives = 0): number {
  const { max, min, perCandidate, perCandidateObjectives } = EPSILON_SCHEDULE;
  if (!(decisions > 0)) return max;
  const c = objectives > 0 ? perCandidateObjectives : perCandidate;
  return Math.min(max, Math.max(min, max * Math.sqrt((c * candidates) / decisions)));
}

/**
 * The ε and Thompson scale that serve `candidates` candidates: each the settings' when they give it, else ε from
 * {@link explorationFloor} and the scale a promoted retraining run chose (`model.learned`), else
 * {@link defaultExplorationScale}.
 */
export function servingExploration(
  model: { decisions?: number | undefined; learned?: { scale?: number | undefined } | undefined },
  settings: Pick<ServingPolicySettings, 'exploration' | 'objectives'>,
  candidates: number,
): { epsilon: number; scale: number } {
  const { exploration } = settings;
  return {
    epsilon: exploration.epsilon ?? explorationFloor(model.decisions ?? 0, candidates, settings.objectives.length),
    scale: exploration.scale ?? model.learned?.scale ?? defaultExplorationScale(settings),
  };
}

/** Options of {@link buildServingPolicyModel}. */
export interface ServingModelOptions {
  /** Objectives (`default` for the global posterior) whose rewards are non-negative event values. */
  compoundEvents?: readonly string[];
  /**
   * The coverage rule (`BuildOptions.coverage`): actions whose data cover the contexts are served on their mean. On
   * when the settings leave `exploration.scale` out ({@link coverageRule}).
   */
  coverage?: boolean;
  /**
   * The fits to start from (the model this one replaces, or what a retraining run promoted): an objective's λs are
   * reused while its impressions have grown by less than {@link REFIT_GROWTH} since they were fitted, and are the
   * starting point of the refit after that. A fit on no impressions is none: the first fit on data searches the
   * whole range.
   */
  previous?: { fits?: ReadonlyMap<string, PromotedFit> | undefined };
  /**
   * Multipliers a retraining run promoted for the learned λs ({@link PriorScale}); applied to the posteriors only, so
   * `fits` keep the λs as learned and refits start from them. A λ the settings give is not multiplied.
   */
  priorScale?: PriorScale | undefined;
}

/** Learned λs are refitted once an objective's impressions have grown by this factor since the last fit. */
export const REFIT_GROWTH = 1.1;

/**
 * Statistics per objective and action, as stored: objective k's bandit under `k`, the global policy under `default`,
 * and k's intent model under objective `intent:k`, action `*`.
 */
export type StatsByObjective = ReadonlyMap<string, ReadonlyMap<string, ActionStats>>;

/**
 * The serving policy's model from statistics: one hybrid posterior per objective (`default` first) over `actions`
 * in the order given, and each configured objective's intent model. Serving (the model cache) and the retraining
 * evaluation build their models here, from their own statistics.
 */
export function buildServingPolicyModel(
  dims: Dims,
  priors: PriorSettings,
  actions: readonly { id: string; features: Float64Array }[],
  objectives: readonly { name: string }[],
  stats: StatsByObjective,
  options: ServingModelOptions = {},
): ServingPolicyModel {
  const posteriors = new Map<string, HybridPosterior>();
  const fits = servingFits(dims, priors, actions, objectives, stats, options.previous);
  const compound = new Set(options.compoundEvents ?? []);
  const by = effectivePriorScale(priors, options.priorScale);
  for (const [objective, { n: _, ...built }] of fits) {
    const served = {
      ...built,
      lambdaShared: built.lambdaShared * by.shared,
      lambdaAction: built.lambdaAction * by.action,
    };
    posteriors.set(
      objective,
      buildPosterior(dims, served, objectiveInput(actions, stats, objective), {
        compoundEvents: compound.has(objective),
        coverage: options.coverage ?? false,
      }),
    );
  }
  const intent = new Map<string, IntentModel>();
  for (const o of objectives) {
    let total = 0;
    for (const s of stats.get(o.name)?.values() ?? []) total += s.sumR;
    const reached = stats.get(intentObjective(o.name))?.get(INTENT_ACTION);
    intent.set(o.name, intentModel(reached, total, posteriors.get(o.name)!.priors.lambdaShared, dims.d));
  }
  let decisions = 0;
  for (const v of posteriors.get(DEFAULT_OBJECTIVE)!.n) decisions += v;
  return { posteriors, intent, decisions, fits };
}

/** The priors a posterior was built with, and the impressions its λs were fitted on. */
interface LearnedFit extends Priors {
  n: number;
}

function objectiveInput(
  actions: readonly { id: string; features: Float64Array }[],
  stats: StatsByObjective,
  objective: string,
): { id: string; features: Float64Array; stats: ActionStats | undefined }[] {
  const table = stats.get(objective);
  return actions.map((a) => ({ id: a.id, features: a.features, stats: table?.get(a.id) }));
}

/**
 * Per objective (`default` first), the priors {@link buildServingPolicyModel} builds with and the impressions their
 * λs were fitted on, without building the posteriors (what a retraining run promotes with its model). Within
 * {@link REFIT_GROWTH} of `previous`'s fit the learned λs are kept (given to learnPriors as if set); past it they are
 * refitted, starting from them.
 */
export function servingFits(
  dims: Dims,
  priors: PriorSettings,
  actions: readonly { id: string; features: Float64Array }[],
  objectives: readonly { name: string }[],
  stats: StatsByObjective,
  previous?: ServingModelOptions['previous'],
): Map<string, LearnedFit> {
  const fits = new Map<string, LearnedFit>();
  for (const objective of [DEFAULT_OBJECTIVE, ...objectives.map((o) => o.name)]) {
    const input = objectiveInput(actions, stats, objective);
    let n = 0;
    for (const a of input) n += a.stats?.n ?? 0;
    // A fit on no data is the prior's default, not a fit: the first fit on data scans the whole range.
    const fitted = previous?.fits?.get(objective);
    const before = fitted !== undefined && fitted.n > 0 ? fitted : undefined;
    const keep = before !== undefined && n >= before.n && n < before.n * REFIT_GROWTH;
    const built = keep
      ? learnPriors(
          dims,
          {
            ...priors,
            lambdaShared: priors.lambdaShared ?? before.lambdaShared,
            lambdaAction: priors.lambdaAction ?? before.lambdaAction,
          },
          input,
        )
      : learnPriors(dims, priors, input, before);
    fits.set(objective, { ...built, n: keep ? before.n : n });
  }
  return fits;
}

/**
 * An objective's intent model from its `intent:k` statistics (label 1 per decision that reached k) and the objective's
 * total reward over all actions: ridge weights under the shared prior λs (intent models are decision-point wide, not
 * per action), and the value per outcome, total ÷ outcomes.
 */
export function intentModel(
  reached: ActionStats | undefined,
  objectiveRewardTotal: number,
  lambda: number,
  d: number,
): IntentModel {
  return {
    weights: reached ? ridge(reached, lambda) : new Float64Array(d),
    outcomes: reached?.sumR ?? 0,
    decisions: reached?.n ?? 0,
    valuePerOutcome: reached && reached.sumR > 0 ? objectiveRewardTotal / reached.sumR : 0,
  };
}

/** Ridge solution (λI + Σxxᵀ)⁻¹ Σxr of one statistics item. */
function ridge(s: ActionStats, lambda: number): Float64Array {
  const d = s.sxr.length;
  const a = unpackSymmetric(s.sxx, d, new Float64Array(d * d));
  for (let i = 0; i < d; i++) a[i * d + i]! += lambda;
  choleskyInPlace(a, d);
  return choleskySolveInPlace(a, d, Float64Array.from(s.sxr));
}

/**
 * Which posterior serves context x: `default` without objectives, {@link WEIGHTED} in weighted mode, else the
 * intent-selected objective (or `default` while no objective's intent model has `minOutcomes` outcomes).
 */
export function servingObjective(model: ServingPolicyModel, settings: ServingPolicySettings, x: Float64Array): string {
  const objectives = settings.objectives;
  if (objectives.length === 0) return DEFAULT_OBJECTIVE;
  if (settings.combine.mode === 'weighted') return WEIGHTED;
  let best: string | undefined;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (const o of objectives) {
    const intent = model.intent.get(o.name);
    if (!intent || intent.outcomes < settings.combine.minOutcomes) continue;
    const value = intentProbability(intent, x) * intent.valuePerOutcome * o.weight;
    if (value > bestValue) {
      bestValue = value;
      best = o.name;
    }
  }
  return best ?? DEFAULT_OBJECTIVE;
}

/** Output buffers of {@link scoreServingPolicy}, grown on demand and reused (no allocation per request). */
export class ServingScores {
  /** Mean of each candidate's score (position p ↔ candidates[p]). */
  mean = new Float64Array(64);
  /** Sampling standard deviation of each candidate's score. */
  sd = new Float64Array(64);
  /** Slot-1 probability of each candidate, ε floor included. */
  probability = new Float64Array(64);
  partMean = new Float64Array(64);
  partSd = new Float64Array(64);
  /** The ε the last call used (the settings' or the default schedule's): selection must use the same. */
  epsilon = 0;

  ensure(count: number): void {
    if (this.mean.length >= count) return;
    const size = Math.max(count, 2 * this.mean.length);
    this.mean = new Float64Array(size);
    this.sd = new Float64Array(size);
    this.probability = new Float64Array(size);
    this.partMean = new Float64Array(size);
    this.partSd = new Float64Array(size);
  }
}

/**
 * Scores `candidates` (indexes into the model's posteriors) for context x under the serving policy: fills
 * `out.mean`/`out.sd` with each candidate's score distribution, `out.epsilon` with the ε to select with, and
 * `out.probability` with each candidate's exact slot-1 probability, for positions 0…candidates.length−1; returns which
 * posterior served (see {@link servingObjective}).
 */
export function scoreServingPolicy(
  model: ServingPolicyModel,
  settings: ServingPolicySettings,
  x: Float64Array,
  candidates: Int32Array,
  out: ServingScores,
): string {
  const served = servingDistribution(model, settings, x, candidates, out);
  argmaxProbabilities(out.mean, out.sd, candidates.length, out.epsilon, out.probability);
  return served;
}

/**
 * The first half of {@link scoreServingPolicy}: the candidates' score distributions and ε, without the probabilities
 * (for a caller that only samples, like the simulator).
 */
export function servingDistribution(
  model: ServingPolicyModel,
  settings: ServingPolicySettings,
  x: Float64Array,
  candidates: Int32Array,
  out: ServingScores,
): string {
  const count = candidates.length;
  out.ensure(count);
  const { mean, sd } = out;
  const { scale, epsilon } = servingExploration(model, settings, count);
  const served = servingObjective(model, settings, x);
  if (served !== WEIGHTED) {
    scoreInto(posteriorOf(model, served), x, candidates, scale, mean, sd);
  } else {
    mean.fill(0, 0, count);
    sd.fill(0, 0, count);
    const { partMean, partSd } = out;
    for (const o of settings.objectives) {
      const w = o.weight * reachShare(model.intent.get(o.name), settings.combine.minOutcomes, x);
      if (w === 0) continue;
      scoreInto(posteriorOf(model, o.name), x, candidates, scale, partMean, partSd);
      for (let i = 0; i < count; i++) {
        mean[i]! += w * partMean[i]!;
        sd[i]! += w * w * partSd[i]! * partSd[i]!;
      }
    }
    for (let i = 0; i < count; i++) sd[i] = Math.sqrt(sd[i]!);
  }
  out.epsilon = epsilon;
  return served;
}

/**
 * The share of objective k's score that weighted mode adds for context x: g_k(x) = clamp(p_k(x) / p̄_k, 0, 1), where
 * p_k(x) = clamp(xᵀβ_k, 0, 1) is the intent model's probability that a user like x reaches k and p̄_k = outcomes ÷
 * decisions the rate over every decision it learned from; 1 while the intent model has fewer than `minOutcomes`
 * outcomes (it cannot tell yet). Unit-free: a ratio of two rates, whatever k's reward values.
 */
function reachShare(intent: IntentModel | undefined, minOutcomes: number, x: Float64Array): number {
  if (!intent || intent.outcomes < minOutcomes || !(intent.decisions > 0)) return 1;
  return Math.min(1, intentProbability(intent, x) / (intent.outcomes / intent.decisions));
}

/** The intent model's probability that a user with context x reaches its objective: clamp(xᵀβ, 0, 1). */
function intentProbability(intent: IntentModel, x: Float64Array): number {
  let p = 0;
  for (let i = 0; i < x.length; i++) p += x[i]! * intent.weights[i]!;
  return Math.min(1, Math.max(0, p));
}

function posteriorOf(model: ServingPolicyModel, objective: string): HybridPosterior {
  const post = model.posteriors.get(objective);
  // buildServingPolicyModel builds one per configured objective: a missing one is a programming error.
  if (!post) throw new InvalidArgumentError(`the serving model has no posterior for objective ${objective}`);
  return post;
}
