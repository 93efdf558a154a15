/**
 * The evaluate step: off-policy evaluation of the candidate against the current model on the held-out slice (the
 * most recent days before the cutoff), and the promotion gate.
 *
 * **What is evaluated.** Each model as it would serve: the decision point's serving policy
 * (core/policy/serving-policy.ts, the function `decide` draws from and takes its logged propensity from), with a
 * model built from that model's statistics per objective by the code the serving model cache uses
 * (buildServingPolicyModel: one posterior per objective, `default` included, and each objective's intent model), under
 * the decision point's objectives, combine mode and exploration settings as planned for the run. So:
 * - no objectives: Thompson sampling over the global (`default`) posterior;
 * - `weighted`: Thompson sampling over Σ_k w_k × (objective k's score);
 * - `intent`: for each held-out decision, the objective its intent models select for the logged (encoded) context, or
 *   the global posterior while no objective has `minOutcomes` outcomes, then Thompson sampling over that objective;
 * each with the exploration floor ε, as exact slot-1 probabilities over the decision's logged candidates. Both models
 * are trained only on data from before the slice:
 * - candidate: the fit's `evaluation` statistics (days < holdoutFromBucket) of every objective, `intent:k` included;
 * - current: what serves now, restricted the same way, per objective: the active offline model's statistics plus the
 *   online statistics of days in [its cutoff, holdoutFromBucket); without an active model, the online statistics of
 *   days before the slice. If the active model was itself trained on the slice, its estimate is optimistic and the
 *   report says so (the gate is then only harder to pass).
 *
 * **Reward.** A held-out round's reward is what its decision's slot-1 action earned for the global (`default`)
 * policy, as map-partition.ts joins it: without objectives, its events' `rewards`; with objectives, Σ_k w_k × r_k,
 * each objective within its own attribution window. That weighted objective value is what every combine mode serves
 * for (`weighted` scores it directly; `intent` serves each user the objective with the largest expected weighted
 * contribution P(reach k | x) × value_k × w_k), so estimates and the gate are in its units. Stage moves are not valued
 * offline yet: the gate refuses promotion while the training data hold any.
 *
 * **Settings chosen offline.** The run evaluates the candidate model served at each point of a small grid of serving
 * settings on the same held-out rounds, with the same estimator and HCOPE bound. A point is a Thompson scale and
 * multipliers on the λs empirical Bayes learns (core/bandit/hyperparameters.ts). The grid is a cross through the point
 * that serves now (its scale and multipliers: the settings' values, else the active model's promoted ones, else the
 * defaults, scale 0.02 with one objective or 1 with several (`defaultExplorationScale`) and the learned λs as they are):
 * - that point first;
 * - each other Thompson scale of {@link SCALE_GRID}, with the multipliers that serve now (none when the settings give
 *   `exploration.scale`);
 * - each other multiplier pair of `PRIOR_GRID` (the learned λs, then λs or λa alone ×1/10 or ×10) that changes no λ
 *   the settings give, with the scale that serves now (none when the settings give both λs).
 * With everything left out that is 8 points; one axis moves per run, and the next run's cross is centred on what it
 * promoted. Why a cross and not every pair: each point costs one off-policy evaluation, and with 1,000 candidates per
 * decision the 20 pairs cost 50 s per 1,000 held-out decisions, past the steps Lambda's 15 minutes at the 20,000 the
 * slice may hold. A multiplier scales the λ the evidence keeps learning as data arrive (the model is built again for
 * it, from the same fits), so once promoted it keeps following the data.
 * The error probability δ is shared as a weighted union bound fixed before the data: δ/2 for the point that serves
 * now and δ / (2(|grid| − 1)) for each other point, so the grid's bounds hold together with probability 1 − δ and the
 * chosen one's is still a 1 − δ bound although it was picked for being the highest. Why not δ / |grid| each: when the
 * posterior is sharp every point serves the same argmax, and a twentieth of δ widened the bound of a plainly better
 * model past the gate (test/retrain/state-machine.emu.test.ts); the weighted split keeps the status quo's bound
 * tighter than the old δ/4 of a scale-only search and asks a change of settings to show itself against a stricter one.
 * Rule: the point with the highest lower bound (each at its own δ); a tie (within 1e-6) keeps the point that serves
 * now, else the earlier point in grid order; without any lower bound (no propensities) or without held-out rounds, the
 * point that serves now. A grid of one point (the settings give the scale and both λs) is no search:
 * `source: settings`. The candidate that faces the gate is the candidate model served at the point chosen, so the
 * gate certifies exactly what would serve, and promotion stores the scale and the multipliers with the model where
 * they were searched (promote.ts): a settings change is promoted only through the gate. The current model is served
 * at the point that serves now, so the comparison is fair. The scale multiplies every action's Thompson variance,
 * including the reduced share the coverage rule (on whenever the scale is left out) leaves a covered action. Reported
 * as `exploration` in the evaluation summary, the run's record and report: every grid point's estimate, bound and
 * share of δ, the point chosen and why.
 *
 * **Several slots.** When held-out decisions filled several slots and logged each slot's propensity given the slots
 * above, the whole page is evaluated too ({@link evaluatePages}): every held-out round with a propensity as a slate (a
 * one-slot decision as a slate of one), each model's RIPS estimate of the page's value (the sum of its slots'
 * rewards; core/evaluation/slate.ts) with each lower slot drawn as decide draws it (`nextSlot`: the decision's scores
 * and ε over every candidate, the slots above left out), and the candidate's HCOPE bound on its RIPS returns. RIPS
 * is unbiased when a slot's reward depends on the slots down to it. The settings are still chosen on slot 1.
 *
 * **Gate.** Promote iff the candidate's HCOPE lower bound (empirical Bernstein, 1 − δ) ≥ the current policy's
 * estimated value (recommended estimator, doubly robust when propensities exist) − tolerance, the slice has at
 * least `minEvalRounds` decisions, and no data are missing (failed map items, incomplete lake days); with several
 * slots, also the candidate's whole-page bound ≥ the current page's RIPS estimate − tolerance. `force`
 * overrides the statistical part of the gate only.
 */

