/**
 * The model summary an operator reads: per action, what the engine believes and why (impressions, rewards, when it
 * last learned) and how sure it is, per objective. An estimate is the posterior mean and standard deviation of the
 * action's score for the empty context (bias only), i.e. its baseline value under the current model; for an action
 * never shown it comes from its features alone (the shared part of the hybrid model), with a larger uncertainty.
 */

import type { HybridPosterior } from '../../core/bandit/posterior.ts';
import { scoreInto } from '../../core/bandit/score.ts';
import type { ActionStats } from '../../core/bandit/stats.ts';
import { type LifecycleStatus, lifecycleStatus } from '../../core/catalog/schedule.ts';
import {
  BUCKET_MS,
  bucketOf,
  DEFAULT_OBJECTIVE,
  type PriorScale,
  type PromotedSettings,
  type StatsItem,
} from '../../core/domain.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import { effectivePriorScale, servingExploration } from '../../core/policy/serving-policy.ts';
import type { ModelWithStats } from '../decide/model-cache.ts';

type Learned = { stats: ActionStats; rewardEvents: number; lateEvents: number; lastLearnedAt: number };

/** What one objective's model says about one action. */
export interface ObjectiveEstimate {
  /** Posterior mean of the baseline score. */
  mean: number;
  /** Posterior standard deviation of the baseline score (the uncertainty Thompson sampling explores with). */
  sd: number;
  /**
   * Whether the coverage rule serves the action with a quarter of its Thompson variance, because its own data cover
   * the contexts as the traffic does (false when the rule is off, and for a cold or narrowly shown action).
   */
  covered: boolean;
  impressions: number;
  rewardEvents: number;
  lateEvents: number;
  rewardSum: number;
  meanReward: number | null;
  lastLearnedAt: string | null;
}

export interface ActionSummary {
  actionId: string;
  status: LifecycleStatus;
  /** The `default` objective's figures, repeated at the top level for readers that know one objective. */
  impressions: number;
  rewardEvents: number;
  lateEvents: number;
  rewardSum: number;
  meanReward: number | null;
  estimate: { mean: number; sd: number };
  lastLearnedAt: string | null;
  /** Per objective (always including `default`). */
  objectives: Record<string, ObjectiveEstimate>;
}

/**
 * The serving model as the summary reads it. Objective maps are optional so the summary works with a model that has
 * only the `default` posterior; when present they list every objective, `default` included.
 */
export type SummarizedModel = Pick<
  ModelWithStats,
  'decisionPoint' | 'posterior' | 'catalog' | 'stats' | 'version' | 'builtAt'
> & {
  posteriors?: ReadonlyMap<string, HybridPosterior>;
  statsByObjective?: ReadonlyMap<string, ReadonlyMap<string, Learned>>;
  /** Impressions the global posterior learned from (for the default ε schedule). */
  decisions?: number;
  learned?: Pick<PromotedSettings, 'scale' | 'priorScale'> | undefined;
  live?: Int32Array;
  examination?: readonly number[];
};

/** What the model learned about its own settings: per objective, the priors it was built with and its noise. */
export interface LearnedSettings {
  /** ε for the live catalog (the settings' or the default schedule's) and the Thompson scale. */
  exploration: { epsilon: number; scale: number };
  /** Each slot's examination ratio, slot 1 first (core/bandit/position.ts). */
  examination: number[];
  /**
   * The multipliers on the learned λs a promoted retraining run chose (1 where none was, or the settings give the λ);
   * each objective's λs below are the learned ones times these.
   */
  priorScale: PriorScale;
  objectives: Record<
    string,
    {
      lambdaShared: number;
      lambdaAction: number;
      noisePriorVariance: number;
      noisePriorWeight: number;
      noiseVariance: number;
      /** M of the compound-event noise model (Σr²/Σr), or null when the pooled noise is used. */
      eventValue: number | null;
    }
  >;
}

function learnedSettings(model: SummarizedModel): LearnedSettings {
  const { settings } = model.decisionPoint;
  const live = model.live?.length ?? model.catalog.size;
  const objectives: LearnedSettings['objectives'] = {};
  for (const [name, post] of objectivesOf(model)) {
    objectives[name] = {
      ...post.priors,
      noiseVariance: post.sigma2,
      eventValue: post.eventValue > 0 ? post.eventValue : null,
    };
  }
  return {
    exploration: servingExploration(model, settings, Math.max(1, live)),
    examination: [...(model.examination ?? [1])],
    priorScale: effectivePriorScale(settings.priors, model.learned?.priorScale),
    objectives,
  };
}

