import { choleskyInPlace, choleskySolveInPlace } from '../bandit/linalg.ts';
import { createRng, shuffledIndices } from '../random.ts';
import { InvalidOptionError } from './errors.ts';
import type { ActionId, Candidate, RewardModel, RewardRange, Round } from './types.ts';

/**
 * A reward model fitted K times, each time without one fold: `models[k]` never saw the rounds with `foldOf[i] === k`,
 * so it predicts those rounds out of sample. Cross-fitting keeps DR's correction term honest: a model that has
 * memorised a round's reward would cancel that round's residual.
 */
export interface CrossFittedRewardModel {
  readonly foldOf: Uint8Array;
  readonly models: readonly RewardModel[];
  readonly kind: RewardModelKind;
}

/**
 * `linear`: per-action ridge regression on [1, x], shrunk towards a pooled regression (needs dense contexts of one
 * length). `cell-mean`: per (action, position) mean reward shrunk towards the position's mean, with the shrinkage
 * strength estimated from the data (one-way random-effects ANOVA); for named or categorical contexts, which it
 * ignores. `auto` picks linear when every context is a Float64Array of the same length.
 */
export type RewardModelKind = 'linear' | 'cell-mean';

export interface RewardModelOptions {
  readonly range: RewardRange;
  readonly kind?: RewardModelKind | 'auto';
  /** Ridge penalty of the pooled regression. */
  readonly ridge?: number;
  /** How many rounds' worth of weight the pooled coefficients carry in each per-action regression. */
  readonly actionPrior?: number;
}

export interface CrossFitOptions extends RewardModelOptions {
  readonly folds?: number;
  readonly seed?: number;
}

const clamp = (v: number, r: RewardRange): number => Math.max(r.min, Math.min(v, r.max));

/** The common dense context length, or -1 when contexts are named or of differing lengths. */
export function denseDimension(rounds: readonly Round[]): number {
  let d = -1;
  for (const r of rounds) {
    if (!(r.context instanceof Float64Array)) return -1;
    if (d === -1) d = r.context.length;
    else if (r.context.length !== d) return -1;
  }
  return d;
}

function resolveKind(rounds: readonly Round[], kind: RewardModelOptions['kind']): RewardModelKind {
  if (kind === 'linear' || kind === 'cell-mean') return kind;
  return denseDimension(rounds) >= 0 ? 'linear' : 'cell-mean';
}

/** Fits one reward model on `rounds[indices[i]]`. */
export function fitRewardModel(
  rounds: readonly Round[],
  indices: ArrayLike<number>,
  options: RewardModelOptions & { kind: RewardModelKind },
): RewardModel {
  if (options.kind === 'linear') return fitLinear(rounds, indices, options);
  return fitCellMean(rounds, indices, options.range);
}

/** Fits `folds` models, each on all rounds outside its fold; the fold assignment is a seeded shuffle. */
export function crossFitRewardModel(rounds: readonly Round[], options: CrossFitOptions): CrossFittedRewardModel {
  const folds = options.folds ?? 2;
  if (!Number.isInteger(folds) || folds < 2 || folds > 255) {
    throw new InvalidOptionError(`folds must be an integer in [2, 255], got ${folds}`);
  }
  const kind = resolveKind(rounds, options.kind);
  const n = rounds.length;
  const perm = shuffledIndices(n, createRng((options.seed ?? 0) ^ 0x5eed_f01d));
  const foldOf = new Uint8Array(n);
  for (let i = 0; i < n; i++) foldOf[perm[i]!] = i % folds;
  const models: RewardModel[] = [];
  for (let k = 0; k < folds; k++) {
    const train: number[] = [];
    for (let i = 0; i < n; i++) if (foldOf[i] !== k) train.push(i);
    models.push(fitRewardModel(rounds, train, { ...options, kind }));
  }
  return { foldOf, models, kind };
}

function constantModel(value: number): RewardModel {
  return {
    predict: () => value,
    predictAll(round, out) {
      out.fill(value, 0, round.candidates.length);
    },
  };
}

