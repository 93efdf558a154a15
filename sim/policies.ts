/**
 * The policies the simulator can run. All of them learn from the same signals, in the engine's order: at decision
 * time an impression with reward 0, later the reward (`impression` then `reward`), and the model-based ones only
 * see what they learned at their last refresh, as the serving cache does.
 *
 * - `hybrid` (default): the engine's own serving policy: the model built by {@link buildServingPolicyModel} (priors
 *   learned from the data unless the settings pin them, the compound-event noise model while every reward seen is
 *   non-negative and the settings' event values are), scored by {@link scoreServingPolicy} and sampled by
 *   {@link selectThompson} with the same ε. The posterior covers every action ever seen (retired ones still teach the
 *   shared part, as in the engine).
 * - `lints-disjoint`: genuinely disjoint linear Thompson sampling: one Bayesian ridge regression per action on the
 *   context only, w_a ~ N(A_a⁻¹ Σ x r, σ² A_a⁻¹), A_a = λ I + Σ x xᵀ, with the same pooled noise estimate,
 *   exploration scale and ε as the hybrid. λ = 1/(1/λs + 1/λa) is the precision the hybrid's prior puts on an
 *   action's whole coefficient vector (shared plus own part, for a unit feature vector), so both start out equally
 *   uncertain about an action; priors the settings leave out take the textbook values λ = 1, s0² = 0.25, ν0 = 10 (this
 *   baseline does not learn them), and ε left out is 0.05. Nothing is shared between actions, so a new action
 *   starts from w = 0 whatever its features say. (Collapsing the hybrid to actionDim = 1 was the alternative; it
 *   would keep a shared context model and so not be disjoint.)
 * - `egreedy`: ε-greedy on per-action mean reward, ε = 0.1, untried actions first; ignores context and features.
 * - `uniform`: uniformly random among the candidates.
 */

import type { PriorSettings } from '../shared/core/bandit/hyperparameters.ts';
import {
  type ActionStats,
  addObservation,
  addReward,
  choleskyInPlace,
  DEFAULT_PRIORS,
  emptyStats,
  type HybridPosterior,
  inverseFromCholesky,
  MIN_NOISE_VARIANCE,
  mergeStats,
  type Priors,
  packedSize,
  packSymmetric,
  scoreInto,
  selectThompson,
  sharedSketch,
  unpackSymmetric,
} from '../shared/core/bandit/index.ts';
import { DEFAULT_OBJECTIVE } from '../shared/core/domain.ts';
import {
  buildServingPolicyModel,
  coverageRule,
  type ServingPolicyModel,
  ServingScores,
  servingDistribution,
} from '../shared/core/policy/serving-policy.ts';
import type { Rng } from '../shared/core/random.ts';
import type { ActionTable } from './actions.ts';

export const POLICY_NAMES = ['hybrid', 'lints-disjoint', 'egreedy', 'uniform'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export function isPolicyName(s: string): s is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(s);
}

/** What a policy needs from the decision point settings. */
export interface PolicySettings {
  readonly contextDim: number;
  readonly actionDim: number;
  /** ε left out: the engine's default schedule (hybrid) or 0.05 (the disjoint baseline). */
  readonly exploration: { readonly epsilon?: number | undefined; readonly scale?: number | undefined };
  /** Priors left out are learned by the hybrid (as in the engine) and fixed to textbook values by the baseline. */
  readonly priors: Readonly<PriorSettings>;
  /** Reward per event type (the compound-event model applies only while these are non-negative). */
  readonly rewards?: Readonly<Record<string, number>>;
}

export interface PolicyContext {
  readonly settings: PolicySettings;
  readonly actions: ActionTable;
  readonly rng: Rng;
  /** Rounds between model rebuilds (the serving cache's refresh), for the model-based policies. */
  readonly refresh: number;
}

/** A learning policy driven round by round. Actions are ActionTable indices; x is the encoded context (length d). */
export interface Policy {
  readonly name: string;
  /** Adds warm-start statistics of action `action` (before the first round). */
  warmStart(action: number, stats: ActionStats): void;
  /** Picks one of `candidates` (all of its entries) and returns its position in that array. */
  choose(x: Float64Array, candidates: Int32Array): number;
  /** The decision is logged: one impression of `action` in context x, with reward 0 for now. */
  impression(x: Float64Array, action: number): void;
  /** The reward of an earlier impression arrives. */
  reward(x: Float64Array, action: number, r: number): void;
  /** Called after every round. */
  endRound(): void;
}

export function createPolicy(name: PolicyName, ctx: PolicyContext): Policy {
  switch (name) {
    case 'hybrid':
      return new HybridPolicy(ctx);
    case 'lints-disjoint':
      return new DisjointPolicy(ctx);
    case 'egreedy':
      return new EpsilonGreedyPolicy(ctx, 0.1);
    case 'uniform':
      return new UniformPolicy(ctx);
  }
}