function objectivesOf(model: SummarizedModel): [string, HybridPosterior, ReadonlyMap<string, Learned>][] {
  const posteriors = model.posteriors ?? new Map([[DEFAULT_OBJECTIVE, model.posterior]]);
  return [...posteriors].map(([name, post]) => [
    name,
    post,
    model.statsByObjective?.get(name) ?? (name === DEFAULT_OBJECTIVE ? model.stats : new Map()),
  ]);
}

/** Baseline mean and sd of the actions at `indexes` (allocates; admin path only). */
function baseline(post: HybridPosterior, indexes: Int32Array): { mean: Float64Array; sd: Float64Array } {
  const mean = new Float64Array(indexes.length);
  const sd = new Float64Array(indexes.length);
  if (indexes.length > 0) scoreInto(post, encodeFeatures({}, post.d), indexes, 1, mean, sd);
  return { mean, sd };
}

function summarize(model: SummarizedModel, ids: readonly string[], now: number): ActionSummary[] {
  const perObjective = objectivesOf(model).map(([name, post, learned]) => {
    const indexes = Int32Array.from(ids, (id) => post.index.get(id) ?? -1).filter((i) => i >= 0);
    const { mean, sd } = baseline(post, indexes);
    const byId = new Map<string, number>();
    indexes.forEach((i, p) => {
      byId.set(post.ids[i]!, p);
    });
    return { name, post, learned, mean, sd, byId };
  });
  return ids.map((actionId): ActionSummary => {
    const objectives: Record<string, ObjectiveEstimate> = {};
    for (const o of perObjective) {
      const p = o.byId.get(actionId);
      const s = o.learned.get(actionId);
      const n = s?.stats.n ?? 0;
      objectives[o.name] = {
        mean: p === undefined ? Number.NaN : o.mean[p]!,
        sd: p === undefined ? Number.NaN : o.sd[p]!,
        covered: p !== undefined && o.post.explore[o.post.index.get(actionId)!]! < 1,
        impressions: n,
        rewardEvents: s?.rewardEvents ?? 0,
        lateEvents: s?.lateEvents ?? 0,
        rewardSum: s?.stats.sumR ?? 0,
        meanReward: n > 0 ? (s?.stats.sumR ?? 0) / n : null,
        lastLearnedAt: s && s.lastLearnedAt > 0 ? new Date(s.lastLearnedAt).toISOString() : null,
      };
    }
    const d = objectives[DEFAULT_OBJECTIVE]!;
    const action = model.catalog.get(actionId);
    return {
      actionId,
      status: action ? lifecycleStatus(action, now) : 'retired',
      impressions: d.impressions,
      rewardEvents: d.rewardEvents,
      lateEvents: d.lateEvents,
      rewardSum: d.rewardSum,
      meanReward: d.meanReward,
      estimate: { mean: d.mean, sd: d.sd },
      lastLearnedAt: d.lastLearnedAt,
      objectives,
    };
  });
}

export function summarizeModel(
  model: SummarizedModel,
  now: number = Date.now(),
): {
  decisionPoint: string;
  modelVersion: string;
  builtAt: string;
  noiseVariance: number;
  learned: LearnedSettings;
  actions: ActionSummary[];
} {
  return {
    decisionPoint: model.decisionPoint.decisionPoint,
    modelVersion: model.version,
    builtAt: new Date(model.builtAt).toISOString(),
    noiseVariance: model.posterior.sigma2,
    learned: learnedSettings(model),
    actions: summarize(model, model.posterior.ids, now),
  };
}

/** The summary of one action, or undefined when the serving model does not know it yet (written after its refresh). */
export function summarizeAction(
  model: SummarizedModel,
  actionId: string,
  now: number = Date.now(),
): ActionSummary | undefined {
  if (!model.posterior.index.has(actionId)) return undefined;
  return summarize(model, [actionId], now)[0];
}

/**
 * Each action's share of recent traffic: its impressions from decisions of today and yesterday (UTC; statistics are
 * kept per day of decision), summed over writer partitions, from the `default` policy's items (one impression per
 * decision and chosen action), beside the total over all actions.
 */
export function recentImpressions(
  items: readonly Pick<StatsItem, 'objective' | 'actionId' | 'bucket' | 'stats'>[],
  now: number,
): { since: string; total: number; byAction: Record<string, number> } {
  const from = bucketOf(now) - 1;
  const byAction: Record<string, number> = {};
  let total = 0;
  for (const item of items) {
    if (item.objective !== DEFAULT_OBJECTIVE || item.bucket < from) continue;
    byAction[item.actionId] = (byAction[item.actionId] ?? 0) + item.stats.n;
    total += item.stats.n;
  }
  return { since: new Date(from * BUCKET_MS).toISOString(), total, byAction };
}