import { SlotStatsTable } from '../../core/bandit/position.ts';
import type { ActionStats } from '../../core/bandit/stats.ts';
import { nextSlotProbabilities } from '../../core/bandit/thompson.ts';
import {
  type BaseModelStats,
  type CatalogAction,
  DEFAULT_OBJECTIVE,
  type PriorScale,
  type PromotedFit,
  type PromotedSettings,
} from '../../core/domain.ts';
import {
  type EvaluationReport,
  evaluatePolicy,
  type LoggedData,
  loggingPolicy,
  observedRange,
  type Round,
  type SlateRound,
  slateLowerBound,
  slateReport,
  slateTerms,
  type TargetPolicy,
} from '../../core/evaluation/index.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import {
  buildServingPolicyModel,
  coverageRule,
  defaultExplorationScale,
  effectivePriorScale,
  priorGrid,
  SCALE_GRID,
  type ServingModelOptions,
  type ServingPolicyModel,
  type ServingPolicySettings,
  ServingScores,
  type StatsByObjective,
  scoreServingPolicy,
  servingDistribution,
  servingFits,
  UNIT_PRIOR_SCALE,
} from '../../core/policy/serving-policy.ts';
import type { DecisionPointChanges, StateStore } from '../../core/ports.ts';
import { decodeAggregate, type HoldoutRound } from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { decodeModel, type OfflineModel, type OnlineBucketStats } from './fit.ts';
import { evaluationKey } from './keys.ts';
import type { BlobStore } from './ports.ts';
import type { PolicySummary, RunContext, RunParams, SettingsChoice } from './run-context.ts';

/**
 * A model's serving policy as an evaluation target: for each round, the slot-1 probabilities
 * {@link scoreServingPolicy} gives its candidates (by id) for its context. Rounds must carry the encoded context as a
 * Float64Array; every candidate must be an action of the model.
 */
export function servingTargetPolicy(
  name: string,
  model: ServingPolicyModel,
  settings: ServingPolicySettings,
): TargetPolicy {
  const index = model.posteriors.get(DEFAULT_OBJECTIVE)?.index;
  if (!index) throw new ArtifactError(`policy ${name} has no global posterior`);
  const scores = new ServingScores();
  let idx = new Int32Array(64);
  const indexes = (round: Round): Int32Array => {
    const k = round.candidates.length;
    if (idx.length < k) idx = new Int32Array(2 * k);
    for (let i = 0; i < k; i++) {
      const id = (round.candidates[i] as { id: string }).id;
      const a = index.get(id);
      if (a === undefined) throw new ArtifactError(`policy ${name} does not know action ${id}`);
      idx[i] = a;
    }
    return idx.subarray(0, k);
  };
  return {
    name,
    distribution(round, out) {
      const k = round.candidates.length;
      scoreServingPolicy(model, settings, round.context as Float64Array, indexes(round), scores);
      out.set(scores.probability.subarray(0, k));
    },
    // A lower slot as decide draws it: the decision's scores and ε over every candidate, the slots above left out.
    nextSlot(round, above, out) {
      const k = round.candidates.length;
      servingDistribution(model, settings, round.context as Float64Array, indexes(round), scores);
      nextSlotProbabilities(scores.mean, scores.sd, k, scores.epsilon, above, out);
    },
  };
}