function fitLinear(rounds: readonly Round[], indices: ArrayLike<number>, options: RewardModelOptions): RewardModel {
  const { range } = options;
  const ridge = options.ridge ?? 1;
  const prior = options.actionPrior ?? 10;
  if (indices.length === 0) return constantModel((range.min + range.max) / 2);
  const first = rounds[indices[0]!]!.context as Float64Array;
  const dim = first.length + 1;
  const pooledA = new Float64Array(dim * dim);
  const pooledB = new Float64Array(dim);
  const perAction = new Map<ActionId, { a: Float64Array; b: Float64Array }>();
  const z = new Float64Array(dim);
  z[0] = 1;
  for (let t = 0; t < indices.length; t++) {
    const round = rounds[indices[t]!]!;
    const x = round.context as Float64Array;
    z.set(x, 1);
    const id = round.candidates[round.chosenIndex]!.id;
    let acc = perAction.get(id);
    if (acc === undefined) {
      acc = { a: new Float64Array(dim * dim), b: new Float64Array(dim) };
      perAction.set(id, acc);
    }
    const y = round.reward;
    // Upper triangle only; mirrored before solving.
    for (let i = 0; i < dim; i++) {
      const zi = z[i]!;
      acc.b[i] = acc.b[i]! + zi * y;
      const row = i * dim;
      for (let j = i; j < dim; j++) acc.a[row + j] = acc.a[row + j]! + zi * z[j]!;
    }
  }
  for (const acc of perAction.values()) {
    for (let i = 0; i < dim * dim; i++) pooledA[i] = pooledA[i]! + acc.a[i]!;
    for (let i = 0; i < dim; i++) pooledB[i] = pooledB[i]! + acc.b[i]!;
  }
  const mirrored = (a: Float64Array, diag: number, intercept: number): Float64Array => {
    const m = new Float64Array(a);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < i; j++) m[i * dim + j] = m[j * dim + i]!;
      m[i * dim + i] = m[i * dim + i]! + (i === 0 ? intercept : diag);
    }
    return m;
  };
  // Both systems are ridge-penalised, hence positive definite: the core's Cholesky solves them (in place on the
  // fresh copies `mirrored` and the right-hand sides are).
  const solve = (a: Float64Array, b: Float64Array): Float64Array =>
    choleskySolveInPlace(choleskyInPlace(a, dim), dim, b);
  // The intercept gets a negligible penalty so the pooled fit is centred on the mean reward.
  const pooled = solve(mirrored(pooledA, ridge, 1e-9 + 1e-12 * indices.length), Float64Array.from(pooledB));
  const coefs = new Map<ActionId, Float64Array>();
  for (const [id, acc] of perAction) {
    const rhs = new Float64Array(dim);
    for (let i = 0; i < dim; i++) rhs[i] = acc.b[i]! + prior * pooled[i]!;
    coefs.set(id, solve(mirrored(acc.a, prior, prior), rhs));
  }
  const score = (beta: Float64Array, x: Float64Array): number => {
    let s = beta[0]!;
    for (let j = 1; j < dim; j++) s += beta[j]! * x[j - 1]!;
    return clamp(s, range);
  };
  // Logs usually share one candidates array across rounds; resolve its coefficients once.
  let cachedFor: readonly Candidate[] | undefined;
  let cached: Float64Array[] = [];
  return {
    predict(round, actionId) {
      return score(coefs.get(actionId) ?? pooled, round.context as Float64Array);
    },
    predictAll(round, out) {
      const cs = round.candidates;
      if (cs !== cachedFor) {
        cached = cs.map((c) => coefs.get(c.id) ?? pooled);
        cachedFor = cs;
      }
      const x = round.context as Float64Array;
      for (let i = 0; i < cs.length; i++) out[i] = score(cached[i]!, x);
    },
  };
}

const cellKey = (actionId: ActionId, position: number | undefined): string => `${actionId}\u0000${position ?? ''}`;

function fitCellMean(rounds: readonly Round[], indices: ArrayLike<number>, range: RewardRange): RewardModel {
  if (indices.length === 0) return constantModel((range.min + range.max) / 2);
  const cells = new Map<string, { n: number; sum: number; sumSq: number }>();
  const positions = new Map<number | undefined, { n: number; sum: number }>();
  let total = 0;
  let totalN = 0;
  for (let t = 0; t < indices.length; t++) {
    const round = rounds[indices[t]!]!;
    const key = cellKey(round.candidates[round.chosenIndex]!.id, round.position);
    const y = round.reward;
    const c = cells.get(key) ?? { n: 0, sum: 0, sumSq: 0 };
    c.n += 1;
    c.sum += y;
    c.sumSq += y * y;
    cells.set(key, c);
    const p = positions.get(round.position) ?? { n: 0, sum: 0 };
    p.n += 1;
    p.sum += y;
    positions.set(round.position, p);
    total += y;
    totalN += 1;
  }
  const grand = total / totalN;
  // One-way random-effects ANOVA: σ² within cells, τ² between cell means; the prior is worth σ²/τ² rounds.
  let ssWithin = 0;
  let ssBetween = 0;
  let sumNSq = 0;
  for (const c of cells.values()) {
    const m = c.sum / c.n;
    ssWithin += c.sumSq - c.sum * m;
    ssBetween += c.n * (m - grand) * (m - grand);
    sumNSq += c.n * c.n;
  }
  const nCells = cells.size;
  let strength = Number.POSITIVE_INFINITY;
  if (nCells >= 2 && totalN > nCells) {
    const sigma2 = Math.max(ssWithin, 0) / (totalN - nCells);
    const msBetween = ssBetween / (nCells - 1);
    const n0 = (totalN - sumNSq / totalN) / (nCells - 1);
    const tau2 = (msBetween - sigma2) / n0;
    if (tau2 > 0) strength = sigma2 / tau2;
  }
  const priorOf = (position: number | undefined): number => {
    const p = positions.get(position);
    return p === undefined ? grand : p.sum / p.n;
  };
  const predict = (actionId: ActionId, position: number | undefined): number => {
    const prior = priorOf(position);
    const c = cells.get(cellKey(actionId, position));
    if (c === undefined || !Number.isFinite(strength)) return clamp(prior, range);
    return clamp((c.sum + strength * prior) / (c.n + strength), range);
  };
  return {
    predict: (round, actionId) => predict(actionId, round.position),
    predictAll(round, out) {
      const cs = round.candidates;
      for (let i = 0; i < cs.length; i++) out[i] = predict(cs[i]!.id, round.position);
    },
  };
}
