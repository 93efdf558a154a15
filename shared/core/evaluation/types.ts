import type { SlateRound } from './slate.ts';

/** Identifier of an action (an item, an offer) as the engine names it. */
export type ActionId = string;

export type FeatureValue = number | string;
/** Named features: numbers, or strings for categorical values (hashed ids in OBD). */
export type NamedFeatures = Readonly<Record<string, FeatureValue>>;
/** A dense numeric vector, or named values. */
export type Features = Float64Array | NamedFeatures;

export interface Candidate {
  readonly id: ActionId;
  readonly features?: Features;
}

/**
 * One logged decision. `chosenIndex` points into `candidates`; `propensity` is the logging policy's probability
 * of that choice (undefined when the logger did not record it). `position` is the slot the action was shown in,
 * when the log has slots (OBD: 1-3); propensity and target probabilities are then per position.
 */
export interface Round {
  readonly context: Features;
  readonly candidates: readonly Candidate[];
  readonly chosenIndex: number;
  readonly propensity?: number;
  readonly reward: number;
  readonly position?: number;
}

/** Known bounds of the reward, e.g. [0, 1] for clicks. The high-confidence bounds are only as valid as these. */
export interface RewardRange {
  readonly min: number;
  readonly max: number;
}

export interface LoggedData {
  readonly rounds: readonly Round[];
  /** Logged slates, when the log has them (each also gives one round per slot in `rounds`). */
  readonly slates?: readonly SlateRound[];
  /** Declared by the format when the reward's bounds are known a priori (OBD clicks are 0/1). */
  readonly rewardRange?: RewardRange;
}

/**
 * A policy to evaluate. `distribution` writes π(candidates[i] | round) into `out[i]` for every candidate of the
 * round; `out` is a reused buffer at least `round.candidates.length` long, so scoring allocates nothing per round.
 * The engine plugs its own model in through this interface.
 */
export interface TargetPolicy {
  readonly name: string;
  distribution(round: Round, out: Float64Array): void;
  /**
   * Optional, for slates: π(candidates[i] | the slots above hold the candidates at `above`) into `out[i]` (0 for
   * those), when the policy fills a lower slot otherwise than by its distribution over the candidates left (the
   * engine keeps slot 1's exploration floor for every slot).
   */
  nextSlot?(round: Round, above: readonly number[], out: Float64Array): void;
}

/** Predicted expected reward q̂(x, a) for DM and DR. `predictAll` is the allocation-free batch form. */
export interface RewardModel {
  predict(round: Round, actionId: ActionId): number;
  predictAll?(round: Round, out: Float64Array): void;
}

/** A two-sided interval around a point estimate, in reward units. */
export interface Estimate {
  readonly value: number;
  readonly lower: number;
  readonly upper: number;
}

/** A point estimate for which no honest interval exists (DM). */
export interface PointEstimate {
  readonly value: number;
  readonly lower: null;
  readonly upper: null;
}
