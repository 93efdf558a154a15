/**
 * The engine's stored entities. Plain data: adapters persist them, the core reasons about them.
 */
import type { ActionStats } from './bandit/stats.ts';
import type { EligibilityRule } from './catalog/eligibility.ts';
import type { TrafficCap } from './catalog/traffic-cap.ts';
import type { ObjectiveSnapshot } from './feedback/reward.ts';
import type { DecisionPointSettings, Features } from './schemas.ts';

export interface DecisionPoint {
  decisionPoint: string;
  settings: DecisionPointSettings;
  createdAt: number;
  updatedAt: number;
  /** Incremented on every write; writes are conditional on it (optimistic concurrency). */
  version: number;
}

export type ActionStatus = 'live' | 'retired';

export interface CatalogAction {
  decisionPoint: string;
  actionId: string;
  features: Features;
  metadata?: Record<string, unknown> | undefined;
  status: ActionStatus;
  /** Serves from this instant (ms since the epoch) on; absent: at once. See `core/catalog/schedule.ts`. */
  startsAt?: number | undefined;
  /** Serves until just before this instant (ms since the epoch); absent: until retired. */
  endsAt?: number | undefined;
  /** All must hold for the action to be a candidate (see `core/catalog/eligibility.ts`); absent: everyone. */
  eligibility?: EligibilityRule[] | undefined;
  /** Caps its share of decisions while it is new (see `core/catalog/traffic-cap.ts`). */
  trafficCapWhileNew?: TrafficCap | undefined;
  createdAt: number;
  updatedAt: number;
  version: number;
}

/**
 * Name of the global policy every decision point has. Without configured objectives it learns from `rewards`; with
 * objectives it learns from Σ weight_k × reward_k and is the fallback of intent mode.
 */
export const DEFAULT_OBJECTIVE = 'default';
/** Statistics of objective k's intent model are stored under objective `intent:k`, action `*`. */
export const intentObjective = (name: string) => `intent:${name}`;
export const INTENT_ACTION = '*';

/** Length of a statistics time bucket: online learning is kept per UTC day of the decision. */
export const BUCKET_MS = 86_400_000;
export const bucketOf = (at: number): number => Math.floor(at / BUCKET_MS);

/**
 * Identity of one partial statistics item: an action's learning under one objective, from decisions made in one time
 * bucket (UTC day), written by one writer partition. Buckets let an offline model trained on decisions before a cutoff
 * bucket be combined with the online statistics from the cutoff on, without counting anything twice.
 */
export interface StatsKey {
  decisionPoint: string;
  objective: string;
  actionId: string;
  /** `bucketOf(decision time)`: a decision's impression and all its rewards land in the same bucket. */
  bucket: number;
  /** Writer partition (hash of the Kinesis shard id modulo the partition count): spreads a hot action's writes. */
  partition: number;
  /**
   * The slot the action was shown in (1 = the top; intent observations are 1). Lower slots are kept apart so the
   * model can learn their examination ratios and count them in slot-1 units (core/bandit/position.ts).
   */
  slot: number;
}

export interface StatsCounters {
  /** Feedback events that became rewards. */
  rewardEvents: number;
  /** Feedback events that arrived after their decision's attribution window and were not learned from. */
  lateEvents: number;
}

export interface StatsItem extends StatsKey {
  stats: ActionStats;
  counters: StatsCounters;
  /**
   * Per Kinesis shard, the highest sequence number whose effect this item already includes. A record at or below it is
   * skipped, so a redelivered or overlapping batch changes nothing twice. Written in the same conditional put as
   * `stats`.
   */
  highWaterMarks: Record<string, string>;
  version: number;
  updatedAt: number;
  /** When this item last learned something (milliseconds since the epoch). */
  lastLearnedAt: number;
}

/**
 * Learning-series windows (docs/ARCHITECTURE.md §10): every contribution goes to its decision's UTC minute and UTC
 * hour. Minutes show a launch or a local run as it happens and expire after `MINUTE_SERIES_RETENTION_DAYS`; hours
 * are kept.
 */
export const SERIES_RESOLUTION_MS = { minute: 60_000, hour: 3_600_000 } as const;
export type SeriesResolution = keyof typeof SERIES_RESOLUTION_MS;
export const SERIES_RESOLUTIONS = Object.keys(SERIES_RESOLUTION_MS) as SeriesResolution[];
export const MINUTE_SERIES_RETENTION_DAYS = 3;
export const seriesWindowOf = (at: number, resolution: SeriesResolution): number =>
  Math.floor(at / SERIES_RESOLUTION_MS[resolution]);

/**
 * One writer partition's share of a decision point's learning series in one minute or hour (docs/ARCHITECTURE.md §10): sums
 * over the decisions made in that window and the feedback credited to them, all additive so partitions and batches
 * add up, and written under high-water marks exactly like statistics (each contribution counted once).
 */
export interface SeriesKey {
  decisionPoint: string;
  resolution: SeriesResolution;
  /** `seriesWindowOf(decision time, resolution)`. */
  window: number;
  partition: number;
}

export interface SeriesCounters {
  /** Decisions made (slot 1 counted once per decision). */
  decisions: number;
  /** Σ (1 − propensity): the expected number of decisions where the policy would have served another action. */
  randomness: number;
  /** Decisions whose candidate count is known (records of older versions lack it): the uniform estimate's base. */
  weighted: number;
  /** Σ w over those decisions, w = (1/K) / propensity: the uniform policy's importance weight of the logged action. */
  weightSum: number;
  /** Σ r of the global reward of every counted event (all slots). */
  reward: number;
  /** Σ r·w of counted events credited to slot 1's action of decisions with known K. */
  weightedReward: number;
  /** Counted events that earned a global reward. */
  rewardEvents: number;
  /** Σ (event time − decision time) over those events, in milliseconds. */
  delayMs: number;
  /** Events after their decision's attribution window. */
  lateEvents: number;
}

