/**
 * A seeded synthetic world for the simulator: users, actions, a true click and purchase model, a skewed logging
 * policy for the history, action churn and delayed rewards. Same options → byte-identical output.
 *
 * Users have a segment (value, mainstream, premium, trendsetter), a lifecycle stage (new, active, loyal, lapsing)
 * and three numeric features (engagement, spend, recency), correlated with segment and stage. The context is a dense
 * array, `[value, premium, trendsetter, new, loyal, lapsing, engagement, spend, recency]` (categories dummy-coded
 * against the most common one, mainstream and active), so contextDim = 10 and nothing is hashed. Actions have a
 * category (discount, premium, trend, loyalty), a price level, a discount depth and a novelty:
 * `[premium, trend, loyalty, price, discount, novelty]`, actionDim = 7. Each action also has a small hidden quality that
 * its features do not reveal, so per-action learning still has something to add.
 *
 * Truth (logistic models; the two events depend on user × action features differently):
 * - click: segment × category and stage × category affinities, engaged users favour novelty, hidden quality;
 * - purchase given click: price sensitivity by segment, discount appetite by segment, stage propensity to buy,
 *   loyal users redeem loyalty offers, spend raises it, hidden quality.
 * The reward settings value a click at 1 and a purchase at 5, and `expected` is P(click)·1 + P(click)·P(buy|click)·5.
 * A model that crosses user and action features (the hybrid) can represent most of this; a per-action model must
 * learn each action from scratch; a context-free one cannot tell users apart.
 *
 * History: the same users served by a skewed, context-dependent logging policy (a merchandising priority unrelated to
 * the truth, loyalty offers pushed to loyal users), 95% softmax + 5% uniform, propensities recorded.
 * Churn: every `churnEvery` rounds, `churnCount` live actions retire and as many new ones appear (features drawn from
 * the same distribution, so they predict the newcomer's reward as well as they do for any action).
 * Delays: a share of the rounds (`delayShare`) reveal their reward 1…`maxDelay` rounds later.
 *
 * Variants for benchmarks that need worlds differing in one respect (all off by default, and off they change
 * nothing: the output stays byte-identical to a world generated without them):
 * - `rewardScale` multiplies every reward (the settings' `rewards`, realized and expected rewards), e.g. a purchase
 *   worth 250 instead of 5: the same decision problem in another unit.
 * - `rewardNoise` adds Gaussian noise of that standard deviation (in unscaled reward units) to every realized reward;
 *   the rounds and history lines then carry the noisy `rewards`/`reward` and no `events` (events cannot be noisy).
 *   Expected rewards are unchanged.
 * - `extraFeatures` appends that many standard-normal context features that no reward depends on (distractors), so
 *   contextDim = 10 + extraFeatures.
 * Each draws from its own seeded generator, so the users, actions and outcomes are the same as without it.
 */
import { createRng, type Rng } from '../shared/core/random.ts';
import type { DecisionPointSettingsInput } from '../shared/core/schemas.ts';
import { SimOptionError } from './errors.ts';
import type { HistoryLine, OnlineRound } from './formats.ts';

export interface WorldOptions {
  readonly seed: number;
  /** Online rounds. */
  readonly rounds: number;
  /** Logged history lines (default 10,000). */
  readonly historyRounds?: number;
  /** Live actions at any time (default 20). */
  readonly actions?: number;
  /** Rounds between churn events; 0 disables churn (default 5,000). */
  readonly churnEvery?: number;
  /** Actions retired and introduced at each churn event (default 3). */
  readonly churnCount?: number;
  /** Share of online rounds whose reward is delayed (default 0.3). */
  readonly delayShare?: number;
  /** Largest delay in rounds (default 200). */
  readonly maxDelay?: number;
  /** Multiplier on every reward (default 1). */
  readonly rewardScale?: number;
  /** Standard deviation of Gaussian noise added to realized rewards, before scaling (default 0: none). */
  readonly rewardNoise?: number;
  /** Context features that no reward depends on, appended to the context (default 0). */
  readonly extraFeatures?: number;
}