/** The settings of the run's serving policy. */
export const servingSettings = (run: Pick<RunParams, 'objectives' | 'combine' | 'exploration'>) => ({
  objectives: run.objectives,
  combine: run.combine,
  exploration: run.exploration,
});

/** The serving policy's model of some statistics, over `actions` (the posteriors' action list, in that order). */
export function servingModelOf(
  run: Pick<RunParams, 'contextDim' | 'actionDim' | 'priors' | 'objectives' | 'compoundEvents' | 'exploration'>,
  actions: readonly { id: string; features: Float64Array }[],
  stats: StatsByObjective,
  options: Pick<ServingModelOptions, 'priorScale' | 'previous'> = {},
): ServingPolicyModel {
  return buildServingPolicyModel({ d: run.contextDim, m: run.actionDim }, run.priors, actions, run.objectives, stats, {
    compoundEvents: run.compoundEvents,
    coverage: coverageRule(run),
    ...options,
  });
}

/** The actions a posterior must know: the catalog, plus anything the statistics or the slice mention. */
function universe(
  run: RunParams,
  catalog: readonly CatalogAction[],
  logged: ReadonlyMap<string, number[]>,
  extra: Iterable<string>,
): { id: string; features: Float64Array }[] {
  const out = new Map<string, Float64Array>();
  for (const a of catalog) out.set(a.actionId, encodeFeatures(a.features, run.actionDim));
  for (const id of extra) {
    if (out.has(id)) continue;
    const f = logged.get(id);
    // An action the catalog does not describe: its features as logged with its decisions, else bias only.
    out.set(id, f && f.length === run.actionDim ? Float64Array.from(f) : encodeFeatures({}, run.actionDim));
  }
  return [...out].sort((p, q) => (p[0] < q[0] ? -1 : 1)).map(([id, features]) => ({ id, features }));
}

function toLogged(rounds: readonly HoldoutRound[]): LoggedData {
  return {
    rounds: rounds.map(
      (r): Round => ({
        context: Float64Array.from(r.x),
        candidates: r.candidates.map((id) => ({ id })),
        chosenIndex: r.chosenIndex,
        reward: r.reward,
        ...(r.propensity > 0 && { propensity: r.propensity }),
      }),
    ),
  };
}

function summarize(name: string, r: EvaluationReport | null): PolicySummary {
  if (r === null) return { name, estimator: 'none', estimate: null, lowerBound: null, ess: null };
  const e = r.estimates[r.recommended];
  return {
    name,
    estimator: r.recommended,
    estimate: e && { value: e.value, lower: e.lower, upper: e.upper },
    lowerBound: r.lowerBound,
    ess: r.ess,
  };
}

export interface CurrentModelInput {
  catalog: readonly CatalogAction[];
  /** Online statistics items (any objective and bucket). */
  online: readonly OnlineBucketStats[];
  /** The active offline model's statistics per objective and action, if one is active. */
  active:
    | {
        version: string;
        cutoffBucket: number;
        itemVersion: number;
        stats: StatsByObjective;
        /**
         * The settings promoted with it: its Thompson scale and λ multipliers serve where the decision point's settings
         * leave them out.
         */
        settings?: PromotedSettings | undefined;
      }
    | undefined;
}

/** An offline model's stored statistics per objective and action (empty when no such version is stored). */
export function baseStatsByObjective(base: readonly BaseModelStats[], version: string): StatsByObjective {
  const stats = new Map<string, Map<string, ActionStats>>();
  for (const b of base) {
    if (b.version !== version) continue;
    let table = stats.get(b.objective);
    if (!table) {
      table = new Map();
      stats.set(b.objective, table);
    }
    table.set(b.actionId, b.stats);
  }
  return stats;
}

/** What serves now, as the state store holds it: the catalog, the online statistics and the active model's. */
export function currentModelInput(state: DecisionPointChanges): CurrentModelInput {
  const active = state.activeModel;
  return {
    catalog: state.actions,
    online: state.stats,
    active: active && { ...active, stats: baseStatsByObjective(state.baseStats, active.version) },
  };
}