export interface SeriesItem extends SeriesKey {
  counters: SeriesCounters;
  /** As on statistics items: per shard, the highest sequence number included. */
  highWaterMarks: Record<string, string>;
  /** Deliberately not `updatedAt`: series items stay out of the index models are refreshed from. */
  writtenAt: number;
}

export const emptySeriesCounters = (): SeriesCounters => ({
  decisions: 0,
  randomness: 0,
  weighted: 0,
  weightSum: 0,
  reward: 0,
  weightedReward: 0,
  rewardEvents: 0,
  delayMs: 0,
  lateEvents: 0,
});

/** The join index entry for a decision: what feedback needs to become a reward. */
/**
 * An offline-trained model: per-action statistics fitted on the log lake from decisions before `cutoffBucket`.
 * The serving model is this base plus the online statistics of buckets >= cutoffBucket.
 */
export interface BaseModelStats {
  decisionPoint: string;
  version: string;
  objective: string;
  actionId: string;
  stats: ActionStats;
  updatedAt: number;
}

/** Which offline model serves (absent: online statistics only, from the beginning). Kept with its predecessors. */
/**
 * The active-model version that means "no offline model": serving uses the online statistics of every day (cutoff 0).
 * A rollback past the first promoted model writes it; a decision point that never promoted has no active model at all,
 * which serves the same.
 */
export const ONLINE_ONLY_VERSION = 'online';

/**
 * Serving settings a retraining run chose offline and promoted with its model; each is used only where the decision
 * point's settings leave it out (the Thompson scale: `exploration.scale`; the λs and their multipliers: `priors`).
 */
export interface PromotedSettings {
  scale?: number | undefined;
  /** The multipliers on the learned λs the run chose (only where the settings leave the λ out). */
  priorScale?: PriorScale | undefined;
  /**
   * Per objective, the λs the run learned on the model's full statistics and the impressions they were learned on:
   * serving starts from them instead of fitting again (`buildServingPolicyModel`'s `previous`).
   */
  priors?: Readonly<Record<string, PromotedFit>> | undefined;
}

/**
 * Multipliers on the λs that empirical Bayes learns (core/bandit/hyperparameters.ts), as a retraining run may promote
 * them: serving multiplies the learned λs by `shared` and λa by `action`, each only where the decision point's settings
 * leave that λ out. A multiplier, not a value, so the prior still follows the data as they grow.
 */
export interface PriorScale {
  shared: number;
  action: number;
}

/** λs learned by empirical Bayes on `n` impressions. */
export interface PromotedFit {
  lambdaShared: number;
  lambdaAction: number;
  n: number;
}

export interface ActiveModel {
  decisionPoint: string;
  version: string;
  cutoffBucket: number;
  promotedAt: number;
  /** Settings chosen with the model (absent: none chosen, e.g. promoted under an explicit scale or before they existed). */
  settings?: PromotedSettings | undefined;
  /** Earlier active models, most recent first, for rollback (each with its settings, which a rollback restores). */
  history: { version: string; cutoffBucket: number; promotedAt: number; settings?: PromotedSettings | undefined }[];
  /** Item version for conditional writes. */
  itemVersion: number;
  updatedAt: number;
}

export interface StoredDecision {
  decisionId: string;
  decisionPoint: string;
  userId: string;
  at: number;
  chosen: string[];
  chosenFeatures: number[][];
  x: number[];
  propensity: number;
  /** How many candidates the decision chose among (absent on decisions stored by older versions). */
  candidateCount?: number | undefined;
  modelVersion: string;
  attributionWindowSeconds: number;
  rewards: Record<string, number>;
  objectives: ObjectiveSnapshot[];
  /** The reward range and value policy when decided (F9); absent: the defaults from `rewards` and `objectives`. */
  rewardBounds?: { min: number; max: number } | undefined;
  acceptEventValues?: boolean | undefined;
  /** `shardId/sequenceNumber` of the stream record that created this entry: only that record counts the impression. */
  claim: string;
}

export type ApiKeyScope = 'decide' | 'feedback' | 'admin';

export interface ApiKeyRecord {
  keyId: string;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  hash: string;
  name: string;
  scopes: ApiKeyScope[];
  /** When set, the key only works for these decision points. */
  decisionPoints?: string[] | undefined;
  createdAt: number;
  revokedAt?: number | undefined;
  /** When set, the key is refused from this instant on (ms since the epoch). */
  expiresAt?: number | undefined;
  /** The key's own request limit per container; absent: the function's default (see shared/app/rate-limit.ts). */
  rateLimit?: { ratePerSecond: number; burst: number } | undefined;
}

export interface DeadLetter {
  /** `shardId/sequenceNumber`: putting the same record twice writes the same entry once. */
  id: string;
  /**
   * `dead`: refused (F2c), replayable once its cause is gone; `held`: an event waiting for its decision (F2a);
   * `applied`: a held event whose decision arrived (kept as a tombstone, see `DeadLetterStore.hold`);
   * `replayed`: put back on the stream (`replayedAt`).
   */
  status: 'dead' | 'held' | 'applied' | 'replayed';
  /** Which rule refused it (`DeadCode`), or `held`. */
  code: string;
  reason: string;
  data: string;
  at: number;
  replayedAt?: number | undefined;
  /** Whose learning the record would have changed, when the updater knew it (the decision's, else the event's). */
  decisionPoint?: string | undefined;
}