/** Context slots the world's own features take (bias included): 9 features + 1. */
const BASE_CONTEXT_DIM = 10;
/** The world's action dimension (6 features + bias). */
const ACTION_DIM = 7;

/** History lines generated when `historyRounds` is not given. */
export const DEFAULT_HISTORY_ROUNDS = 10_000;

export const SEGMENTS = ['value', 'mainstream', 'premium', 'trendsetter'] as const;
export const STAGES = ['new', 'active', 'loyal', 'lapsing'] as const;
export const CATEGORIES = ['discount', 'premium', 'trend', 'loyalty'] as const;

const SEGMENT_P = [0.3, 0.4, 0.15, 0.15];
const SEGMENT_REFERENCE = 1;
const STAGE_REFERENCE = 1;
const CATEGORY_REFERENCE = 0;
const STAGE_P = [0.2, 0.4, 0.25, 0.15];
const CATEGORY_P = [0.3, 0.25, 0.25, 0.2];

/** Reward per event type in the generated decision point settings. */
export const WORLD_REWARDS = Object.freeze({ click: 1, purchase: 5 });

// Click logit affinities, [segment][category] and [stage][category].
const CLICK_SEG_CAT = [
  [0.9, -0.6, -0.2, 0.1],
  [0.3, 0.0, 0.2, 0.1],
  [-0.5, 0.9, 0.3, 0.0],
  [-0.2, 0.2, 1.0, -0.3],
];
const CLICK_STAGE_CAT = [
  [0.5, -0.2, 0.2, -0.6],
  [0.0, 0.1, 0.2, 0.1],
  [-0.2, 0.2, 0.0, 0.8],
  [0.6, -0.3, -0.2, 0.3],
];
// Purchase-given-click: price sensitivity and discount appetite by segment, propensity to buy by stage.
const PRICE_SENSITIVITY = [0.9, 0.4, -0.3, 0.2];
const DISCOUNT_APPETITE = [3.0, 1.5, -0.5, 0.5];
const STAGE_BUY = [-0.4, 0.2, 0.5, -0.3];

interface User {
  segment: number;
  stage: number;
  engagement: number;
  spend: number;
  recency: number;
  context: number[];
}

interface WorldAction {
  id: string;
  category: number;
  price: number;
  discount: number;
  novelty: number;
  quality: number;
  /** Merchandising priority: what the logging policy favours, unrelated to the truth. */
  priority: number;
  features: number[];
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function pick(rng: Rng, p: ArrayLike<number>): number {
  let u = rng.next();
  for (let i = 0; i < p.length - 1; i++) {
    u -= p[i] as number;
    if (u < 0) return i;
  }
  return p.length - 1;
}

/**
 * Dummy coding: one indicator per category except the reference (the most common one), whose effect the bias
 * carries. Spans the same functions as a full one-hot with the bias, with one slot fewer per categorical, which
 * keeps the hybrid's shared dimension d·m (and so the cost of each posterior rebuild, ∝ (d·m)³) down.
 */
function dummies(i: number, reference: number, n: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < n; j++) if (j !== reference) out.push(j === i ? 1 : 0);
  return out;
}

function drawUser(rng: Rng): User {
  const segment = pick(rng, SEGMENT_P);
  const stage = pick(rng, STAGE_P);
  const engagement = round3(rng.normal() + [-0.3, 0.3, 0.6, -0.8][stage]!);
  const spend = round3(0.8 * rng.normal() + [-0.6, 0, 0.9, 0.3][segment]!);
  const recency = round3(stage === 3 ? 1.2 + 0.6 * rng.normal() : -0.3 + 0.7 * rng.normal());
  return {
    segment,
    stage,
    engagement,
    spend,
    recency,
    context: [
      ...dummies(segment, SEGMENT_REFERENCE, 4),
      ...dummies(stage, STAGE_REFERENCE, 4),
      engagement,
      spend,
      recency,
    ],
  };
}