/**
 * The current model's statistics per objective, restricted to days before the slice: the active model's plus the
 * online statistics of days in [its cutoff, holdoutFromBucket) (all days before it without an active model).
 */
function currentStats(run: RunParams, current: CurrentModelInput): StatsByObjective {
  // The active model's statistics are in slot-1 units already; the online ones are per slot (position.ts).
  const table = new SlotStatsTable(run.contextDim);
  if (current.active) {
    for (const [objective, byAction] of current.active.stats) {
      for (const [id, s] of byAction) table.add(objective, id, 1, s);
    }
  }
  const from = current.active?.cutoffBucket ?? Number.NEGATIVE_INFINITY;
  for (const s of current.online) {
    if (s.bucket >= from && s.bucket < run.holdoutFromBucket) table.add(s.objective, s.actionId, s.slot, s.stats);
  }
  return table.collapse(DEFAULT_OBJECTIVE).stats;
}

export interface Evaluation {
  rounds: number;
  /** The candidate as it would serve: at the point {@link chooseSettings} chose. */
  candidate: EvaluationReport | null;
  current: EvaluationReport | null;
  logging: EvaluationReport | null;
  promote: boolean;
  forced: boolean;
  reasons: string[];
  warnings: string[];
  /** How the candidate's serving settings were chosen, with every grid point's estimate and bound. */
  exploration: SettingsChoice;
  /** The λs learned on the candidate's final statistics, per objective ({@link GatePolicies.fits}). */
  fits: Record<string, PromotedFit>;
  /** Whole-page estimates of the candidate and the current model, when held-out decisions had several slots. */
  pages: { candidate: PolicySummary; current: PolicySummary } | null;
}

/**
 * The whole page, when the slice holds decisions of several slots (module header, "Several slots"): every held-out
 * round with a logged propensity as a slate (a decision of one slot, or one from before slot propensities were
 * logged, as a slate of its slot 1), RIPS for each policy with its interval, and the candidate's HCOPE bound on its
 * RIPS returns (core/evaluation/slate.ts). Null when no held-out decision has several slots.
 */
export function evaluatePages(
  rounds: readonly HoldoutRound[],
  candidate: TargetPolicy,
  current: TargetPolicy,
  delta: number,
): { candidate: PolicySummary; current: PolicySummary } | null {
  if (!rounds.some((r) => (r.slots?.length ?? 1) > 1)) return null;
  const slates: SlateRound[] = rounds
    .filter((r) => r.propensity > 0)
    .map((r) => {
      const slots = r.slots ?? [{ chosenIndex: r.chosenIndex, propensity: r.propensity, reward: r.reward }];
      return {
        context: Float64Array.from(r.x),
        candidates: r.candidates.map((id) => ({ id })),
        chosen: slots.map((s) => s.chosenIndex),
        propensities: slots.map((s) => s.propensity),
        rewards: slots.map((s) => s.reward),
      };
    });
  if (slates.length === 0) return null;
  const range = observedRange(slates.flatMap((s) => s.rewards));
  const page = (name: string, target: TargetPolicy, bound: boolean): PolicySummary => {
    const t = slateTerms(slates, target);
    const report = slateReport(name, t);
    const e = report.estimates.rips;
    const ess = Math.min(...report.perSlot.map((p) => p.ess));
    return {
      name,
      estimator: 'rips',
      estimate: { value: e.value, lower: e.lower, upper: e.upper },
      lowerBound: bound ? slateLowerBound(t, { range, delta, seed: 0 }).lowerBound : null,
      ess,
    };
  };
  return {
    candidate: page(`candidate, whole page (${slates.length} decisions)`, candidate, true),
    current: page('current, whole page', current, false),
  };
}

/** A point of the settings grid: a Thompson scale and multipliers on the learned λs. */
export interface SettingsPoint {
  scale: number;
  priorScale: PriorScale;
}

/** The policies the gate compares. */
export interface GatePolicies {
  /** The candidate model served at `point` (its model built once per multipliers). */
  candidateAt(point: SettingsPoint): TargetPolicy;
  /** The current model as it serves now. */
  current: TargetPolicy;
  /** The Thompson scale that serves now: the settings', else the active model's, else the default. */
  currentScale: number;
  /** The λ multipliers that serve now: the active model's where the settings leave the λ out, else 1. */
  currentPriorScale: PriorScale;
  /**
   * Per objective, the λs learned on the candidate's final statistics (every day, the held-out ones included: what
   * serving will hold) and the impressions they were learned on; promoted with the model so serving starts from them.
   */
  fits: Record<string, PromotedFit>;
  warnings: string[];
}

