/**
 * The model summary an operator reads: per action, what the engine believes and why (impressions, rewards, when it
 * last learned) and how sure it is. Estimates are the posterior mean and standard deviation of the score for the
 * empty context (bias only), i.e. the action's baseline value under the current model.
 */
import { scoreInto } from '../../core/bandit/score.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import type { ServingModel } from '../decide/model-cache.ts';

export interface ActionSummary {
  actionId: string;
  status: 'live' | 'retired';
  impressions: number;
  rewardEvents: number;
  lateEvents: number;
  rewardSum: number;
  meanReward: number | null;
  estimate: { mean: number; sd: number };
  lastLearnedAt: string | null;
}

export function summarizeModel(model: ServingModel): {
  decisionPoint: string;
  modelVersion: string;
  builtAt: string;
  noiseVariance: number;
  actions: ActionSummary[];
} {
  const post = model.posterior;
  const x = encodeFeatures({}, post.d);
  const all = Int32Array.from({ length: post.size }, (_, i) => i);
  const mean = new Float64Array(post.size);
  const sd = new Float64Array(post.size);
  if (post.size > 0) scoreInto(post, x, all, 1, mean, sd);
  const actions = post.ids.map((actionId, i): ActionSummary => {
    const s = model.stats.get(actionId);
    const n = s?.stats.n ?? 0;
    return {
      actionId,
      status: model.catalog.get(actionId)?.status ?? 'retired',
      impressions: n,
      rewardEvents: s?.rewardEvents ?? 0,
      lateEvents: s?.lateEvents ?? 0,
      rewardSum: s?.stats.sumR ?? 0,
      meanReward: n > 0 ? (s?.stats.sumR ?? 0) / n : null,
      estimate: { mean: mean[i]!, sd: sd[i]! },
      lastLearnedAt: s && s.lastLearnedAt > 0 ? new Date(s.lastLearnedAt).toISOString() : null,
    };
  });
  return {
    decisionPoint: model.decisionPoint.decisionPoint,
    modelVersion: model.version,
    builtAt: new Date(model.builtAt).toISOString(),
    noiseVariance: post.sigma2,
    actions,
  };
}