function drawAction(rng: Rng, id: string): WorldAction {
  const category = pick(rng, CATEGORY_P);
  const price = round3(0.6 * rng.normal() + [-0.7, 1.0, 0.2, -0.2][category]!);
  const discount = round3(category === 0 ? 0.2 + 0.3 * rng.next() : 0.15 * rng.next());
  const novelty = round3(category === 2 ? 0.5 + 0.5 * rng.next() : rng.next());
  return {
    id,
    category,
    price,
    discount,
    novelty,
    quality: 0.25 * rng.normal(),
    priority: rng.normal(),
    features: [...dummies(category, CATEGORY_REFERENCE, 4), price, discount, novelty],
  };
}

function clickProbability(u: User, a: WorldAction): number {
  const z =
    -3.0 +
    CLICK_SEG_CAT[u.segment]![a.category]! +
    CLICK_STAGE_CAT[u.stage]![a.category]! +
    0.5 * u.engagement * (a.novelty - 0.4) +
    0.1 * u.engagement +
    0.3 * u.recency * (a.category === 0 ? 1 : 0) +
    a.quality;
  return sigmoid(z);
}

function purchaseProbability(u: User, a: WorldAction): number {
  const z =
    -2.1 -
    PRICE_SENSITIVITY[u.segment]! * a.price +
    DISCOUNT_APPETITE[u.segment]! * a.discount +
    STAGE_BUY[u.stage]! +
    (u.stage === 2 && a.category === 3 ? 0.6 : 0) +
    0.4 * u.spend +
    a.quality;
  return sigmoid(z);
}

/**
 * The world's decision point settings (dense features: contextDim = 10, actionDim = 7, so d·m = 70 and nothing is
 * hashed). Priors and exploration are an operator's choices for this kind of problem, chosen on world seeds 2–5
 * (the learning-curve benchmark reports seed 1), with these reasons:
 * - rewards are ~0.1–0.5 on average but a single outcome is 0, 1 or 6, so the noise sd σ is about 1; the prior sd of
 *   a coefficient is σ/√λ. λs = 10 lets shared (user × action feature) effects be a few tenths; λa = 1000 says an
 *   action's own deviation from what its features predict is a few hundredths, i.e. the features are informative.
 *   The engine's defaults (λ = 1: coefficients of ±1 expected) are far too loose for rewards this noisy.
 * - exploration scale 0.25 samples from the posterior with half its standard deviation; plain Thompson sampling
 *   over-explores with many arms and short horizons (Chapelle & Li 2011, "An Empirical Evaluation of Thompson
 *   Sampling", found the same multiplier best on display-ad data). ε = 0.02 keeps every propensity >= 0.001.
 */
export function worldSettings(
  variant: Pick<WorldOptions, 'rewardScale' | 'rewardNoise' | 'extraFeatures'> = {},
): DecisionPointSettingsInput {
  const scale = variant.rewardScale ?? 1;
  const noise = variant.rewardNoise ?? 0;
  const rewards = scaledRewards(scale);
  // One round's reward is a click, a purchase or both (its history logs the sum): the range covers each, and with
  // noise, four standard deviations either side.
  const spread = 4 * noise * scale;
  return {
    description: 'synthetic world (sim/world.ts): dense context and action features, no hashing',
    contextDim: BASE_CONTEXT_DIM + (variant.extraFeatures ?? 0),
    actionDim: ACTION_DIM,
    exploration: { epsilon: 0.02, scale: 0.25 },
    rewards,
    rewardBounds: { min: spread > 0 ? -spread : 0, max: rewards.click + rewards.purchase + spread },
    priors: { lambdaShared: 10, lambdaAction: 1000, noisePriorVariance: 0.25, noisePriorWeight: 10 },
  };
}

function scaledRewards(scale: number): { click: number; purchase: number } {
  return { click: WORLD_REWARDS.click * scale, purchase: WORLD_REWARDS.purchase * scale };
}