/**
 * The policies the gate compares, each its model's serving policy, over one action list: the catalog, every action
 * either model has statistics for, and every candidate of the slice.
 */
export function gatePolicies(
  run: RunParams,
  model: OfflineModel,
  rounds: readonly HoldoutRound[],
  current: CurrentModelInput,
): GatePolicies {
  const warnings: string[] = [];
  const candidateStats = new Map([...model.objectives].map(([name, o]) => [name, o.evaluation] as const));
  const currentStatsByObjective = currentStats(run, current);
  if (current.active && current.active.cutoffBucket > run.holdoutFromBucket) {
    warnings.push(
      `the active model ${current.active.version} was trained on days of the held-out slice: its estimate is ` +
        'optimistic, which only makes the gate harder to pass',
    );
  }
  // Intent models' statistics name no action (`*`): only the posteriors' objectives say which actions exist.
  const mentioned = new Set<string>();
  for (const stats of [candidateStats, currentStatsByObjective]) {
    for (const objective of [DEFAULT_OBJECTIVE, ...run.objectives.map((o) => o.name)]) {
      for (const id of stats.get(objective)?.keys() ?? []) mentioned.add(id);
    }
  }
  for (const r of rounds) for (const id of r.candidates) mentioned.add(id);
  const actions = universe(run, current.catalog, model.features, mentioned);
  const settings = servingSettings(run);
  const currentScale = run.exploration.scale ?? current.active?.settings?.scale ?? defaultExplorationScale(run);
  const currentPriorScale = effectivePriorScale(run.priors, current.active?.settings?.priorScale);
  // One candidate model per multipliers, built when a grid point first asks for it, all from the same fits (the λs
  // are learned once; a model built from fits on the same impressions keeps them).
  const learnedModel = servingModelOf(run, actions, candidateStats);
  const candidateModels = new Map<string, ServingPolicyModel>([['1/1', learnedModel]]);
  const candidateModel = (p: PriorScale) => {
    const key = `${p.shared}/${p.action}`;
    let built = candidateModels.get(key);
    if (!built) {
      built = servingModelOf(run, actions, candidateStats, { priorScale: p, previous: learnedModel });
      candidateModels.set(key, built);
    }
    return built;
  };
  // `learned` is what the model cache sets from the active model; explicit settings take precedence over it.
  const candidateAt = (point: SettingsPoint) =>
    servingTargetPolicy(
      'candidate',
      { ...candidateModel(point.priorScale), learned: { scale: point.scale } },
      settings,
    );
  const currentModel = servingModelOf(run, actions, currentStatsByObjective, { priorScale: currentPriorScale });
  const finalStats = new Map([...model.objectives].map(([name, o]) => [name, o.final] as const));
  const fits: Record<string, PromotedFit> = {};
  const dims = { d: run.contextDim, m: run.actionDim };
  for (const [objective, f] of servingFits(dims, run.priors, actions, run.objectives, finalStats)) {
    fits[objective] = { lambdaShared: f.lambdaShared, lambdaAction: f.lambdaAction, n: f.n };
  }
  return {
    candidateAt,
    current: servingTargetPolicy('current', { ...currentModel, learned: { scale: currentScale } }, settings),
    currentScale,
    currentPriorScale,
    fits,
    warnings,
  };
}

/**
 * Lower bounds this close (relative) are a tie. Far below any difference the held-out data could show, and above the
 * slot-1 probabilities' quadrature error (about 1e-9): once a posterior is sharp, every scale serves nearly the same
 * argmax and their bounds differ in the eighth digit, which is no reason to change what serves.
 */
const tieMargin = (bound: number) => 1e-6 * Math.max(1, Math.abs(bound));

const samePriorScale = (p: PriorScale, q: PriorScale) => p.shared === q.shared && p.action === q.action;
/** A grid point in words: its scale, and its multipliers unless both are 1. */
const pointText = (p: SettingsPoint) =>
  samePriorScale(p.priorScale, UNIT_PRIOR_SCALE)
    ? `scale ${p.scale}`
    : `scale ${p.scale} with λs × ${p.priorScale.shared}, λa × ${p.priorScale.action}`;

/**
 * The grid of serving settings the run searches (module header): a cross through `serving`, the point that serves
 * now: that point, then each other scale of {@link SCALE_GRID} with its multipliers (if the settings leave the scale
 * out), then each other multiplier pair of {@link priorGrid} with its scale.
 */