class UniformPolicy implements Policy {
  readonly name = 'uniform';
  constructor(private readonly ctx: PolicyContext) {}
  warmStart(): void {}
  choose(_x: Float64Array, candidates: Int32Array): number {
    return this.ctx.rng.int(candidates.length);
  }
  impression(): void {}
  reward(): void {}
  endRound(): void {}
}

class EpsilonGreedyPolicy implements Policy {
  readonly name = 'egreedy';
  private n = new Float64Array(64);
  private sum = new Float64Array(64);

  constructor(
    private readonly ctx: PolicyContext,
    private readonly epsilon: number,
  ) {}

  private ensure(action: number): void {
    if (action < this.n.length) return;
    const size = Math.max(action + 1, 2 * this.n.length);
    const n = new Float64Array(size);
    const sum = new Float64Array(size);
    n.set(this.n);
    sum.set(this.sum);
    this.n = n;
    this.sum = sum;
  }

  warmStart(action: number, stats: ActionStats): void {
    this.ensure(action);
    this.n[action] = (this.n[action] as number) + stats.n;
    this.sum[action] = (this.sum[action] as number) + stats.sumR;
  }

  choose(_x: Float64Array, candidates: Int32Array): number {
    const rng = this.ctx.rng;
    const count = candidates.length;
    this.ensure(this.ctx.actions.size);
    // Untried actions first (uniformly among them): a mean of nothing is not a mean of 0.
    let untried = 0;
    let pick = -1;
    for (let p = 0; p < count; p++) {
      if (this.n[candidates[p] as number] === 0) {
        untried++;
        if (rng.next() * untried < 1) pick = p;
      }
    }
    if (pick >= 0) return pick;
    if (rng.next() < this.epsilon) return rng.int(count);
    let best = Number.NEGATIVE_INFINITY;
    let ties = 0;
    for (let p = 0; p < count; p++) {
      const a = candidates[p] as number;
      const mean = (this.sum[a] as number) / (this.n[a] as number);
      if (mean > best) {
        best = mean;
        pick = p;
        ties = 1;
      } else if (mean === best) {
        ties++;
        if (rng.next() * ties < 1) pick = p;
      }
    }
    return pick;
  }

  impression(_x: Float64Array, action: number): void {
    this.ensure(action);
    this.n[action] = (this.n[action] as number) + 1;
  }

  reward(_x: Float64Array, action: number, r: number): void {
    this.ensure(action);
    this.sum[action] = (this.sum[action] as number) + r;
  }

  endRound(): void {}
}

/** Shared by the two Thompson-sampling policies: per-action statistics, refresh cadence, selection. */
abstract class ThompsonPolicy implements Policy {
  abstract readonly name: PolicyName;
  protected readonly stats: (ActionStats | undefined)[] = [];
  private sinceBuild = 0;
  private builtSize = -1;
  private readonly chosen = new Int32Array(1);

  constructor(protected readonly ctx: PolicyContext) {}

  /** Rebuilds the model from the statistics (the serving cache's refresh). */
  protected abstract rebuild(): void;
  /** Fills the candidates' score means and sds; returns the ε to select with. */
  protected abstract score(
    x: Float64Array,
    candidates: Int32Array,
  ): { mean: Float64Array; sd: Float64Array; epsilon: number };

  private statsOf(action: number): ActionStats {
    let s = this.stats[action];
    if (s === undefined) {
      while (this.stats.length <= action) this.stats.push(undefined);
      s = emptyStats(this.ctx.settings.contextDim);
      this.stats[action] = s;
    }
    return s;
  }

  warmStart(action: number, stats: ActionStats): void {
    mergeStats(this.statsOf(action), stats);
  }

  choose(x: Float64Array, candidates: Int32Array): number {
    // A candidate the model has never seen forces a rebuild: the engine cannot serve an action before its model
    // knows it either.
    if (this.builtSize < this.ctx.actions.size) {
      this.rebuild();
      this.builtSize = this.ctx.actions.size;
      this.sinceBuild = 0;
    }
    const s = this.score(x, candidates);
    selectThompson(s.mean, s.sd, candidates.length, this.ctx.rng, s.epsilon, 1, this.chosen);
    return this.chosen[0] as number;
  }

  impression(x: Float64Array, action: number): void {
    addObservation(this.statsOf(action), x, 0);
  }

  reward(x: Float64Array, action: number, r: number): void {
    if (r !== 0) addReward(this.statsOf(action), x, r);
  }

  endRound(): void {
    if (++this.sinceBuild >= this.ctx.refresh) this.builtSize = -1;
  }
}

class HybridPolicy extends ThompsonPolicy {
  readonly name = 'hybrid';
  private model: ServingPolicyModel | undefined;
  private readonly scores = new ServingScores();
  private negativeSeen = false;
  private readonly servingSettings = {
    objectives: [],
    combine: { mode: 'weighted' as const, minOutcomes: 30 },
    exploration: this.ctx.settings.exploration,
  };

  override reward(x: Float64Array, action: number, r: number): void {
    if (r < 0) this.negativeSeen = true;
    super.reward(x, action, r);
  }