interface Resolved {
  historyRounds: number;
  rewardScale: number;
  rewardNoise: number;
  extraFeatures: number;
  actions: number;
  churnEvery: number;
  churnCount: number;
  delayShare: number;
  maxDelay: number;
}

function resolve(o: WorldOptions): Resolved {
  const r = {
    historyRounds: o.historyRounds ?? DEFAULT_HISTORY_ROUNDS,
    rewardScale: o.rewardScale ?? 1,
    rewardNoise: o.rewardNoise ?? 0,
    extraFeatures: o.extraFeatures ?? 0,
    actions: o.actions ?? 20,
    churnEvery: o.churnEvery ?? 5_000,
    churnCount: o.churnCount ?? 3,
    delayShare: o.delayShare ?? 0.3,
    maxDelay: o.maxDelay ?? 200,
  };
  const int = (name: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) throw new SimOptionError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int('seed', o.seed, 0);
  int('rounds', o.rounds, 0);
  int('historyRounds', r.historyRounds, 0);
  int('actions', r.actions, 2);
  int('churnEvery', r.churnEvery, 0);
  int('churnCount', r.churnCount, 0);
  int('maxDelay', r.maxDelay, 1);
  if (r.churnCount >= r.actions) throw new SimOptionError(`churnCount must be below actions (${r.actions})`);
  if (!(r.delayShare >= 0 && r.delayShare <= 1)) throw new SimOptionError(`delayShare must be in [0, 1]`);
  if (!(r.rewardScale > 0 && Number.isFinite(r.rewardScale)))
    throw new SimOptionError(`rewardScale must be a finite number > 0, got ${r.rewardScale}`);
  if (!(r.rewardNoise >= 0 && Number.isFinite(r.rewardNoise)))
    throw new SimOptionError(`rewardNoise must be a finite number >= 0, got ${r.rewardNoise}`);
  int('extraFeatures', r.extraFeatures, 0);
  return r;
}

/**
 * The world as streams: {@link World.history} and {@link World.online} each restart from their own seeded
 * generators, so they can be consumed lazily (the CLI writes them straight to disk) or collected
 * ({@link generateWorld}), with identical results.
 */
export class World {
  readonly settings: DecisionPointSettingsInput;
  private readonly o: Resolved;

  constructor(private readonly options: WorldOptions) {
    this.o = resolve(options);
    this.settings = worldSettings(this.o);
  }

  /**
   * The variant knobs as one object: the context a user is shown with (distractors appended) and the realized
   * reward of an outcome (scaled, noise added). Each generator gets its own, seeded by `stream`, so turning a knob
   * on leaves every other draw as it was.
   */
  private variant(stream: string) {
    const { rewardScale, rewardNoise, extraFeatures } = this.o;
    const seed = this.options.seed;
    const extraRng = extraFeatures > 0 ? createRng(`world-${stream}-extra-${seed}`) : undefined;
    const noiseRng = rewardNoise > 0 ? createRng(`world-${stream}-noise-${seed}`) : undefined;
    const rewards = scaledRewards(rewardScale);
    return {
      rewards,
      noisy: noiseRng !== undefined,
      context(u: User): number[] {
        if (extraRng === undefined) return u.context;
        const out = u.context.slice();
        for (let i = 0; i < extraFeatures; i++) out.push(round3(extraRng.normal()));
        return out;
      },
      reward(click: number, purchase: number): number {
        const r = click * rewards.click + purchase * rewards.purchase;
        return noiseRng === undefined ? r : round6(r + rewardScale * rewardNoise * noiseRng.normal());
      },
    };
  }

  private initialActions(): WorldAction[] {
    const rng = createRng(`world-actions-${this.options.seed}`);
    return Array.from({ length: this.o.actions }, (_, i) => drawAction(rng, `a${i}`));
  }