export function settingsGrid(run: Pick<RunParams, 'priors' | 'exploration'>, serving: SettingsPoint): SettingsPoint[] {
  const scales = run.exploration.scale === undefined ? SCALE_GRID : [];
  return [
    serving,
    ...scales.filter((s) => s !== serving.scale).map((scale) => ({ scale, priorScale: serving.priorScale })),
    ...priorGrid(run.priors)
      .filter((p) => !samePriorScale(p, serving.priorScale))
      .map((priorScale) => ({ scale: serving.scale, priorScale })),
  ];
}

/**
 * The serving settings the candidate is evaluated with, and its evaluation (the module header states the rule): of
 * {@link settingsGrid}, the point whose HCOPE lower bound (each at its share of δ, {@link pointDeltas}) is highest,
 * ties (within 1e-6) kept by the point that serves now, then by grid order; the point that serves now when no point
 * has a bound. A grid of one point is no search. Every grid point's figures go into the choice, for the report.
 */
export function chooseSettings(
  data: LoggedData,
  policies: Pick<GatePolicies, 'candidateAt' | 'currentScale' | 'currentPriorScale'>,
  run: Pick<RunParams, 'priors' | 'exploration'>,
  delta: number,
): { choice: SettingsChoice; candidate: EvaluationReport } {
  const { currentScale, currentPriorScale } = policies;
  const points = settingsGrid(run, { scale: currentScale, priorScale: currentPriorScale });
  if (points.length === 1) {
    return {
      choice: withoutSearch(run, policies),
      candidate: evaluatePolicy(data, policies.candidateAt(points[0]!), { delta, seed: 0 }),
    };
  }
  const deltas = pointDeltas(points.length, delta);
  const reports = points.map((point, i) => ({
    point,
    delta: deltas[i]!,
    report: evaluatePolicy(data, policies.candidateAt(point), { delta: deltas[i]!, seed: 0 }),
  }));
  const grid = reports.map(({ point, report, delta: pointDelta }) => ({
    ...summarize(`candidate, ${pointText(point)}`, report),
    scale: point.scale,
    priorScale: point.priorScale,
    delta: pointDelta,
  }));
  const bound = (i: number) => reports[i]!.report.lowerBound;
  let best = 0; // what serves now, which keeps a tie
  for (let i = 1; i < reports.length; i++) {
    const lb = bound(i);
    if (lb === null) continue;
    const incumbent = bound(best);
    if (incumbent === null || lb > incumbent + tieMargin(incumbent)) best = i;
  }
  const chosen = reports[best]!;
  const base = { source: 'search' as const, currentScale, currentPriorScale, grid, delta: chosen.delta };
  if (chosen.report.lowerBound === null) {
    return {
      choice: {
        ...base,
        scale: currentScale,
        priorScale: currentPriorScale,
        why: `no grid point has a lower bound (the held-out decisions carry no propensities): the candidate keeps what serves now, ${pointText(chosen.point)}`,
      },
      candidate: chosen.report,
    };
  }
  const lb = chosen.report.lowerBound.toPrecision(4);
  const top = chosen.report.lowerBound;
  const ties = reports.filter(
    (r, i) => i !== best && r.report.lowerBound !== null && Math.abs(r.report.lowerBound - top) <= tieMargin(top),
  );
  const level = `${(100 * (1 - chosen.delta)).toFixed(2)}%`;
  const share = (d: number) => `δ/${Math.round(delta / d)}`;
  const split = `${share(deltas[0]!)} for what serves now and ${share(deltas[1]!)} = ${deltas[1]!.toPrecision(3)} for each other point`;
  const why =
    `${pointText(chosen.point)} has the highest lower bound of the grid (${lb} at ${level}; ${split})` +
    (ties.length > 0 ? `, tied with ${ties.map((t) => pointText(t.point)).join('; ')}` : '') +
    (best === 0
      ? `; it is what serves now${ties.length > 0 ? ', which a tie keeps' : ''}`
      : `${ties.length > 0 ? ' (a tie takes the earlier point in grid order)' : ''}; promoting the candidate changes what serves from ${pointText({ scale: currentScale, priorScale: currentPriorScale })} to ${pointText(chosen.point)}`);
  return {
    choice: { ...base, scale: chosen.point.scale, priorScale: chosen.point.priorScale, why },
    candidate: chosen.report,
  };
}

/**
 * Each grid point's share of δ (module header), the point that serves now first: δ/2 for it and the other half shared
 * equally by the rest (all of δ for a grid of one). The shares sum to δ.
 */