  protected rebuild(): void {
    const table = this.ctx.actions;
    const { contextDim: d, actionDim: m, priors, rewards } = this.ctx.settings;
    const actions = new Array<{ id: string; features: Float64Array }>(table.size);
    const byId = new Map<string, ActionStats>();
    for (let a = 0; a < table.size; a++) {
      const id = table.ids[a] as string;
      actions[a] = { id, features: table.encoded[a] as Float64Array };
      const s = this.stats[a];
      if (s) byId.set(id, s);
    }
    const compound = !this.negativeSeen && Object.values(rewards ?? {}).every((v) => v >= 0);
    this.model = buildServingPolicyModel({ d, m }, priors, actions, [], new Map([[DEFAULT_OBJECTIVE, byId]]), {
      compoundEvents: compound ? [DEFAULT_OBJECTIVE] : [],
      coverage: coverageRule({ exploration: this.ctx.settings.exploration, objectives: [] }),
      ...(this.model && { previous: this.model }),
    });
  }

  protected score(x: Float64Array, candidates: Int32Array) {
    servingDistribution(this.model!, this.servingSettings, x, candidates, this.scores);
    return this.scores;
  }
}

/** The baseline's priors: the settings' where given, else the fixed textbook ones ({@link DEFAULT_PRIORS}). */
function fixedPriors(p: Readonly<PriorSettings>): Priors {
  return {
    lambdaShared: p.lambdaShared ?? DEFAULT_PRIORS.lambdaShared,
    lambdaAction: p.lambdaAction ?? DEFAULT_PRIORS.lambdaAction,
    noisePriorVariance: p.noisePriorVariance ?? DEFAULT_PRIORS.noisePriorVariance,
    noisePriorWeight: p.noisePriorWeight ?? DEFAULT_PRIORS.noisePriorWeight,
  };
}

/** The disjoint policy's prior precision (see the module documentation). */
export function disjointLambda(priors: Readonly<PriorSettings>): number {
  const { lambdaShared, lambdaAction } = fixedPriors(priors);
  return 1 / (1 / lambdaShared + 1 / lambdaAction);
}

class DisjointPolicy extends ThompsonPolicy {
  readonly name = 'lints-disjoint';
  private post: HybridPosterior | undefined;
  private mean = new Float64Array(64);
  private sd = new Float64Array(64);

  protected rebuild(): void {
    this.post = this.build();
  }

  protected score(x: Float64Array, candidates: Int32Array) {
    if (this.mean.length < candidates.length) {
      this.mean = new Float64Array(2 * candidates.length);
      this.sd = new Float64Array(2 * candidates.length);
    }
    scoreInto(this.post!, x, candidates, this.ctx.settings.exploration.scale ?? 1, this.mean, this.sd);
    return { mean: this.mean, sd: this.sd, epsilon: this.ctx.settings.exploration.epsilon ?? 0.05 };
  }

  private build(): HybridPosterior {
    const table = this.ctx.actions;
    const { contextDim: d } = this.ctx.settings;
    const priors = fixedPriors(this.ctx.settings.priors);
    const K = table.size;
    const dp = packedSize(d);
    const lambda = disjointLambda(priors);
    const w = new Float64Array(K * d);
    const V = new Float64Array(K * dp);
    const n = new Float64Array(K);
    const a2 = new Float64Array(d * d);
    const inv = new Float64Array(d * d);
    let ss = 0;
    let dof = 0;
    for (let a = 0; a < K; a++) {
      const s = this.stats[a];
      const v = V.subarray(a * dp, (a + 1) * dp);
      if (s === undefined) {
        for (let i = 0; i < d; i++) v[(i * (2 * d - i - 1)) / 2 + i] = 1 / lambda;
        continue;
      }
      n[a] = s.n;
      if (s.n > 0) {
        ss += Math.max(0, s.sumR2 - (s.sumR * s.sumR) / s.n);
        dof += Math.max(s.n - 1, 0);
      }
      unpackSymmetric(s.sxx, d, a2);
      for (let i = 0; i < d; i++) a2[i * d + i] = (a2[i * d + i] as number) + lambda;
      choleskyInPlace(a2, d);
      inverseFromCholesky(a2, d, inv);
      packSymmetric(inv, d, v);
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += (inv[i * d + j] as number) * (s.sxr[j] as number);
        w[a * d + i] = acc;
      }
    }
    // The same pooled plug-in noise estimate as the core's posterior, so both Thompson policies explore alike.
    const nu0 = priors.noisePriorWeight;
    const sigma2 = Math.max(
      MIN_NOISE_VARIANCE,
      nu0 + dof > 0 ? (nu0 * priors.noisePriorVariance + ss) / (nu0 + dof) : priors.noisePriorVariance,
    );
    return {
      d,
      m: 1,
      size: K,
      ids: table.ids.slice(),
      index: new Map(table.index),
      w,
      V,
      sigma2,
      eventValue: 0,
      explore: new Float64Array(K).fill(1),
      beta: new Float64Array(d),
      sketch: sharedSketch(d, 1),
      n,
      features: new Float64Array(K).fill(1),
      priors: { ...priors },
      scratch: new Float64Array(dp),
    };
  }
}