  /** Logged decisions of the skewed logging policy over the initial actions. */
  *history(): Generator<HistoryLine> {
    const actions = this.initialActions();
    const rng = createRng(`world-history-${this.options.seed}`);
    const K = actions.length;
    const logits = new Float64Array(K);
    const probs = new Float64Array(K);
    const refs = actions.map((a) => ({ id: a.id, features: a.features }));
    const v = this.variant('history');
    for (let t = 0; t < this.o.historyRounds; t++) {
      const u = drawUser(rng);
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < K; i++) {
        const a = actions[i] as WorldAction;
        const z =
          1.5 * a.priority +
          (u.stage === 2 && a.category === 3 ? 1.5 : 0) +
          (u.segment === 2 && a.category === 1 ? 1 : 0);
        logits[i] = z;
        if (z > max) max = z;
      }
      let sum = 0;
      for (let i = 0; i < K; i++) {
        probs[i] = Math.exp((logits[i] as number) - max);
        sum += probs[i] as number;
      }
      for (let i = 0; i < K; i++) probs[i] = (0.95 * (probs[i] as number)) / sum + 0.05 / K;
      const c = pick(rng, probs);
      const a = actions[c] as WorldAction;
      const click = rng.next() < clickProbability(u, a) ? 1 : 0;
      const purchase = click === 1 && rng.next() < purchaseProbability(u, a) ? 1 : 0;
      yield {
        context: v.context(u),
        actions: refs,
        chosen: a.id,
        propensity: round6(probs[c] as number),
        ...(!v.noisy && { events: { click, purchase } }),
        reward: v.reward(click, purchase),
      };
    }
  }

  /** Online rounds: every candidate's sampled outcome and expected reward, churn and delays. */
  *online(): Generator<OnlineRound> {
    const live = this.initialActions();
    const rng = createRng(`world-online-${this.options.seed}`);
    const churnRng = createRng(`world-churn-${this.options.seed}`);
    const { churnEvery, churnCount, delayShare, maxDelay } = this.o;
    let nextId = live.length;
    const introduced = new Set<string>();
    const v = this.variant('online');
    const { rewards: amounts } = v;
    for (let t = 0; t < this.options.rounds; t++) {
      if (churnEvery > 0 && t > 0 && t % churnEvery === 0) {
        for (let j = 0; j < churnCount; j++) live.splice(churnRng.int(live.length), 1);
        for (let j = 0; j < churnCount; j++) live.push(drawAction(churnRng, `a${nextId++}`));
      }
      const u = drawUser(rng);
      const rewards: Record<string, number> = {};
      const expected: Record<string, number> = {};
      const events: Record<string, Record<string, number>> = {};
      const refs: OnlineRound['actions'] = [];
      for (const a of live) {
        const pc = clickProbability(u, a);
        const pp = purchaseProbability(u, a);
        const click = rng.next() < pc ? 1 : 0;
        const purchase = click === 1 && rng.next() < pp ? 1 : 0;
        rewards[a.id] = v.reward(click, purchase);
        expected[a.id] = round6(pc * amounts.click + pc * pp * amounts.purchase);
        if (click === 1 && !v.noisy) events[a.id] = purchase === 1 ? { click, purchase } : { click };
        if (introduced.has(a.id)) refs.push({ id: a.id });
        else {
          introduced.add(a.id);
          refs.push({ id: a.id, features: a.features });
        }
      }
      const delayed = rng.next() < delayShare;
      const delay = delayed ? 1 + rng.int(maxDelay) : 0;
      yield {
        t,
        context: v.context(u),
        actions: refs,
        rewards,
        ...(!v.noisy && { events }),
        expected,
        ...(delay > 0 && { delay }),
      };
    }
  }
}

export interface GeneratedWorld {
  /** Decision point settings (valid input for `decisionPointSettingsSchema`). */
  readonly config: DecisionPointSettingsInput;
  readonly history: HistoryLine[];
  readonly online: OnlineRound[];
}

/** The whole world in memory (tests and benchmarks). */
export function generateWorld(options: WorldOptions): GeneratedWorld {
  const world = new World(options);
  return { config: world.settings, history: [...world.history()], online: [...world.online()] };
}