export function pointDeltas(points: number, delta: number): number[] {
  if (points === 1) return [delta];
  return Array.from({ length: points }, (_, i) => (i === 0 ? delta / 2 : delta / (2 * (points - 1))));
}

/** Pure core of the evaluation and the gate. */
export function evaluateCandidate(
  ctx: RunContext,
  model: OfflineModel,
  rounds: readonly HoldoutRound[],
  current: CurrentModelInput,
): Evaluation {
  const { run } = ctx;
  const reasons: string[] = [];
  const warnings: string[] = [];
  const policies = gatePolicies(run, model, rounds, current);
  warnings.push(...policies.warnings);
  if (run.holdoutFraction !== undefined) {
    warnings.push(
      `a share (${run.holdoutFraction}) of the decisions is held out, not whole days: the current model learned online ` +
        'from the held-out decisions, so its estimate is in-sample (optimistic), which makes the gate stricter',
    );
  }

  if (ctx.reduce && ctx.reduce.missingItems.length > 0) {
    reasons.push(
      `${ctx.reduce.missingItems.length} of ${ctx.reduce.itemsExpected} map items (split items or user buckets) failed: the model lacks their ` +
        'decisions, and serving would drop them',
    );
  }
  for (const b of ctx.fit?.incompleteBuckets ?? []) {
    reasons.push(
      `the lake holds ${b.lake} impressions for ${new Date(b.bucket * 86_400_000).toISOString().slice(0, 10)} but ` +
        `the online learner counted ${b.online}: promotion would drop the difference`,
    );
  }
  const trained = ctx.fit ? ctx.fit.trainDecisions + ctx.fit.holdoutDecisions : undefined;
  if (trained === 0) {
    reasons.push(
      `the candidate was trained on no decisions (none in the lake before ${new Date(run.cutoffBucket * 86_400_000).toISOString().slice(0, 10)}, ` +
        'the first day whose feedback is not complete yet): it is an empty model, which no --force can promote',
    );
  }
  // Reasons no --force overrides: promoting would lose data or serve an empty model.
  const dataIncomplete = reasons.length > 0;
  if (trained !== undefined && trained > 0 && ctx.fit?.trainDecisions === 0) {
    reasons.push(
      'every decision is in the held-out slice, none before it: the candidate under evaluation learned nothing, so ' +
        'the comparison says nothing; with fewer days of history than --holdout-days + 1, hold out a share of the ' +
        'decisions instead (--holdout-fraction 0.2, or holdoutFraction in the run input)',
    );
  }

  let candidate: EvaluationReport | null = null;
  let cur: EvaluationReport | null = null;
  let logging: EvaluationReport | null = null;
  let exploration = withoutSearch(run, policies);
  let pages: Evaluation['pages'] = null;
  if (rounds.length === 0) {
    reasons.push(
      run.holdoutFraction === undefined
        ? `the held-out slice (days from ${new Date(run.holdoutFromBucket * 86_400_000).toISOString().slice(0, 10)} to ` +
            'the cutoff) holds no decisions: nothing can be certified; with fewer days of history, hold out a share ' +
            'of the decisions instead (--holdout-fraction 0.2, or holdoutFraction in the run input)'
        : 'the held-out slice holds no decisions: nothing can be certified',
    );
  } else {
    const data = toLogged(rounds);
    const options = { delta: run.delta, seed: 0 };
    const chosen = chooseSettings(data, policies, run, run.delta);
    candidate = chosen.candidate;
    exploration = chosen.choice;
    cur = evaluatePolicy(data, policies.current, options);
    logging = evaluatePolicy(data, loggingPolicy, options);
    for (const w of candidate.warnings) warnings.push(`candidate: ${w}`);
    if (rounds.length < run.minEvalRounds) {
      reasons.push(`the held-out slice has ${rounds.length} decisions, fewer than the ${run.minEvalRounds} required`);
    }
    const lb = candidate.lowerBound;
    const currentValue = (cur.estimates[cur.recommended] ?? cur.estimates.dm).value;
    if (lb === null) {
      reasons.push(
        'the held-out decisions carry no propensities: no lower bound on the candidate exists, so it cannot be certified',
      );
    } else if (lb < currentValue - run.tolerance) {
      reasons.push(
        `the candidate's ${(100 * (1 - run.delta)).toFixed(0)}% lower bound ${lb.toPrecision(4)} is below the current ` +
          `model's estimated value ${currentValue.toPrecision(4)} (${cur.recommended}) minus the tolerance ${run.tolerance}`,
      );
    }
    // Several slots: the whole page must hold too (RIPS; the bound at the same δ).
    const point = { scale: exploration.scale, priorScale: exploration.priorScale ?? policies.currentPriorScale };
    pages = evaluatePages(rounds, policies.candidateAt(point), policies.current, run.delta);
    const pageBound = pages?.candidate.lowerBound;
    const pageCurrent = pages?.current.estimate?.value;
    if (pageBound != null && pageCurrent !== undefined && pageBound < pageCurrent - run.tolerance) {
      reasons.push(
        `the candidate's ${(100 * (1 - run.delta)).toFixed(0)}% lower bound on the whole page's value ` +
          `${pageBound.toPrecision(4)} is below the current model's ${pageCurrent.toPrecision(4)} (rips) minus the ` +
          `tolerance ${run.tolerance}`,
      );
    }
  }
  const forced = run.force && !dataIncomplete && reasons.length > 0;
  if (forced) warnings.push(`promotion forced despite: ${reasons.join('; ')}`);
  return {
    rounds: rounds.length,
    candidate,
    current: cur,
    logging,
    promote: reasons.length === 0 || forced,
    forced,
    reasons,
    warnings,
    exploration,
    fits: policies.fits,
    pages,
  };
}

/**
 * The choice without a search: the candidate keeps what serves now, because the settings give the scale and both λs
 * (`settings`) or because there are no held-out rounds to search on (`search`).
 */
function withoutSearch(
  run: Pick<RunParams, 'priors' | 'exploration'>,
  current: Pick<GatePolicies, 'currentScale' | 'currentPriorScale'>,
): SettingsChoice {
  const { currentScale, currentPriorScale } = current;
  const explicit = settingsGrid(run, { scale: currentScale, priorScale: currentPriorScale }).length === 1;
  return {
    source: explicit ? 'settings' : 'search',
    scale: currentScale,
    currentScale,
    priorScale: currentPriorScale,
    currentPriorScale,
    delta: null,
    grid: [],
    why: explicit
      ? `the decision point's settings give exploration.scale = ${currentScale}, λs and λa: nothing was searched`
      : `no held-out decisions to evaluate the grid on: the candidate keeps what serves now, ${pointText({ scale: currentScale, priorScale: currentPriorScale })}`,
  };
}

/** The chosen or the current point of a choice, in words. */
function choiceText(choice: SettingsChoice, which: 'chosen' | 'current'): string {
  const scale = which === 'chosen' ? choice.scale : choice.currentScale;
  const priorScale = (which === 'chosen' ? choice.priorScale : choice.currentPriorScale) ?? UNIT_PRIOR_SCALE;
  return pointText({ scale, priorScale });
}

export interface EvaluateDeps {
  blobs: BlobStore;
  state: StateStore;
}

export async function evaluate(ctx: RunContext, deps: EvaluateDeps): Promise<RunContext> {
  const { run } = ctx;
  if (!ctx.fit || !ctx.reduce) throw new ArtifactError('evaluate needs the fitted model and the reduced aggregate');
  const [modelBody, reducedBody] = await Promise.all([deps.blobs.get(ctx.fit.key), deps.blobs.get(ctx.reduce.key)]);
  if (!modelBody || !reducedBody) throw new ArtifactError('the model or the reduced aggregate is missing');
  const model = decodeModel(modelBody, ctx.fit.key);
  const reduced = decodeAggregate(reducedBody, run.contextDim, ctx.reduce.key);
  const state = await deps.state.loadChanges(run.decisionPoint, 0);
  const active = state.activeModel;
  const result = evaluateCandidate(ctx, model, reduced.holdout, currentModelInput(state));
  const key = evaluationKey(run);
  await deps.blobs.put(key, JSON.stringify({ ...result, activeVersion: active?.version ?? null }), 'application/json');
  return {
    ...ctx,
    evaluation: {
      key,
      rounds: result.rounds,
      promote: result.promote,
      forced: result.forced,
      reasons: result.reasons,
      warnings: result.warnings,
      candidate: summarize(`candidate (${choiceText(result.exploration, 'chosen')})`, result.candidate),
      current: summarize(
        `current (${active ? active.version : 'online'}, ${choiceText(result.exploration, 'current')})`,
        result.current,
      ),
      exploration: result.exploration,
      fits: result.fits,
      ...(result.pages && { pages: [result.pages.candidate, result.pages.current] }),
      logging: summarize('logging', result.logging),
      activeItemVersion: active?.itemVersion ?? null,
      activeVersion: active?.version ?? null,
    },
  };
}
